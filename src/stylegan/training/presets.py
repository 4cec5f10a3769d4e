"""Training presets: one table of named settings, and :func:`make_config` to build a config.

``make_config("paper256")`` gives the settings of NVIDIA's ``--cfg=paper256``; any field can be
overridden, e.g. ``make_config("small", total_kimg=50, batch_size=16)``. The official presets
mirror ``cfg_specs`` of stylegan2-ada-pytorch's ``train.py``; ``tiny`` and ``small`` are ours,
sized for a CPU.
"""

from __future__ import annotations

import math
from typing import Any

from stylegan.errors import StyleGANError
from stylegan.networks.presets import auto_channel_base, get_preset
from stylegan.training.config import TrainingConfig, _check_fields
from stylegan.training.config_checks import _check_resolution

# The one table of training presets. Official rows follow stylegan2-ada-pytorch's cfg_specs for
# one process holding the whole batch (kimg, batch, lr, gamma, ema, ramp); every row starts from
# the TrainingConfig defaults, then the architecture of the network preset of the same
# name (stylegan.networks.presets: generator, widths, mapping depth, mbstd group, fp16 and
# clamp), then the row. "auto" fills in the fields marked AUTO from the resolution (see
# auto_settings).
AUTO = "derived from the resolution"
_CPU_NETS = dict(metrics=())  # (no fp16 and no clamp: their network rows say so)
PRESETS: dict[str, dict[str, Any]] = {
    "auto": dict(
        total_kimg=25000, batch_size=AUTO, mbstd_group_size=AUTO, channel_base=AUTO,
        g_lr=AUTO, d_lr=AUTO, r1_gamma=AUTO, ema_kimg=AUTO, ema_rampup=0.05,
    ),
    "stylegan2": dict(
        total_kimg=25000, batch_size=32, g_lr=0.002, d_lr=0.002, r1_gamma=10.0, ema_kimg=10.0,
        ema_rampup=None,
    ),
    "paper256": dict(
        total_kimg=25000, batch_size=64, g_lr=0.0025, d_lr=0.0025, r1_gamma=1.0, ema_kimg=20.0,
        ema_rampup=None,
    ),
    "paper512": dict(
        total_kimg=25000, batch_size=64, g_lr=0.0025, d_lr=0.0025, r1_gamma=0.5, ema_kimg=20.0,
        ema_rampup=None,
    ),
    "paper1024": dict(
        total_kimg=25000, batch_size=32, g_lr=0.002, d_lr=0.002, r1_gamma=2.0, ema_kimg=10.0,
        ema_rampup=None,
    ),
    "cifar": dict(
        total_kimg=100000, batch_size=64, g_lr=0.0025, d_lr=0.0025, r1_gamma=0.01, ema_kimg=500.0,
        ema_rampup=0.05, pl_weight=0.0, style_mixing_prob=0.0,
    ),
    # StyleGAN3 (the stylegan3 repository's train.py): mapping depth 2, no path length or style
    # mixing regularisation, G lr 0.0025, EMA ramp-up; R doubles the width, uses 1x1 convs and
    # radial filters, and blurs D's inputs for the first 200 kimg (at batch 32). The official
    # script has no default gamma (--gamma is required); 8.2 is its AFHQv2-512 example.
    "stylegan3-t": dict(
        total_kimg=25000, batch_size=32, g_lr=0.0025, d_lr=0.002, r1_gamma=8.2,
        ema_kimg=10.0, ema_rampup=0.05, pl_weight=0.0, style_mixing_prob=0.0,
    ),
    "stylegan3-r": dict(
        total_kimg=25000, batch_size=32, g_lr=0.0025, d_lr=0.002, r1_gamma=8.2,
        ema_kimg=10.0, ema_rampup=0.05, pl_weight=0.0, style_mixing_prob=0.0,
        blur_init_sigma=10.0, blur_fade_kimg=200.0,
    ),
    # The original StyleGAN on FFHQ (NVlabs/stylegan train.py, 8 GPUs; batches are global):
    # progressive growing from 8 px, 600 kimg per fade and per stable phase, batch and
    # learning rate per resolution, non-saturating loss with R1 (gamma 10) on every step, style
    # mixing 0.9, G_ema half-life 10 kimg, no path length regularisation.
    "stylegan1": dict(
        total_kimg=25000, batch_size=32, g_lr=0.001, d_lr=0.001, r1_gamma=10.0,
        d_reg_interval=None, g_reg_interval=None, pl_weight=0.0, ema_kimg=10.0, ema_rampup=None,
        aug="noaug", lod_initial_resolution=8, lod_training_kimg=600,
        lod_transition_kimg=600,
        batch_per_resolution={4: 512, 8: 256, 16: 128, 32: 64, 64: 32},
        lr_per_resolution={128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003},
    ),
    # CPU scale. tiny: seconds per kimg, for tests. small: learns 32 px emoji on a laptop CPU.
    "tiny": dict(
        total_kimg=1, batch_size=4, g_lr=0.0025, d_lr=0.0025, r1_gamma=0.05, ema_kimg=0.5,
        ema_rampup=0.05, aug="noaug", kimg_per_tick=0.1, snapshot_ticks=5,
        keep_snapshots=2, grid_size=(4, 4), **_CPU_NETS,
    ),
    # small at 32 px: 64 maps at 32x32, 128 below; ~60 img/s on 2 cores, ~110 kimg in 30 min.
    "small": dict(
        total_kimg=120, batch_size=32, g_lr=0.0025, d_lr=0.0025, r1_gamma=0.25, ema_kimg=10.0,
        ema_rampup=0.05, kimg_per_tick=4, snapshot_ticks=5, image_snapshot_ticks=1,
        keep_snapshots=3, **_CPU_NETS,
    ),
    # The original StyleGAN at CPU scale: 32 px emoji grown from 8 px, 20 kimg per phase.
    "stylegan1-small": dict(
        total_kimg=120, batch_size=32, g_lr=0.0025, d_lr=0.0025,
        r1_gamma=1.0, d_reg_interval=None, g_reg_interval=None, pl_weight=0.0, ema_kimg=2.0,
        ema_rampup=None, aug="noaug", lod_initial_resolution=8, lod_training_kimg=20,
        lod_transition_kimg=20, batch_per_resolution={8: 64, 16: 32},
        kimg_per_tick=4, snapshot_ticks=5, image_snapshot_ticks=1, keep_snapshots=3,
        **_CPU_NETS,
    ),
}  # fmt: skip


# TrainingConfig field -> NetworkPreset field, for the architecture a training preset takes from
# the network preset of its name.
_ARCHITECTURE_FIELDS = {
    "generator": "generator",
    "z_dim": "z_dim",
    "w_dim": "w_dim",
    "map_depth": "map_depth",
    "channel_base": "channel_base",
    "channel_max": "channel_max",
    "mbstd_group_size": "mbstd_group_size",
    "num_fp16_res": "num_fp16_res",
    "conv_clamp": "conv_clamp",
    "g_architecture": "g_architecture",
    "d_architecture": "d_architecture",
}


def architecture_options(preset: str) -> dict[str, Any]:
    """The training options that the network preset ``preset`` fixes (one table for both)."""
    spec = get_preset(preset)
    values = {ours: getattr(spec, theirs) for ours, theirs in _ARCHITECTURE_FIELDS.items()}
    if values["channel_base"] is None:  # derived from the resolution (auto)
        del values["channel_base"]
    return values


def auto_settings(resolution: int, num_gpus: int = 1) -> dict[str, Any]:
    """The ``auto`` preset's formulas (ADA): batch, mbstd group, width, lr, gamma and EMA."""
    batch = max(min(num_gpus * min(4096 // resolution, 32), 64), num_gpus)
    lr = 0.002 if resolution >= 1024 else 0.0025
    return dict(
        batch_size=batch,
        mbstd_group_size=min(batch // num_gpus, 4),
        channel_base=auto_channel_base(resolution),
        g_lr=lr,
        d_lr=lr,
        r1_gamma=0.0002 * resolution**2 / batch,
        ema_kimg=batch * 10 / 32,
    )


# R1 gamma of the stylegan3 repository's example configurations, by resolution: FFHQ-U 256
# (2), AFHQv2 512 (8.2), FFHQ / MetFaces-U 1024 (32, 6.6: the larger dataset's value); the
# official script requires --gamma, we take the nearest of these unless one is given.
STYLEGAN3_GAMMA = {256: 2.0, 512: 8.2, 1024: 32.0}


def stylegan3_gamma(resolution: int) -> float:
    """Default R1 gamma of the StyleGAN3 presets for ``resolution`` (nearest official example,
    scaled with the pixel count below 256 as the gamma heuristic of ADA does)."""
    if resolution < 256:
        return STYLEGAN3_GAMMA[256] * (resolution / 256) ** 2
    nearest = min(STYLEGAN3_GAMMA, key=lambda r: abs(math.log2(r / resolution)))
    return STYLEGAN3_GAMMA[nearest]


def make_config(
    preset: str = "stylegan2", resolution: int | None = None, **overrides: Any
) -> TrainingConfig:
    """A :class:`TrainingConfig` from a named preset, with any field overridden.

    ``auto`` derives its hyperparameters from ``resolution`` (the dataset's; give it explicitly).
    """
    if preset not in PRESETS:
        raise StyleGANError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    _check_fields(overrides)
    values = {**architecture_options(preset), **PRESETS[preset]}
    if preset == "auto":
        if resolution is None:
            raise StyleGANError(
                "the 'auto' preset derives its settings from the image resolution: "
                "give resolution=... (the CLI reads it from the dataset)"
            )
        _check_resolution(resolution)
        values.update(auto_settings(resolution))
    if values.get("generator", "stylegan2").startswith("stylegan3") and resolution is not None:
        _check_resolution(resolution)
        values["r1_gamma"] = stylegan3_gamma(resolution)
    values.update(overrides)
    if resolution is not None:
        values["resolution"] = resolution
    return TrainingConfig(preset=preset, **values)
