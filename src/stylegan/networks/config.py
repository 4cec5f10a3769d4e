"""Frozen configs of the StyleGAN2 networks, and the bridge to NVIDIA's keyword arguments.

Official pickles describe a network by the keyword arguments of its constructor (``init_kwargs``,
nested dicts passed through several classes). They are read here once, checked, and turned into
flat dataclasses that save to JSON and rebuild the same network; ``to_init_kwargs`` goes back.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from stylegan.errors import StyleGANError

ARCHITECTURES = ("orig", "skip", "resnet")
FUSED_MODCONV_CHOICES = (True, False, "inference_only")

# Class defaults differ between the two official repositories; the constructors follow the
# stylegan3 repository, and an importer of stylegan2-ada-pytorch pickles passes "stylegan2-ada".
OFFICIAL_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "stylegan3": {"generator": {}, "mapping": {}, "discriminator": {}},
    "stylegan2-ada": {
        # ADA's class defaults: no fp16 blocks, no clamp, modconv fused only at inference.
        "generator": {
            "num_fp16_res": 0,
            "conv_clamp": None,
            "fused_modconv_default": "inference_only",
        },
        "mapping": {"w_avg_beta": 0.995},
        "discriminator": {"num_fp16_res": 0, "conv_clamp": None},
    },
}

# Official keyword arguments that change nothing in fp32 PyTorch here; read and dropped.
IGNORED_KWARGS = ("fp16_channels_last", "channels_last")


def _freeze(value: Any) -> Any:
    """Lists (e.g. from JSON) to tuples, so configs stay hashable and immutable."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def _take(kwargs: dict[str, Any], known: Sequence[str], where: str) -> dict[str, Any]:
    """Split off the keys in ``known``; anything left that we do not understand is an error."""
    out = {k: kwargs.pop(k) for k in known if k in kwargs}
    for k in IGNORED_KWARGS:
        kwargs.pop(k, None)
    if kwargs:
        raise StyleGANError(
            f"unsupported {where} argument(s) {sorted(kwargs)}: known are {sorted(known)}"
        )
    return out


class ConfigBase:
    """``to_dict`` / ``from_dict`` for frozen config dataclasses (nested configs included)."""

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

    def _freeze_fields(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _freeze(getattr(self, f.name)))


def _check_resolution(img_resolution: Any) -> None:
    ok = isinstance(img_resolution, int) and img_resolution >= 4
    if not ok or img_resolution & (img_resolution - 1):
        raise StyleGANError(
            f"img_resolution must be a power of two >= 4 (4, 8, ..., 1024), got {img_resolution!r}"
        )


def _check_common(cfg: Any) -> None:
    _check_resolution(cfg.img_resolution)
    if cfg.architecture not in ARCHITECTURES:
        raise StyleGANError(
            f"unknown architecture {cfg.architecture!r}: choose one of {', '.join(ARCHITECTURES)}"
        )
    for name in ("img_channels", "channel_base", "channel_max"):
        if getattr(cfg, name) < 1:
            raise StyleGANError(f"{name} must be positive, got {getattr(cfg, name)}")
    if cfg.c_dim < 0:
        raise StyleGANError(f"c_dim must be >= 0, got {cfg.c_dim}")
    if cfg.channel_base // cfg.img_resolution < 1:
        raise StyleGANError(
            f"channel_base {cfg.channel_base} gives no channels at {cfg.img_resolution} px: "
            f"use channel_base >= img_resolution"
        )


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


@dataclasses.dataclass(frozen=True)
class MappingConfig(ConfigBase):
    """The mapping network's settings (``mapping_kwargs`` in the official code)."""

    num_layers: int = 8
    embed_features: int | None = None  # None = w_dim
    layer_features: int | None = None  # None = w_dim
    activation: str = "lrelu"
    lr_multiplier: float = 0.01
    w_avg_beta: float | None = 0.998  # None = no w_avg (no truncation)

    def __post_init__(self):
        self._freeze_fields()
        if self.num_layers < 0:
            raise StyleGANError(f"mapping num_layers must be >= 0, got {self.num_layers}")

    @classmethod
    def from_init_kwargs(cls, kwargs: Mapping[str, Any], defaults: str = "stylegan3"):
        """Read official ``mapping_kwargs``."""
        kwargs = dict(OFFICIAL_DEFAULTS[defaults]["mapping"], **kwargs)
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{k: _freeze(v) for k, v in _take(kwargs, names, "mapping").items()})

    def to_init_kwargs(self) -> dict[str, Any]:
        """Official ``mapping_kwargs``."""
        return self.to_dict()


@dataclasses.dataclass(frozen=True)
class GeneratorConfig(ConfigBase):
    """Everything that defines a StyleGAN2 generator; defaults are the official class defaults."""

    z_dim: int
    c_dim: int
    w_dim: int
    img_resolution: int
    img_channels: int
    mapping: MappingConfig = dataclasses.field(default_factory=MappingConfig)
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 4  # blocks that layers.set_mixed_precision runs in fp16/bf16
    conv_clamp: float | None = 256
    architecture: str = "skip"
    resample_filter: tuple[float, ...] = (1, 3, 3, 1)
    use_noise: bool = True
    activation: str = "lrelu"
    kernel_size: int = 3
    fused_modconv_default: bool | str = True  # True, False or "inference_only"

    nested: ClassVar[dict[str, type]] = {"mapping": MappingConfig}

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

    def __post_init__(self):
        self._freeze_fields()
        if isinstance(self.mapping, Mapping):
            object.__setattr__(self, "mapping", MappingConfig.from_dict(self.mapping))
        _check_common(self)
        if self.w_dim < 1 or self.z_dim < 0:
            raise StyleGANError(f"need w_dim >= 1 and z_dim >= 0, got {self.w_dim}, {self.z_dim}")
        if self.fused_modconv_default not in FUSED_MODCONV_CHOICES:
            raise StyleGANError(
                "fused_modconv_default must be True, False or 'inference_only', "
                f"got {self.fused_modconv_default!r}"
            )

    @property
    def num_ws(self) -> int:
        """How many w vectors the synthesis network consumes: two per block, minus one at 4x4,
        plus the final ToRGB."""
        return 2 * (self.img_resolution.bit_length() - 1) - 2

    def channels(self, res: int) -> int:
        """Feature maps at resolution ``res``."""
        return min(self.channel_base // res, self.channel_max)

    @classmethod
    def from_init_kwargs(cls, kwargs: Mapping[str, Any], defaults: str = "stylegan3"):
        """Read an official generator's ``init_kwargs`` (stylegan3 or stylegan2-ada layout).

        ``defaults`` names the repository whose class defaults fill missing arguments.
        """
        if defaults not in OFFICIAL_DEFAULTS:
            raise StyleGANError(f"unknown defaults {defaults!r}: use {list(OFFICIAL_DEFAULTS)}")
        kwargs = copy.deepcopy(dict(kwargs))
        # stylegan2-ada nests the synthesis arguments; stylegan3 passes them flat.
        kwargs.update(kwargs.pop("synthesis_kwargs", None) or {})
        mapping = MappingConfig.from_init_kwargs(kwargs.pop("mapping_kwargs", None) or {}, defaults)
        top = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
        missing = [k for k in top if k not in kwargs]
        if missing:
            raise StyleGANError(f"generator arguments lack {missing}")
        values = dict(OFFICIAL_DEFAULTS[defaults]["generator"])
        values.update(_take(kwargs, top + cls.SYNTHESIS_KWARGS, "generator"))
        return cls(mapping=mapping, **{k: _freeze(v) for k, v in values.items()})

    def to_init_kwargs(self) -> dict[str, Any]:
        """Official (stylegan3-repository) generator keyword arguments."""
        d = self.to_dict()
        out = {k: d[k] for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")}
        out["mapping_kwargs"] = self.mapping.to_init_kwargs()
        out.update({k: d[k] for k in self.SYNTHESIS_KWARGS})
        return out


@dataclasses.dataclass(frozen=True)
class DiscriminatorConfig(ConfigBase):
    """Everything that defines a StyleGAN2 discriminator; defaults are the official ones."""

    c_dim: int
    img_resolution: int
    img_channels: int
    architecture: str = "resnet"
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 4  # blocks that layers.set_mixed_precision runs in fp16/bf16
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

    def __post_init__(self):
        self._freeze_fields()
        if isinstance(self.mapping, Mapping):
            object.__setattr__(self, "mapping", MappingConfig.from_dict(self.mapping))
        # The label mapping of D tracks no average; the official class forces this too.
        if self.mapping.w_avg_beta is not None:
            object.__setattr__(self, "mapping", self.mapping.replace(w_avg_beta=None))
        _check_common(self)
        if self.mbstd_num_channels < 0:
            raise StyleGANError(f"mbstd_num_channels must be >= 0, got {self.mbstd_num_channels}")

    def channels(self, res: int) -> int:
        """Feature maps at resolution ``res``."""
        return min(self.channel_base // res, self.channel_max)

    @property
    def effective_cmap_dim(self) -> int:
        """Width of the projected label (0 for unconditional discriminators)."""
        if self.c_dim == 0:
            return 0
        return self.cmap_dim if self.cmap_dim is not None else self.channels(4)

    @classmethod
    def from_init_kwargs(cls, kwargs: Mapping[str, Any], defaults: str = "stylegan3"):
        """Read an official discriminator's ``init_kwargs``."""
        if defaults not in OFFICIAL_DEFAULTS:
            raise StyleGANError(f"unknown defaults {defaults!r}: use {list(OFFICIAL_DEFAULTS)}")
        kwargs = copy.deepcopy(dict(kwargs))
        block = _take(
            dict(kwargs.pop("block_kwargs", None) or {}),
            ("activation", "resample_filter", "freeze_layers"),
            "discriminator block",
        )
        epilogue = _take(
            dict(kwargs.pop("epilogue_kwargs", None) or {}),
            ("mbstd_group_size", "mbstd_num_channels", "activation"),
            "discriminator epilogue",
        )
        mapping_kwargs = dict(kwargs.pop("mapping_kwargs", None) or {})
        if "w_avg_beta" in mapping_kwargs:
            raise StyleGANError("the discriminator's mapping_kwargs cannot set w_avg_beta")
        mapping = MappingConfig(**_take(mapping_kwargs, _MAPPING_D_KWARGS, "D mapping"))
        if block.get("activation", "lrelu") != epilogue.get("activation", "lrelu"):
            raise StyleGANError(
                "different activations in block_kwargs and epilogue_kwargs are not supported"
            )
        top = ("c_dim", "img_resolution", "img_channels")
        missing = [k for k in top if k not in kwargs]
        if missing:
            raise StyleGANError(f"discriminator arguments lack {missing}")
        known = top + (
            "architecture",
            "channel_base",
            "channel_max",
            "num_fp16_res",
            "conv_clamp",
            "cmap_dim",
        )
        values = dict(OFFICIAL_DEFAULTS[defaults]["discriminator"])
        values.update(_take(kwargs, known, "discriminator"))
        values.update(block)
        values.update(epilogue)
        return cls(mapping=mapping, **{k: _freeze(v) for k, v in values.items()})

    def to_init_kwargs(self) -> dict[str, Any]:
        """Official discriminator keyword arguments."""
        d = self.to_dict()
        out = {
            k: d[k]
            for k in (
                "c_dim",
                "img_resolution",
                "img_channels",
                "architecture",
                "channel_base",
                "channel_max",
                "num_fp16_res",
                "conv_clamp",
                "cmap_dim",
            )
        }
        out["block_kwargs"] = {
            "activation": self.activation,
            "resample_filter": d["resample_filter"],
            "freeze_layers": self.freeze_layers,
        }
        out["mapping_kwargs"] = {k: d["mapping"][k] for k in _MAPPING_D_KWARGS}
        out["epilogue_kwargs"] = {
            "mbstd_group_size": self.mbstd_group_size,
            "mbstd_num_channels": self.mbstd_num_channels,
            "activation": self.activation,
        }
        return out


_MAPPING_D_KWARGS = (
    "num_layers",
    "embed_features",
    "layer_features",
    "activation",
    "lr_multiplier",
)


# Official keyword arguments of the StyleGAN3 mapping network (a subset of ours).
_MAPPING_SG3_KWARGS = ("num_layers", "lr_multiplier", "w_avg_beta")


@dataclasses.dataclass(frozen=True)
class StyleGAN3GeneratorConfig(ConfigBase):
    """Everything that defines a StyleGAN3 (alias-free) generator; defaults are the official
    class defaults, i.e. config T. Config R is ``conv_kernel=1, use_radial_filters=True`` (and
    twice the channels)."""

    z_dim: int
    c_dim: int
    w_dim: int
    img_resolution: int
    img_channels: int
    mapping: MappingConfig = dataclasses.field(default_factory=lambda: MappingConfig(num_layers=2))
    channel_base: int = 32768
    channel_max: int = 512
    num_layers: int = 14  # layers between the Fourier input and ToRGB
    num_critical: int = 2  # critically sampled layers at the end
    first_cutoff: float = 2  # f_c of the first layer
    first_stopband: float = 2**2.1  # f_t of the first layer
    last_stopband_rel: float = 2**0.3  # f_t of the last layer, relative to its cutoff
    margin_size: int = 10  # extra pixels computed around the image
    output_scale: float = 0.25
    num_fp16_res: int = 4  # blocks that layers.set_mixed_precision runs in fp16/bf16
    conv_kernel: int = 3
    filter_size: int = 6  # low-pass taps per unit of the lower sampling rate
    lrelu_upsampling: int = 2  # the leaky ReLU runs at this multiple of the sampling rate
    use_radial_filters: bool = False
    conv_clamp: float | None = 256
    magnitude_ema_beta: float = 0.999

    nested: ClassVar[dict[str, type]] = {"mapping": MappingConfig}

    # Official synthesis- and layer-level keyword arguments, in the order they are exported.
    SYNTHESIS_KWARGS: ClassVar[tuple[str, ...]] = (
        "channel_base",
        "channel_max",
        "num_layers",
        "num_critical",
        "first_cutoff",
        "first_stopband",
        "last_stopband_rel",
        "margin_size",
        "output_scale",
        "num_fp16_res",
        "conv_kernel",
        "filter_size",
        "lrelu_upsampling",
        "use_radial_filters",
        "conv_clamp",
        "magnitude_ema_beta",
    )

    def __post_init__(self):
        self._freeze_fields()
        if isinstance(self.mapping, Mapping):
            object.__setattr__(self, "mapping", MappingConfig.from_dict(self.mapping))
        _check_resolution(self.img_resolution)
        m = self.mapping
        if (m.embed_features, m.layer_features, m.activation) != (None, None, "lrelu"):
            raise StyleGANError(
                "the StyleGAN3 mapping network takes only num_layers, lr_multiplier and "
                "w_avg_beta: leave embed_features, layer_features and activation at defaults"
            )
        if m.w_avg_beta is None:
            raise StyleGANError("the StyleGAN3 mapping network always tracks w_avg: set w_avg_beta")
        if self.w_dim < 1 or self.z_dim < 0 or self.c_dim < 0:
            raise StyleGANError(
                f"need w_dim >= 1, z_dim >= 0 and c_dim >= 0, got {self.w_dim}, {self.z_dim}, "
                f"{self.c_dim}"
            )
        for name in ("img_channels", "channel_base", "channel_max", "conv_kernel", "filter_size"):
            if getattr(self, name) < 1:
                raise StyleGANError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not isinstance(self.lrelu_upsampling, int) or self.lrelu_upsampling < 1:
            raise StyleGANError(
                f"lrelu_upsampling must be a whole number >= 1, got {self.lrelu_upsampling!r}"
            )
        if self.num_layers < 1 or not 0 <= self.num_critical < self.num_layers:
            raise StyleGANError(
                "need num_layers >= 1 and 0 <= num_critical < num_layers, got "
                f"num_layers={self.num_layers}, num_critical={self.num_critical}"
            )
        if self.margin_size < 0:
            raise StyleGANError(f"margin_size must be >= 0, got {self.margin_size}")
        if not 0 < self.first_cutoff <= self.img_resolution / 2:
            raise StyleGANError(
                f"first_cutoff must lie in (0, img_resolution / 2], got {self.first_cutoff}"
            )
        if self.first_stopband <= 0 or self.last_stopband_rel <= 0:
            raise StyleGANError("first_stopband and last_stopband_rel must be positive")
        if not 0 <= self.magnitude_ema_beta <= 1:
            raise StyleGANError(
                f"magnitude_ema_beta must lie in [0, 1], got {self.magnitude_ema_beta}"
            )

    @property
    def num_ws(self) -> int:
        """How many w vectors the synthesis network consumes: input, each layer, and ToRGB."""
        return self.num_layers + 2

    @classmethod
    def from_init_kwargs(cls, kwargs: Mapping[str, Any]):
        """Read an official StyleGAN3 generator's ``init_kwargs``
        (``training/networks_stylegan3.py``)."""
        kwargs = copy.deepcopy(dict(kwargs))
        mapping_kwargs = dict(kwargs.pop("mapping_kwargs", None) or {})
        mapping_kwargs = _take(mapping_kwargs, _MAPPING_SG3_KWARGS, "StyleGAN3 mapping")
        mapping = MappingConfig(**{"num_layers": 2, **mapping_kwargs})
        top = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
        missing = [k for k in top if k not in kwargs]
        if missing:
            raise StyleGANError(f"StyleGAN3 generator arguments lack {missing}")
        values = _take(kwargs, top + cls.SYNTHESIS_KWARGS, "StyleGAN3 generator")
        return cls(mapping=mapping, **{k: _freeze(v) for k, v in values.items()})

    def to_init_kwargs(self) -> dict[str, Any]:
        """Official StyleGAN3 generator keyword arguments."""
        d = self.to_dict()
        out = {k: d[k] for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")}
        out["mapping_kwargs"] = {k: d["mapping"][k] for k in _MAPPING_SG3_KWARGS}
        out.update({k: d[k] for k in self.SYNTHESIS_KWARGS})
        return out


# Keyword arguments of the StyleGAN (v1) mapping network: z is pixel-normed, w tracked with 0.995.
_MAPPING_SG1_KWARGS = ("num_layers", "layer_features", "activation", "lr_multiplier", "w_avg_beta")


def _check_sg1_common(cfg: Any) -> None:
    _check_resolution(cfg.img_resolution)
    for name in ("img_channels", "channel_base", "channel_max"):
        if getattr(cfg, name) < 1:
            raise StyleGANError(f"{name} must be positive, got {getattr(cfg, name)}")
    if cfg.c_dim < 0:
        raise StyleGANError(f"c_dim must be >= 0, got {cfg.c_dim}")
    if cfg.channel_base // cfg.img_resolution < 1:
        raise StyleGANError(
            f"channel_base {cfg.channel_base} gives no channels at {cfg.img_resolution} px: "
            f"use channel_base >= img_resolution"
        )
    if any(not isinstance(t, (int, float)) for t in cfg.resample_filter):
        raise StyleGANError("resample_filter must be a list of numbers, e.g. (1, 2, 1), or ()")


@dataclasses.dataclass(frozen=True)
class StyleGAN1GeneratorConfig(ConfigBase):
    """Everything that defines an original StyleGAN generator (``G_style`` of NVlabs/stylegan).

    Defaults are the paper's: 8 mapping layers with lr multiplier 0.01, ``channel_base`` 16384
    (TF ``fmap_base`` 8192 times 2, as legacy.py converts it), blur ``[1, 2, 1]``, noise inputs,
    and the truncation the original ``Gs`` applies by default (psi 0.7 on the first 8 ws).
    """

    z_dim: int
    c_dim: int
    w_dim: int
    img_resolution: int
    img_channels: int
    mapping: MappingConfig = dataclasses.field(
        default_factory=lambda: MappingConfig(w_avg_beta=0.995)
    )
    channel_base: int = 16384
    channel_max: int = 512
    use_noise: bool = True
    resample_filter: tuple[float, ...] = (1, 2, 1)  # blur after upsampling; () = none
    truncation_psi: float = 0.7  # default of G(z, c) and generate(), as the original Gs
    truncation_cutoff: int | None = 8

    nested: ClassVar[dict[str, type]] = {"mapping": MappingConfig}
    SYNTHESIS_KWARGS: ClassVar[tuple[str, ...]] = (
        "channel_base",
        "channel_max",
        "use_noise",
        "resample_filter",
        "truncation_psi",
        "truncation_cutoff",
    )

    def __post_init__(self):
        self._freeze_fields()
        if isinstance(self.mapping, Mapping):
            object.__setattr__(self, "mapping", MappingConfig.from_dict(self.mapping))
        _check_sg1_common(self)
        if self.w_dim < 1 or self.z_dim < 1:
            raise StyleGANError(f"need w_dim >= 1 and z_dim >= 1, got {self.w_dim}, {self.z_dim}")
        if self.mapping.w_avg_beta is None:
            raise StyleGANError("the StyleGAN mapping network tracks w_avg: set w_avg_beta")

    @property
    def num_ws(self) -> int:
        """One w per layer: two per resolution from 4x4 up (18 at 1024 px)."""
        return 2 * (self.img_resolution.bit_length() - 1) - 2

    def channels(self, res: int) -> int:
        """Feature maps at resolution ``res`` (TF ``nf(log2(res) - 1)``)."""
        return min(self.channel_base // res, self.channel_max)

    @classmethod
    def from_init_kwargs(cls, kwargs: Mapping[str, Any]):
        """Read our constructor keyword arguments (laid out as the official PyTorch ones)."""
        kwargs = copy.deepcopy(dict(kwargs))
        mapping_kwargs = _take(
            dict(kwargs.pop("mapping_kwargs", None) or {}), _MAPPING_SG1_KWARGS, "StyleGAN mapping"
        )
        mapping = MappingConfig(**{"w_avg_beta": 0.995, **mapping_kwargs})
        top = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
        missing = [k for k in top if k not in kwargs]
        if missing:
            raise StyleGANError(f"StyleGAN generator arguments lack {missing}")
        values = _take(kwargs, top + cls.SYNTHESIS_KWARGS, "StyleGAN generator")
        return cls(mapping=mapping, **{k: _freeze(v) for k, v in values.items()})

    def to_init_kwargs(self) -> dict[str, Any]:
        """Constructor keyword arguments that rebuild this network."""
        d = self.to_dict()
        out = {k: d[k] for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")}
        out["mapping_kwargs"] = {k: d["mapping"][k] for k in _MAPPING_SG1_KWARGS}
        out.update({k: d[k] for k in self.SYNTHESIS_KWARGS})
        return out


@dataclasses.dataclass(frozen=True)
class StyleGAN1DiscriminatorConfig(ConfigBase):
    """Everything that defines the original StyleGAN discriminator (``D_basic``): per-resolution
    FromRGB layers for progressive growing, blur before each downsampling conv, minibatch
    standard deviation and two dense layers at 4x4. Labels are used as in the original: one
    output per class, the score being the output of the image's class."""

    c_dim: int
    img_resolution: int
    img_channels: int
    channel_base: int = 16384
    channel_max: int = 512
    mbstd_group_size: int | None = 4  # None = whole minibatch
    mbstd_num_channels: int = 1  # 0 = no minibatch-std layer
    resample_filter: tuple[float, ...] = (1, 2, 1)

    def __post_init__(self):
        self._freeze_fields()
        _check_sg1_common(self)
        if self.img_resolution < 8:
            raise StyleGANError("the discriminator needs img_resolution >= 8")
        if self.mbstd_num_channels < 0:
            raise StyleGANError(f"mbstd_num_channels must be >= 0, got {self.mbstd_num_channels}")

    def channels(self, res: int) -> int:
        """Feature maps at resolution ``res`` (TF ``nf(log2(res) - 1)``)."""
        return min(self.channel_base // res, self.channel_max)

    @classmethod
    def from_init_kwargs(cls, kwargs: Mapping[str, Any]):
        """Read our constructor keyword arguments."""
        names = [f.name for f in dataclasses.fields(cls)]
        values = _take(copy.deepcopy(dict(kwargs)), names, "StyleGAN discriminator")
        missing = [k for k in ("c_dim", "img_resolution", "img_channels") if k not in values]
        if missing:
            raise StyleGANError(f"StyleGAN discriminator arguments lack {missing}")
        return cls(**{k: _freeze(v) for k, v in values.items()})

    def to_init_kwargs(self) -> dict[str, Any]:
        """Constructor keyword arguments that rebuild this network."""
        return self.to_dict()
