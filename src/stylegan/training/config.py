"""Training configuration: the :class:`TrainingConfig` dataclass, whose fields are also the
``stylegan train`` flags (:func:`flag`), and its type checks.

The named presets and ``make_config`` live in :mod:`stylegan.training.presets`; the value checks
run by ``__post_init__`` in :mod:`stylegan.training.config_checks`. The whole config is saved as
``training_options.json`` in every run folder (:func:`load_training_options` reads it back).
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

LOSSES = ("logistic", "wgan-gp")
AUGMENTATIONS = ("noaug", "ada", "fixed", "diffaugment")
PRECISIONS = ("fp16", "bf16", "fp32")
ARCHITECTURES = ("orig", "skip", "resnet")
TRAINING_DEVICES = ("auto", "cpu", "cuda", "mps")


def _augpipes() -> tuple[str, ...]:
    from stylegan.training.ada import AUGPIPE_SPECS  # torch-heavy: only when asked

    return tuple(AUGPIPE_SPECS)


def _preset_names() -> tuple[str, ...]:
    from stylegan.training.presets import PRESETS  # the table builds on this module

    return tuple(PRESETS)


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
        choices=_preset_names,
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
        from stylegan.training.config_checks import _validate  # checks import this module

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
