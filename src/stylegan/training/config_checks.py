"""The value checks of a :class:`~stylegan.training.config.TrainingConfig`: ``_validate`` (run
by ``__post_init__``) and the batch split of a run over processes and micro-batches."""

from __future__ import annotations

import math
from typing import Any

from stylegan.errors import StyleGANError
from stylegan.networks.presets import GENERATORS
from stylegan.training.config import (
    ARCHITECTURES,
    AUGMENTATIONS,
    LOSSES,
    PRECISIONS,
    TrainingConfig,
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
