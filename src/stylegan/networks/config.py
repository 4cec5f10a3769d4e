"""Frozen configs of the StyleGAN2 networks (mapping, generator, discriminator), the base
every network config shares, and the mixin of networks built from a config.

Each config reads official keyword arguments through its table (:mod:`.config_kwargs`), saves to
JSON and rebuilds the same network, and checks its types, ranges and size where it is made
(:mod:`.config_checks`), so a broken or hostile ``config.json`` fails before anything is
allocated. StyleGAN 1 and 3 configs live in :mod:`.config_stylegan1` and
:mod:`.config_stylegan3`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from stylegan.errors import StyleGANError
from stylegan.networks.config_checks import (
    _SIZE_FIELDS,
    _check_activation,
    _check_at_least,
    _check_common,
    _check_has_input,
    _check_size,
    _describe,
    _discriminator_size,
    _has_type,
    _mapping_size,
    _plain_number,
    _styled_synthesis_size,
    _type_hints,
)
from stylegan.networks.config_kwargs import (
    Kwarg,
    _freeze,
    _mapping,
    _repository_defaults,
    _short,
    _table,
    _thaw,
    _top,
    read_init_kwargs,
    write_init_kwargs,
)

FUSED_MODCONV_CHOICES = (True, False, "inference_only")


class ConfigBase:
    """``to_dict`` / ``from_dict`` for frozen config dataclasses (nested configs included), and
    the checks every config runs when it is made."""

    # Field name -> config class, for fields that hold a nested config.
    nested: ClassVar[dict[str, type]] = {}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (nested configs become dicts, tuples become lists)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if isinstance(value, ConfigBase) else _thaw(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | ConfigBase):
        """Rebuild a config from :meth:`to_dict` output (or pass a config through)."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise StyleGANError(f"{cls.__name__} needs a dict, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise StyleGANError(f"{cls.__name__} has no field(s) {unknown}; known: {names}")
        kwargs = {}
        for name, value in data.items():
            sub = cls.nested.get(name)
            kwargs[name] = sub.from_dict(value) if sub is not None else _freeze(value)
        try:
            return cls(**kwargs)
        except TypeError as e:
            raise StyleGANError(f"incomplete {cls.__name__}: {e}") from None

    def replace(self, **changes: Any):
        """A copy with some fields changed (checked again)."""
        return dataclasses.replace(self, **changes)

    def channels(self, res: int) -> int:
        """Feature maps at resolution ``res`` of a config with ``channel_base`` and
        ``channel_max`` (TF ``nf(log2(res) - 1)`` in the original StyleGAN)."""
        return min(self.channel_base // res, self.channel_max)

    def _prepare_fields(self) -> None:
        """Freeze lists, build nested configs from dicts, then check every field's type."""
        for f in dataclasses.fields(self):
            value = _freeze(getattr(self, f.name))
            sub = self.nested.get(f.name)
            if sub is not None and isinstance(value, Mapping):
                value = sub.from_dict(value)
            object.__setattr__(self, f.name, _plain_number(value))
        hints = _type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "img_resolution":
                continue  # _check_resolution says "a power of two" to every wrong value
            if not _has_type(value, hints[f.name]):
                raise StyleGANError(
                    f"{type(self).__name__} {f.name} must be {_describe(hints[f.name])}, got "
                    f"{_short(value)} ({type(value).__name__})"
                )


class InitKwargsConfig(ConfigBase):
    """A config read from and written as its network's constructor keyword arguments (an
    official pickle's ``init_kwargs``) through its table of :class:`Kwarg` rows."""

    # Official argument -> field, one row each (set below each class); the network, as errors
    # about its arguments name it.
    init_table: ClassVar[tuple[Kwarg, ...]]
    init_what: ClassVar[str]

    @classmethod
    def from_init_kwargs(cls, kwargs: Mapping[str, Any]):
        """Read the network's constructor keyword arguments (laid out as the official ones)."""
        return read_init_kwargs(cls, cls.init_table, kwargs, cls.init_what)

    def to_init_kwargs(self) -> dict[str, Any]:
        """The constructor keyword arguments (official layout) that rebuild this network."""
        return write_init_kwargs(self, self.init_table)


class ConfiguredNetwork:
    """Mixin for networks built from a frozen config: ``from_config``, ``config``, ``init_kwargs``.

    Subclasses set ``config_class`` and store their config as ``self._config``.
    """

    config_class: ClassVar[type[ConfigBase]]
    _config: ConfigBase

    @classmethod
    def from_config(cls, config):
        """Build a fresh network from a config or its ``to_dict()`` form."""
        return cls(**cls.config_class.from_dict(config).to_init_kwargs())

    @property
    def config(self):
        """The frozen config this network was built from."""
        return self._config

    @property
    def init_kwargs(self) -> dict[str, Any]:
        """Official keyword arguments (stylegan3-repository layout) that rebuild this network."""
        return self._config.to_init_kwargs()


_MAPPING_FIELDS = (
    "num_layers",
    "embed_features",
    "layer_features",
    "activation",
    "lr_multiplier",
    "w_avg_beta",
)


@dataclasses.dataclass(frozen=True)
class MappingConfig(InitKwargsConfig):
    """The mapping network's settings (``mapping_kwargs`` in the official code)."""

    num_layers: int = 8
    embed_features: int | None = None  # None = w_dim
    layer_features: int | None = None  # None = w_dim
    activation: str = "lrelu"
    lr_multiplier: float = 0.01
    w_avg_beta: float | None = 0.998  # None = no w_avg (no truncation)

    init_what: ClassVar[str] = "mapping"

    def __post_init__(self):
        self._prepare_fields()
        if self.num_layers < 0:
            raise StyleGANError(f"mapping num_layers must be >= 0, got {self.num_layers}")
        _check_at_least(self, 1, "embed_features", "layer_features", allow_none=True)
        _check_activation(self.activation)
        if self.lr_multiplier <= 0:
            raise StyleGANError(f"mapping lr_multiplier must be > 0, got {self.lr_multiplier}")
        if self.w_avg_beta is not None and not 0 <= self.w_avg_beta <= 1:
            raise StyleGANError(f"w_avg_beta must lie in [0, 1] or be null, got {self.w_avg_beta}")

    @classmethod
    def from_init_kwargs(cls, kwargs: Mapping[str, Any], defaults: str = "stylegan3"):
        """Read official ``mapping_kwargs``."""
        repo = _repository_defaults(defaults, "generator", "mapping.")
        return read_init_kwargs(cls, cls.init_table, kwargs, cls.init_what, repo)


MappingConfig.init_table = _table(*_MAPPING_FIELDS)


@dataclasses.dataclass(frozen=True)
class GeneratorConfigBase(InitKwargsConfig):
    """The official top-level arguments of every generator (StyleGAN 1, 2 and 3), first in its
    config; each generation's mapping settings (``mapping_kwargs``) follow as ``mapping``."""

    z_dim: int
    c_dim: int
    w_dim: int
    img_resolution: int
    img_channels: int

    nested: ClassVar[dict[str, type]] = {"mapping": MappingConfig}

    def _check_latents(self, min_z_dim: int) -> None:
        """A w of at least one number, and a z of at least ``min_z_dim``."""
        if self.w_dim < 1 or self.z_dim < min_z_dim:
            raise StyleGANError(
                f"need w_dim >= 1 and z_dim >= {min_z_dim}, got {self.w_dim}, {self.z_dim}"
            )


_GENERATOR_TOP = tuple(f.name for f in dataclasses.fields(GeneratorConfigBase))


@dataclasses.dataclass(frozen=True)
class GeneratorConfig(GeneratorConfigBase):
    """Everything that defines a StyleGAN2 generator; defaults are the official class defaults."""

    mapping: MappingConfig = dataclasses.field(default_factory=MappingConfig)
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 4  # the N highest resolutions run in low precision (set_mixed_precision)
    conv_clamp: float | None = 256
    architecture: str = "skip"
    resample_filter: tuple[float, ...] = (1, 3, 3, 1)
    use_noise: bool = True
    activation: str = "lrelu"
    kernel_size: int = 3
    fused_modconv_default: bool | str = True  # True, False or "inference_only"

    # Official synthesis-level keyword arguments, in the order they are exported.
    SYNTHESIS_KWARGS: ClassVar[tuple[str, ...]] = (
        "channel_base",
        "channel_max",
        "num_fp16_res",
        "conv_clamp",
        "architecture",
        "resample_filter",
        "use_noise",
        "activation",
        "kernel_size",
        "fused_modconv_default",
    )
    init_what: ClassVar[str] = "generator"

    def __post_init__(self):
        self._prepare_fields()
        _check_common(self)
        self._check_latents(0)
        if self.fused_modconv_default not in FUSED_MODCONV_CHOICES:
            raise StyleGANError(
                "fused_modconv_default must be True, False or 'inference_only', "
                f"got {self.fused_modconv_default!r}"
            )
        _check_at_least(self, 1, "kernel_size")
        _check_has_input(self)
        _check_size(self, _generator_size, _SIZE_FIELDS)

    @property
    def num_ws(self) -> int:
        """How many w vectors the synthesis network consumes: two per block, minus one at 4x4,
        plus the final ToRGB."""
        return 2 * (self.img_resolution.bit_length() - 1) - 2

    @classmethod
    def from_init_kwargs(cls, kwargs: Mapping[str, Any], defaults: str = "stylegan3"):
        """Read an official generator's ``init_kwargs`` (stylegan3 or stylegan2-ada layout).

        ``defaults`` names the repository whose class defaults fill missing arguments.
        """
        repo = _repository_defaults(defaults, "generator")
        # stylegan2-ada nests the synthesis arguments; stylegan3 passes them flat.
        return read_init_kwargs(
            cls, cls.init_table, kwargs, cls.init_what, repo, flatten=("synthesis_kwargs",)
        )


GeneratorConfig.init_table = _table(
    *_top(*_GENERATOR_TOP), *_mapping(*_MAPPING_FIELDS), *GeneratorConfig.SYNTHESIS_KWARGS
)


def _generator_size(cfg: Any) -> int:
    return _mapping_size(cfg) + _styled_synthesis_size(cfg, cfg.kernel_size)


@dataclasses.dataclass(frozen=True)
class DiscriminatorConfig(InitKwargsConfig):
    """Everything that defines a StyleGAN2 discriminator; defaults are the official ones."""

    c_dim: int
    img_resolution: int
    img_channels: int
    architecture: str = "resnet"
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 4  # the N highest resolutions run in low precision (set_mixed_precision)
    conv_clamp: float | None = 256
    cmap_dim: int | None = None  # None = channels at 4x4
    activation: str = "lrelu"
    resample_filter: tuple[float, ...] = (1, 3, 3, 1)
    freeze_layers: int = 0  # Freeze-D: the first N layers keep their weights as buffers
    mbstd_group_size: int | None = 4  # None = whole minibatch
    mbstd_num_channels: int = 1  # 0 = no minibatch-std layer
    mapping: MappingConfig = dataclasses.field(
        default_factory=lambda: MappingConfig(w_avg_beta=None)
    )

    nested: ClassVar[dict[str, type]] = {"mapping": MappingConfig}
    init_what: ClassVar[str] = "discriminator"

    def __post_init__(self):
        self._prepare_fields()
        # The label mapping of D tracks no average; the official class forces this too.
        if self.mapping.w_avg_beta is not None:
            object.__setattr__(self, "mapping", self.mapping.replace(w_avg_beta=None))
        _check_common(self)
        if self.mbstd_num_channels < 0:
            raise StyleGANError(f"mbstd_num_channels must be >= 0, got {self.mbstd_num_channels}")
        _check_at_least(self, 0, "freeze_layers")
        _check_at_least(self, 1, "cmap_dim", "mbstd_group_size", allow_none=True)
        _check_size(self, _discriminator_size, _SIZE_FIELDS[2:])

    @property
    def effective_cmap_dim(self) -> int:
        """Width of the projected label (0 for unconditional discriminators)."""
        if self.c_dim == 0:
            return 0
        return self.cmap_dim if self.cmap_dim is not None else self.channels(4)

    @classmethod
    def from_init_kwargs(cls, kwargs: Mapping[str, Any], defaults: str = "stylegan3"):
        """Read an official discriminator's ``init_kwargs``."""
        repo = _repository_defaults(defaults, "discriminator")
        forbidden = {
            "mapping_kwargs.w_avg_beta": "the discriminator's mapping_kwargs cannot set w_avg_beta"
        }
        return read_init_kwargs(
            cls, cls.init_table, kwargs, cls.init_what, repo, forbidden=forbidden
        )


# The block and the epilogue both take an activation; ours is one field, so they must agree.
DiscriminatorConfig.init_table = _table(
    *_top("c_dim", "img_resolution", "img_channels"),
    "architecture",
    "channel_base",
    "channel_max",
    "num_fp16_res",
    "conv_clamp",
    "cmap_dim",
    ("block_kwargs.activation", "activation"),
    ("block_kwargs.resample_filter", "resample_filter"),
    ("block_kwargs.freeze_layers", "freeze_layers"),
    *_mapping(*_MAPPING_FIELDS[:-1]),  # no w_avg_beta: D's label mapping tracks no average
    ("epilogue_kwargs.mbstd_group_size", "mbstd_group_size"),
    ("epilogue_kwargs.mbstd_num_channels", "mbstd_num_channels"),
    ("epilogue_kwargs.activation", "activation"),
)
