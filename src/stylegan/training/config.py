"""Training configuration: one dataclass, one table of named presets.

``make_config("paper256")`` gives the settings of NVIDIA's ``--cfg=paper256``; any field can be
overridden, e.g. ``make_config("small", total_kimg=50, batch_size=16)``. The official presets
mirror ``cfg_specs`` of stylegan2-ada-pytorch's ``train.py``; ``tiny`` and ``small`` are ours,
sized for a CPU. The whole config is saved as ``training_options.json`` in every run folder.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import numbers
import types
import typing
from pathlib import Path
from typing import Any

from stylegan.errors import StyleGANError
from stylegan.networks.presets import GENERATORS, auto_channel_base, get_preset

LOSSES = ("logistic", "wgan-gp")
AUGMENTATIONS = ("noaug", "ada", "fixed", "diffaugment")
PRECISIONS = ("fp16", "bf16", "fp32")
ARCHITECTURES = ("orig", "skip", "resnet")
TRAINING_DEVICES = ("auto", "cpu", "cuda", "mps")


def _augpipes() -> tuple[str, ...]:
    from stylegan.training.ada import AUGPIPE_SPECS  # torch-heavy: only when asked

    return tuple(AUGPIPE_SPECS)


def flag(default: Any, *names: str, help: str, **spec: Any) -> Any:
    """A field that is also a ``stylegan train`` flag. The CLI builds the option from this
    metadata and the field's type: ``names`` (NVIDIA's where they exist, aliases after),
    ``help``, and optionally ``metavar``, ``min``/``max`` (+ ``min_open``/``max_open``) and
    ``choices`` (a tuple, or a function giving one, for tables defined later)."""
    return dataclasses.field(default=default, metadata={"flags": names, "help": help, **spec})


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Everything that defines a StyleGAN (1, 2 or 3) training run.

    A config checks itself when it is made (also through :meth:`from_dict` and
    :meth:`replace`): settings that cannot train raise :class:`StyleGANError` at once.
    """

    preset: str = flag(
        "stylegan2",
        "--cfg",
        help="Preset. Default: auto on a GPU, small on a CPU.",
        choices=lambda: tuple(PRESETS),
    )

    # Data.
    # zip or folder in NVIDIA's layout; None = bundled twemoji sample
    data: str | None = flag(
        None, "--data", metavar="ZIP|DIR", help="Training images. Default: the bundled emoji."
    )
    resolution: int | None = None  # None = the dataset's own resolution
    cond: bool = flag(False, "--cond", help="Train on the dataset's class labels.")
    mirror: bool = flag(False, "--mirror", help="Add x-flipped copies of the images.")
    max_size: int | None = flag(
        None, "--subset", metavar="INT", min=1, help="Train on a random subset of INT images."
    )

    # Networks (official names: mapping_kwargs.num_layers, channel_base, ...).
    # stylegan1 (its own D), stylegan2, stylegan3-t or stylegan3-r (these two with StyleGAN2's D)
    generator: str = "stylegan2"
    z_dim: int = 512
    w_dim: int = 512
    map_depth: int = flag(
        8, "--map-depth", "--map", metavar="INT", min=1, help="Mapping network depth."
    )
    channel_base: int = flag(32768, "--cbase", metavar="INT", min=1, help="Capacity multiplier.")
    channel_max: int = flag(512, "--cmax", metavar="INT", min=1, help="Max. feature maps.")
    mbstd_group_size: int = flag(
        4, "--mbstd-group", metavar="INT", min=1, help="Minibatch-std group size."
    )
    # Freeze-D: keep D's first N layers fixed (transfer learning)
    freezed: int = flag(
        0,
        "--freezed",
        metavar="INT",
        min=0,
        help="Freeze-D: keep the first INT discriminator layers fixed (transfer learning).",
    )
    g_architecture: str = "skip"
    d_architecture: str = "resnet"
    num_fp16_res: int = 4  # blocks at the N highest resolutions run in `precision` on CUDA
    conv_clamp: float | None = 256
    # of those blocks on CUDA: fp16 (NVIDIA's), bf16 or fp32; CPU: fp32
    precision: str = flag(
        "fp16",
        "--precision",
        choices=PRECISIONS,
        help="Mixed precision of the highest-resolution blocks on CUDA (default fp16; CPU: fp32).",
    )

    # Optimisers: Adam with betas (0, 0.99); lazily regularised nets get lr and betas corrected.
    batch_size: int = flag(
        32,
        "--batch",
        metavar="INT",
        min=1,
        help="Total batch size (at every resolution, for stylegan1's growing too).",
    )  # the global batch (all processes together)
    # images per forward pass and process; None = batch / processes
    batch_gpu: int | None = flag(
        None,
        "--batch-gpu",
        metavar="INT",
        min=1,
        help="Images per forward pass and process; smaller than batch / processes accumulates "
        "gradients over several passes (default: batch / processes).",
    )
    g_lr: float = flag(0.002, "--glr", metavar="FLOAT", min=0, help="G learning rate.")
    d_lr: float = flag(0.002, "--dlr", metavar="FLOAT", min=0, help="D learning rate.")
    adam_betas: tuple[float, float] = (0.0, 0.99)
    adam_eps: float = 1e-8

    # Losses and regularisation (non-saturating logistic loss for both networks).
    r1_gamma: float = flag(10.0, "--gamma", metavar="FLOAT", min=0, help="R1 weight.")
    d_reg_interval: int | None = 16  # lazy R1 every N D steps; None = every step, no correction
    pl_weight: float = 2.0  # path length regularisation; 0 = off
    g_reg_interval: int | None = 4  # lazy PL every N G steps; None = every step, no correction
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    style_mixing_prob: float = 0.9
    blur_init_sigma: float = 0.0  # blur D's inputs by this sigma (px) at first (StyleGAN3-R) ...
    blur_fade_kimg: float = 0.0  # ... fading linearly to none over this many kimg
    # Augmentation of everything D sees (ADA, NVIDIA's --aug/--augpipe/--target/--p), or
    # DiffAugment with `diffaugment` as its policy.
    aug: str = flag(
        "ada",
        "--aug",
        choices=AUGMENTATIONS,
        help="Augment what D sees: adaptively (ADA, default for StyleGAN2/3), at a fixed --p, "
        "with DiffAugment, or not at all.",
    )
    augpipe: str = flag(
        "bgc", "--augpipe", choices=_augpipes, help="ADA augmentations (default bgc)."
    )
    ada_target: float | None = flag(
        None,
        "--target",
        metavar="FLOAT",
        min=0,
        max=1,
        min_open=True,
        max_open=True,
        help="ADA target for E[sign(D(real))] (default 0.6).",
    )  # None = 0.6
    augment_p: float | None = flag(
        None,
        "--p",
        metavar="FLOAT",
        min=0,
        max=1,
        help="Augmentation probability: fixed with --aug=fixed, the starting value with ada.",
    )
    ada_kimg: float = 500  # ADA speed: p can go from 0 to 1 in this many kimg
    ada_interval: int = 4  # steps between ADA adjustments
    diffaugment: str = flag(
        "color,translation,cutout",
        "--diffaugment",
        metavar="POLICY",
        help="DiffAugment policy (default color,translation,cutout).",
    )
    # non-saturating logistic (+ R1 with r1_gamma), or "wgan-gp"
    loss: str = flag(
        "logistic",
        "--loss",
        choices=LOSSES,
        help="Non-saturating logistic loss with R1 (default), or WGAN-GP (StyleGAN 1 / ProGAN).",
    )
    wgan_lambda: float = 10.0  # WGAN-GP: weight of the gradient penalty ...
    wgan_target: float = 1.0  # ... around this gradient norm ...
    wgan_epsilon: float = 0.001  # ... plus this times D(real)^2 to keep logits near zero

    # Progressive growing (StyleGAN 1): start at this resolution (None = full size from the
    # start), fade each new resolution in over lod_transition_kimg, then train it for
    # lod_training_kimg; batch and learning rate per resolution override batch_size / g_lr, d_lr.
    lod_initial_resolution: int | None = flag(
        None,
        "--lod-initial",
        metavar="RES",
        min=4,
        help="Progressive growing (stylegan1): start at this resolution.",
    )
    lod_training_kimg: float = flag(
        600.0,
        "--lod-training-kimg",
        metavar="KIMG",
        min=0,
        help="Progressive growing: kimg at each resolution once faded in.",
    )
    lod_transition_kimg: float = flag(
        600.0,
        "--lod-transition-kimg",
        metavar="KIMG",
        min=0,
        help="Progressive growing: kimg to fade in each new resolution.",
    )
    batch_per_resolution: dict[int, int] | None = None
    lr_per_resolution: dict[int, float] | None = None

    # Generator EMA: half-life ema_kimg; with ema_rampup the half-life is at most rampup * kimg.
    ema_kimg: float = flag(10.0, "--ema-kimg", metavar="KIMG", min=0, help="G_ema half-life.")
    ema_rampup: float | None = None

    # Schedule and outputs.
    total_kimg: float = flag(
        25000,
        "--kimg",
        metavar="KIMG",
        min=0,
        min_open=True,
        help="Training length in thousands of real images.",
    )
    # also stop (with a snapshot) after this long in one session
    max_minutes: float | None = flag(
        None,
        "--minutes",
        metavar="MIN",
        min=0,
        min_open=True,
        help="Also stop after this many minutes (a resumable snapshot is written).",
    )
    kimg_per_tick: float = flag(
        4, "--tick", metavar="KIMG", min=0, min_open=True, help="Log a progress line every KIMG."
    )
    # network snapshot every N ticks; None = only at the end
    snapshot_ticks: int | None = flag(
        50,
        "--snap",
        metavar="TICKS",
        min=1,
        help="Network snapshot (and sample grid) every TICKS ticks.",
    )
    # sample grid every N ticks; None = with snapshots
    image_snapshot_ticks: int | None = flag(
        None,
        "--img-snap",
        metavar="TICKS",
        min=1,
        help="Sample grid every TICKS ticks. Default: with --snap.",
    )
    # how many network snapshots to keep (the newest always survives)
    keep_snapshots: int = flag(
        5,
        "--keep",
        metavar="N",
        min=1,
        help="Network snapshots to keep (the newest always stays).",
    )
    grid_size: tuple[int, int] | None = None  # (columns, rows) of sample grids; None = by res
    # e.g. ("fid50k_full",) or offline ("fid_effnet5k",)
    metrics: tuple[str, ...] = flag(
        (),
        "--metrics",
        metavar="LIST",
        help="Metrics during training, e.g. fid50k_full, or fid_effnet5k offline "
        "(default none = off).",
    )
    # compute metrics every N ticks; None = with snapshots
    metrics_ticks: int | None = flag(
        None,
        "--metrics-every",
        metavar="TICKS",
        min=1,
        help="Compute the metrics every N ticks (default: with each network snapshot).",
    )

    # Runtime.
    random_seed: int = flag(0, "--seed", metavar="INT", min=0, help="Random seed.")
    device: str = flag(
        "auto", "--device", choices=TRAINING_DEVICES, help="Where to train (default auto)."
    )
    # DataLoader worker processes; 0 = load in the training process
    num_workers: int = flag(
        0, "--workers", metavar="INT", min=0, help="DataLoader worker processes."
    )
    max_nonfinite_steps: int = 20  # abort after this many steps in a row with non-finite losses

    def __post_init__(self):
        for name in ("adam_betas", "grid_size", "metrics"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        # JSON turns the per-resolution tables' keys into strings; keep them as ints.
        for name in ("batch_per_resolution", "lr_per_resolution"):
            value = getattr(self, name)
            if isinstance(value, dict):
                try:
                    table = {int(k): v for k, v in value.items()}
                except (TypeError, ValueError):
                    raise StyleGANError(
                        f"{name} needs resolutions as keys, e.g. {{8: 256, 16: 128}}; got {value}"
                    ) from None
                object.__setattr__(self, name, table)
        _check_types(self)
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (tuples become lists)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        """Rebuild from :meth:`to_dict` output (e.g. a run folder's ``training_options.json``)."""
        data = dict(data)
        data.pop("derived", None)
        _check_fields(data)
        return cls(**data)

    def replace(self, **changes: Any) -> TrainingConfig:
        """A copy with some fields changed, checked again."""
        _check_fields(changes)
        return dataclasses.replace(self, **changes)

    @property
    def g_lazy_ratio(self) -> float:
        """c = k / (k + 1) for the G optimiser (1 without lazy regularisation)."""
        return lazy_ratio(self.g_reg_interval)

    @property
    def d_lazy_ratio(self) -> float:
        """c = k / (k + 1) for the D optimiser (1 without lazy regularisation)."""
        return lazy_ratio(self.d_reg_interval)


def lazy_ratio(interval: int | None) -> float:
    """Lazy regularisation's ``c = k / (k + 1)`` for a reg interval ``k`` (1 without it): ``k + 1``
    optimiser steps come out of every ``k`` minibatches (StyleGAN2 paper, appendix B)."""
    return 1.0 if interval is None else interval / (interval + 1)


FIELDS = tuple(f.name for f in dataclasses.fields(TrainingConfig))


@functools.cache
def field_kinds() -> dict[str, tuple[type, bool]]:
    """``{field: (kind, optional)}`` of the scalar fields (int, float, bool, str), read from the
    annotations, so a type check (and the CLI's option types) follow the dataclass."""
    kinds = {}
    for name, hint in typing.get_type_hints(TrainingConfig).items():
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        optional = type(None) in args
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and rest[0] in (int, float, bool, str):
            kinds[name] = (rest[0], optional)
    return kinds


_KIND_NAMES = {int: "an integer", float: "a finite number", bool: "true or false", str: "a string"}


def _is_kind(value: Any, kind: type) -> bool:
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if kind is int:
        return isinstance(value, numbers.Integral)
    if kind is float:
        return isinstance(value, numbers.Real) and math.isfinite(value)
    return isinstance(value, kind)


def _check_types(config: TrainingConfig) -> None:
    """Scalar fields hold their annotated kind: JSON and the Python API can pass anything."""
    for name, (kind, optional) in field_kinds().items():
        value = getattr(config, name)
        if not (value is None and optional) and not _is_kind(value, kind):
            expected = _KIND_NAMES[kind] + (" or None" if optional else "")
            raise StyleGANError(f"training option {name} must be {expected}, got {value!r}")


# The one table of training presets. Official rows follow stylegan2-ada-pytorch's cfg_specs for
# one process holding the whole batch (kimg, batch, lr, gamma, ema, ramp); every row starts from
# the TrainingConfig defaults above, then the architecture of the network preset of the same
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


def load_training_options(run_dir: str | Path) -> TrainingConfig:
    """The config a run was started with, read from its ``training_options.json``."""
    path = Path(run_dir) / "training_options.json"
    if not path.is_file():
        raise StyleGANError(f"{run_dir} is not a training run folder (no training_options.json)")
    return TrainingConfig.from_dict(json.loads(path.read_text()))


def _check_fields(values: dict[str, Any]) -> None:
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise StyleGANError(
            f"unknown training option(s) {unknown}; known options are: {', '.join(FIELDS)}"
        )


def _check_resolution(resolution: Any) -> None:
    if not isinstance(resolution, int) or resolution < 4 or resolution & (resolution - 1):
        raise StyleGANError(f"resolution must be a power of two >= 4, got {resolution!r}")


def micro_batch_size(config: TrainingConfig, world_size: int, batch: int) -> int:
    """Images per forward pass and process for a global ``batch``: ``batch_gpu``, capped at
    the process's share ``batch / world_size`` (the default)."""
    share = max(batch // world_size, 1)
    return min(config.batch_gpu or share, share)


def check_batch_split(config: TrainingConfig, world_size: int = 1) -> None:
    """Every global batch of the run (each resolution's too, when growing) must split into
    ``world_size`` processes x whole micro-batches, each holding whole minibatch-std groups."""
    c = config
    batches = {c.batch_size, *(c.batch_per_resolution or {}).values()}
    for batch in sorted(int(b) for b in batches):
        micro = micro_batch_size(c, world_size, batch)
        if batch % (world_size * micro) != 0:
            processes = f"{world_size} process(es) x " if world_size > 1 else ""
            raise StyleGANError(
                f"batch {batch} does not split into {processes}micro-batches of {micro} "
                f"(--batch-gpu): choose --batch as a multiple of {world_size * micro} or a "
                f"--batch-gpu that divides {batch // world_size}"
            )
        if micro < c.mbstd_group_size or micro % c.mbstd_group_size != 0:
            raise StyleGANError(
                f"micro-batches of {micro} images (--batch-gpu, at most batch {batch} / "
                f"{world_size} process(es)) cannot hold whole minibatch-std groups of "
                f"{c.mbstd_group_size}: choose --batch-gpu as a multiple of "
                f"{c.mbstd_group_size} or lower --mbstd-group"
            )


def _validate(config: TrainingConfig) -> None:
    """Raise :class:`StyleGANError` for settings that cannot train (run by ``__post_init__``)."""
    c = config
    if c.resolution is not None:
        _check_resolution(c.resolution)
    positive_ints = ("batch_size", "mbstd_group_size", "z_dim", "w_dim", "channel_base")
    for name in positive_ints + ("channel_max", "pl_batch_shrink", "keep_snapshots"):
        value = getattr(c, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise StyleGANError(f"{name} must be a positive integer, got {value!r}")
    if c.map_depth < 1:
        raise StyleGANError(f"map_depth must be at least 1, got {c.map_depth}")
    if c.batch_size % c.mbstd_group_size != 0:
        raise StyleGANError(
            f"batch size {c.batch_size} is not divisible by the minibatch-std group size "
            f"{c.mbstd_group_size}: choose a batch that is a multiple of it (or change "
            "--mbstd-group)"
        )
    if c.pl_weight > 0 and c.batch_size // c.pl_batch_shrink < 1:
        raise StyleGANError(
            f"batch size {c.batch_size} is too small for pl_batch_shrink {c.pl_batch_shrink}"
        )
    for name in ("g_reg_interval", "d_reg_interval", "snapshot_ticks", "image_snapshot_ticks"):
        value = getattr(c, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise StyleGANError(f"{name} must be a positive integer or None, got {value!r}")
    for name in ("g_lr", "d_lr", "r1_gamma", "pl_weight", "ema_kimg", "adam_eps"):
        value = getattr(c, name)
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise StyleGANError(f"{name} must be a non-negative number, got {value!r}")
    if not 0 <= c.style_mixing_prob <= 1:
        raise StyleGANError(f"style_mixing_prob must lie in [0, 1], got {c.style_mixing_prob}")
    if not 0 <= c.pl_decay <= 1:
        raise StyleGANError(f"pl_decay must lie in [0, 1], got {c.pl_decay}")
    if len(c.adam_betas) != 2 or not all(0 <= b < 1 for b in c.adam_betas):
        raise StyleGANError(f"adam_betas must be two numbers in [0, 1), got {c.adam_betas}")
    if c.ema_rampup is not None and c.ema_rampup <= 0:
        raise StyleGANError(f"ema_rampup must be positive or None, got {c.ema_rampup}")
    if not c.total_kimg > 0 or not c.kimg_per_tick > 0:
        raise StyleGANError("total_kimg and kimg_per_tick must be positive")
    if c.max_size is not None and c.max_size < 1:
        raise StyleGANError(f"max_size must be at least 1, got {c.max_size}")
    if c.num_workers < 0:
        raise StyleGANError(f"num_workers must be >= 0, got {c.num_workers}")
    if c.max_nonfinite_steps < 1:
        raise StyleGANError(f"max_nonfinite_steps must be >= 1, got {c.max_nonfinite_steps}")
    if c.grid_size is not None and (len(c.grid_size) != 2 or min(c.grid_size) < 1):
        raise StyleGANError(f"grid_size must be (columns, rows), got {c.grid_size}")
    if c.generator not in GENERATORS:
        raise StyleGANError(
            f"unknown generator {c.generator!r}: choose one of {', '.join(GENERATORS)}"
        )
    if c.batch_gpu is not None and (
        not isinstance(c.batch_gpu, int) or isinstance(c.batch_gpu, bool) or c.batch_gpu < 1
    ):
        raise StyleGANError(f"batch_gpu must be a positive integer or None, got {c.batch_gpu!r}")
    if not isinstance(c.freezed, int) or c.freezed < 0:
        raise StyleGANError(f"freezed must be a whole number >= 0, got {c.freezed!r}")
    from stylegan.training.ada import AUGPIPE_SPECS
    from stylegan.training.diffaugment import parse_policy

    if c.aug not in AUGMENTATIONS:
        raise StyleGANError(f"aug must be noaug, ada, fixed or diffaugment, got {c.aug!r}")
    if c.augpipe not in AUGPIPE_SPECS:
        raise StyleGANError(
            f"unknown augpipe {c.augpipe!r}: choose one of {', '.join(AUGPIPE_SPECS)}"
        )
    if c.aug == "fixed" and c.augment_p is None:
        raise StyleGANError("--aug=fixed needs --p (the fixed augmentation probability)")
    if c.augment_p is not None and not 0 <= c.augment_p <= 1:
        raise StyleGANError(f"--p must lie in [0, 1], got {c.augment_p}")
    if c.ada_target is not None and (c.aug != "ada" or not 0 < c.ada_target < 1):
        raise StyleGANError("--target needs --aug=ada and must lie in (0, 1)")
    if c.ada_kimg <= 0 or c.ada_interval < 1:
        raise StyleGANError("ada_kimg must be positive and ada_interval >= 1")
    if c.aug == "diffaugment":
        parse_policy(c.diffaugment)
    if c.precision not in PRECISIONS:
        raise StyleGANError(f"precision must be fp16, bf16 or fp32, got {c.precision!r}")
    if c.loss not in LOSSES:
        raise StyleGANError(f"unknown loss {c.loss!r}: choose one of {', '.join(LOSSES)}")
    for name in ("wgan_lambda", "wgan_epsilon", "lod_training_kimg", "lod_transition_kimg"):
        value = getattr(c, name)
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise StyleGANError(f"{name} must be a non-negative number, got {value!r}")
    if c.wgan_target <= 0:
        raise StyleGANError(f"wgan_target must be positive, got {c.wgan_target}")
    if c.lod_initial_resolution is not None:
        if c.generator != "stylegan1":
            raise StyleGANError(
                "progressive growing (lod_initial_resolution) needs the StyleGAN 1 networks: "
                "use --cfg stylegan1 or generator stylegan1"
            )
        _check_resolution(c.lod_initial_resolution)
        if c.resolution is not None and c.lod_initial_resolution > c.resolution:
            raise StyleGANError(
                f"lod_initial_resolution {c.lod_initial_resolution} is above the training "
                f"resolution {c.resolution}"
            )
        if c.lod_training_kimg + c.lod_transition_kimg <= 0:
            raise StyleGANError("lod_training_kimg + lod_transition_kimg must be positive")
    for name in ("batch_per_resolution", "lr_per_resolution"):
        table = getattr(c, name) or {}
        for res, value in table.items():
            _check_resolution(res)
            positive = value >= 1 if name == "batch_per_resolution" else value >= 0
            if not positive or (name == "batch_per_resolution" and value != int(value)):
                raise StyleGANError(f"{name}[{res}] = {value!r} is not valid")
            if name == "batch_per_resolution" and value % c.mbstd_group_size != 0:
                raise StyleGANError(
                    f"batch {value} at {res} px is not divisible by the minibatch-std group size "
                    f"{c.mbstd_group_size}"
                )
    check_batch_split(c, world_size=1)
    if c.blur_init_sigma < 0 or c.blur_fade_kimg < 0:
        raise StyleGANError("blur_init_sigma and blur_fade_kimg must be >= 0")
    for arch, name in ((c.g_architecture, "g_architecture"), (c.d_architecture, "d_architecture")):
        if arch not in ARCHITECTURES:
            raise StyleGANError(f"{name} must be orig, skip or resnet, got {arch!r}")
    from stylegan.metrics.runner import parse_metric

    for name in c.metrics:
        parse_metric(name)  # a clear error for unknown names, before training starts
    if c.metrics_ticks is not None and c.metrics_ticks < 1:
        raise StyleGANError(f"metrics_ticks must be >= 1, got {c.metrics_ticks}")
