"""Frozen configs of the StyleGAN 1, 2 and 3 networks, and the bridge to NVIDIA's keyword
arguments.

Official pickles describe a network by the keyword arguments of its constructor (``init_kwargs``,
nested dicts passed through several classes). One table per network says where each argument
sits (``mapping_kwargs.num_layers``) and which field it fills (``mapping.num_layers``); one
translator reads them into flat dataclasses that save to JSON and rebuild the same network, and
writes them back (``to_init_kwargs``). Every config checks its types, ranges and size where it
is made, so a broken or hostile ``config.json`` fails before anything is allocated.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from stylegan.errors import StyleGANError

ARCHITECTURES = ("orig", "skip", "resnet")
FUSED_MODCONV_CHOICES = (True, False, "inference_only")

# Class defaults differ between the two official repositories; the constructors follow the
# stylegan3 repository, and an importer of stylegan2-ada-pytorch pickles passes "stylegan2-ada".
# Keys are our field paths; they fill arguments a pickle leaves out.
OFFICIAL_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "stylegan3": {"generator": {}, "discriminator": {}},
    "stylegan2-ada": {
        # ADA fuses modconv only at inference (its rule for fp32 activations).
        "generator": {
            "num_fp16_res": 0,
            "conv_clamp": None,
            "fused_modconv_default": "inference_only",
            "mapping.w_avg_beta": 0.995,
        },
        "discriminator": {"num_fp16_res": 0, "conv_clamp": None},
    },
}

# Official keyword arguments that change nothing here (memory format); read and dropped.
IGNORED_KWARGS = ("fp16_channels_last", "channels_last")

# A config whose network would hold more numbers (parameters and buffers) than this is refused
# before anything is allocated: no real StyleGAN comes near (StyleGAN3-R 1024 px: ~3e7).
MAX_NETWORK_SIZE = 2e9


def _freeze(value: Any) -> Any:
    """Lists (e.g. from JSON) to tuples, so configs stay hashable and immutable."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --------------------------------------------------------------------------------------------
# Official keyword arguments <-> config fields, one table per network


REQUIRED = "required"  # the argument must be given
DEFAULT = "default"  # omitted: the config's default (or the repository's, OFFICIAL_DEFAULTS)


@dataclasses.dataclass(frozen=True)
class Kwarg:
    """One official keyword argument: its path in ``init_kwargs`` and the field it fills."""

    path: str  # e.g. "mapping_kwargs.num_layers"
    field: str  # e.g. "mapping.num_layers"
    omitted: str = DEFAULT  # REQUIRED or DEFAULT


def _table(*rows: tuple[str, ...] | str) -> tuple[Kwarg, ...]:
    """Rows as ``"name"`` (same path and field), ``(path, field)`` or ``(path, field, rule)``."""
    return tuple(Kwarg(r, r) if isinstance(r, str) else Kwarg(*r) for r in rows)


def _top(*names: str) -> tuple[tuple[str, str, str], ...]:
    return tuple((n, n, REQUIRED) for n in names)


def _mapping(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((f"mapping_kwargs.{n}", f"mapping.{n}") for n in names)


def _sub_kwargs(value: Any, where: str) -> dict[str, Any]:
    """A nested keyword-argument dict (None = empty); anything else is an error."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise StyleGANError(
            f"{where} must be a dict of keyword arguments, got {type(value).__name__}"
        )
    return dict(value)


def _field_default(cls: type, field: str) -> Any:
    """The default of ``field`` (``mapping.x``: of the default nested config); REQUIRED if none."""
    name, _, rest = field.partition(".")
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return REQUIRED
    return getattr(value, rest) if rest else value


def read_init_kwargs(
    cls: type,
    table: Sequence[Kwarg],
    kwargs: Mapping[str, Any],
    where: str,
    defaults: Mapping[str, Any] | None = None,
    flatten: Sequence[str] = (),
    forbidden: Mapping[str, str] | None = None,
):
    """The config ``cls`` of official keyword arguments, read through ``table``.

    ``flatten`` names nested dicts whose arguments also count at the top (stylegan2-ada's
    ``synthesis_kwargs``); ``forbidden`` maps paths to the error they raise; ``defaults``
    (by field) fill omitted arguments before the config's own defaults. Unknown arguments are
    errors; fields read from two paths must agree.
    """
    if not isinstance(kwargs, Mapping):
        raise StyleGANError(f"{where} arguments must be a dict, got {type(kwargs).__name__}")
    kwargs = copy.deepcopy(dict(kwargs))
    for name in flatten:
        kwargs.update(_sub_kwargs(kwargs.pop(name, None), f"{where} {name}"))
    groups: dict[str, dict[str, Any]] = {"": kwargs}
    known: dict[str, list[str]] = {"": []}
    for row in table:
        group, _, key = row.path.rpartition(".")
        if group not in groups:
            groups[group] = _sub_kwargs(kwargs.pop(group, None), f"{where} {group}")
            known[group] = []
            known[""].append(group)
        known[group].append(key)
    for path, message in (forbidden or {}).items():
        group, _, key = path.rpartition(".")
        if key in groups.get(group, {}):
            raise StyleGANError(message)
    for group, given in groups.items():
        for key in IGNORED_KWARGS:
            given.pop(key, None)
        unknown = sorted(set(given) - set(known[group]))
        if unknown:
            # "StyleGAN3 mapping", "discriminator epilogue": the network part, as users say it.
            part = group.removesuffix("_kwargs")
            label = f"{where.replace('generator', '').strip()} {part}".strip() if group else where
            raise StyleGANError(
                f"unsupported {label} argument(s) {unknown}: known are {sorted(known[group])}"
            )
    missing = [r.path for r in table if r.omitted == REQUIRED and r.path not in kwargs]
    if missing:
        raise StyleGANError(f"{where} arguments lack {missing}")

    values: dict[str, Any] = {}
    source: dict[str, str] = {}
    for row in table:
        group, _, key = row.path.rpartition(".")
        if key in groups[group]:
            value = groups[group][key]
        elif defaults and row.field in defaults:
            value = defaults[row.field]
        else:
            value = _field_default(cls, row.field)
        if row.field in source and values[row.field] != value:
            raise StyleGANError(
                f"different {row.field.rpartition('.')[2]}s in {source[row.field]} and "
                f"{row.path} are not supported: give the same value to both"
            )
        values[row.field] = value
        source[row.field] = row.path

    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for field, value in values.items():
        name, _, rest = field.partition(".")
        if rest:
            nested.setdefault(name, {})[rest] = value
        else:
            top[name] = value
    for name, sub in nested.items():
        top[name] = _field_default(cls, name).replace(**{k: _freeze(v) for k, v in sub.items()})
    return cls(**{k: _freeze(v) if k not in nested else v for k, v in top.items()})


def write_init_kwargs(config: ConfigBase, table: Sequence[Kwarg]) -> dict[str, Any]:
    """The official keyword arguments of ``config`` (inverse of :func:`read_init_kwargs`)."""
    d = config.to_dict()
    out: dict[str, Any] = {}
    for row in table:
        value = d
        for part in row.field.split("."):
            value = value[part]
        *groups, key = row.path.split(".")
        target = out
        for group in groups:
            target = target.setdefault(group, {})
        target[key] = copy.deepcopy(value)
    return out


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


# --------------------------------------------------------------------------------------------
# Checks shared by the configs


_HINTS: dict[type, dict[str, Any]] = {}


def _type_hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _plain_number(value: Any) -> Any:
    """NumPy scalars (e.g. from a pickle) as Python numbers, so the config saves to JSON."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, tuple):
        return tuple(_plain_number(v) for v in value)
    return value


def _has_type(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits ``hint``; a bool is no number, an int is a float, floats finite."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, h) for h in typing.get_args(hint))
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return isinstance(value, tuple) and all(_has_type(v, item) for v in value)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok and math.isfinite(value)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    if origin is tuple:
        return "a list of numbers"
    names = {int: "a whole number", float: "a finite number", bool: "true or false", str: "text"}
    if hint is type(None):
        return "null"
    return names.get(hint, f"a {getattr(hint, '__name__', hint)}")


def _check_at_least(cfg: Any, minimum: int, *names: str, allow_none: bool = False) -> None:
    for name in names:
        value = getattr(cfg, name)
        if value is None and allow_none:
            continue
        if value < minimum:
            none = " or null" if allow_none else ""
            raise StyleGANError(f"{name} must be >= {minimum}{none}, got {value}")


def _check_resolution(img_resolution: Any) -> None:
    ok = isinstance(img_resolution, int) and img_resolution >= 4
    if not ok or img_resolution & (img_resolution - 1):
        raise StyleGANError(
            f"img_resolution must be a power of two >= 4 (4, 8, ..., 1024), got {img_resolution!r}"
        )


def _check_conv_clamp(cfg: Any) -> None:
    if cfg.conv_clamp is not None and cfg.conv_clamp <= 0:
        raise StyleGANError(f"conv_clamp must be null (no clamping) or > 0, got {cfg.conv_clamp}")


def _check_activation(name: str) -> None:
    from stylegan.ops.bias_act import activation_funcs

    if name not in activation_funcs:
        raise StyleGANError(
            f"unknown activation {name!r}: choose one of {', '.join(activation_funcs)}"
        )


def _check_widths(cfg: Any) -> None:
    """Channels, labels and the resolution of a StyleGAN 1 or 2 network."""
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


def _check_common(cfg: Any) -> None:
    """What StyleGAN2's G and D share: widths, architecture, clamp, precision, activation."""
    _check_widths(cfg)
    if cfg.architecture not in ARCHITECTURES:
        raise StyleGANError(
            f"unknown architecture {cfg.architecture!r}: choose one of {', '.join(ARCHITECTURES)}"
        )
    _check_conv_clamp(cfg)
    _check_at_least(cfg, 0, "num_fp16_res")
    _check_activation(cfg.activation)


def _check_has_input(cfg: Any) -> None:
    """The mapping network needs z or labels (z_dim 0 is a label-only generator)."""
    if cfg.z_dim < 1 and cfg.c_dim < 1:
        raise StyleGANError(
            f"need z_dim >= 1 or c_dim >= 1 (the mapping network needs an input), got z_dim "
            f"{cfg.z_dim} and c_dim {cfg.c_dim}"
        )


def _resolutions(img_resolution: int) -> list[int]:
    return [2**i for i in range(2, img_resolution.bit_length())]


def _mapping_size(cfg: Any) -> int:
    """Weights of the mapping network (and the label embedding) of a generator config."""
    m = cfg.mapping
    embed = (m.embed_features if m.embed_features is not None else cfg.w_dim) if cfg.c_dim else 0
    hidden = m.layer_features if m.layer_features is not None else cfg.w_dim
    features = [cfg.z_dim + embed] + [hidden] * (m.num_layers - 1) + [cfg.w_dim]
    layers = sum(a * b for a, b in zip(features[: m.num_layers], features[1 : m.num_layers + 1]))
    return cfg.c_dim * embed + layers


def _styled_synthesis_size(cfg: Any, kernel_size: int) -> int:
    """Weights and noise buffers of a StyleGAN 1 or 2 synthesis network (an upper estimate)."""
    size, prev = 0, cfg.channels(4)
    for res in _resolutions(cfg.img_resolution):
        c = cfg.channels(res)
        convs = kernel_size**2 * (prev * c + c * c) + cfg.w_dim * (prev + c)
        size += convs + 2 * res * res + (cfg.w_dim + cfg.img_channels) * c
        prev = c
    return size


def _discriminator_size(cfg: Any) -> int:
    """Weights of a StyleGAN 1 or 2 discriminator (an upper estimate)."""
    size = sum(
        9 * (cfg.channels(r) ** 2 + cfg.channels(r) * cfg.channels(max(r // 2, 4)))
        + 2 * cfg.img_channels * cfg.channels(r)
        for r in _resolutions(cfg.img_resolution)
    )
    c4 = cfg.channels(4)
    return size + 17 * (c4 + 1) ** 2 + (c4 + 1) * (cfg.c_dim + 1) * 2


def _check_size(cfg: Any, estimate: Any, fields: Sequence[str]) -> None:
    """Refuse a config whose network would exceed MAX_NETWORK_SIZE, naming the culprits."""
    size, limit = estimate(cfg), MAX_NETWORK_SIZE
    if size <= limit:
        return
    # The culprits: fields that alone, back at their default (or a typical width), bring the
    # size under the limit.
    culprits = []
    for name in fields:
        default = _field_default(type(cfg), name)
        typical = _TYPICAL_SIZES.get(name, 1) if default == REQUIRED else default
        if typical != getattr(cfg, name) and estimate(_Probe(cfg, name, typical)) <= limit:
            culprits.append(name)
    named = culprits or list(fields)
    shown = ", ".join(f"{n}={getattr(cfg, n)}" for n in named)
    raise StyleGANError(
        f"{type(cfg).__name__} would build a network of about {size:.2g} parameters "
        f"(limit {MAX_NETWORK_SIZE:.0e}): {shown} {'is' if len(named) == 1 else 'are'} too "
        "large; use smaller sizes"
    )


# Widths of the official networks, for fields that have no default.
_TYPICAL_SIZES = {"z_dim": 512, "w_dim": 512, "c_dim": 0, "img_channels": 3, "img_resolution": 1024}


class _Probe:
    """``cfg`` with one field changed, for size estimates (no checks, no copy)."""

    def __init__(self, cfg: Any, name: str, value: Any):
        self._cfg, self._name, self._value = cfg, name, value

    def __getattr__(self, attr: str) -> Any:
        return self._value if attr == self._name else getattr(self._cfg, attr)

    def channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)


# --------------------------------------------------------------------------------------------
# Configs


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


def _check_defaults(defaults: str) -> None:
    if defaults not in OFFICIAL_DEFAULTS:
        raise StyleGANError(f"unknown defaults {defaults!r}: use {list(OFFICIAL_DEFAULTS)}")


def _repository_defaults(defaults: str, network: str, prefix: str = "") -> dict[str, Any]:
    """OFFICIAL_DEFAULTS of one network; ``prefix`` picks and strips nested field paths."""
    _check_defaults(defaults)
    table = OFFICIAL_DEFAULTS[defaults][network]
    if not prefix:
        return dict(table)
    return {k[len(prefix) :]: v for k, v in table.items() if k.startswith(prefix)}


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
        return read_init_kwargs(cls, _MAPPING_TABLE, kwargs, "mapping", repo)

    def to_init_kwargs(self) -> dict[str, Any]:
        """Official ``mapping_kwargs``."""
        return write_init_kwargs(self, _MAPPING_TABLE)


_MAPPING_FIELDS = (
    "num_layers",
    "embed_features",
    "layer_features",
    "activation",
    "lr_multiplier",
    "w_avg_beta",
)
_MAPPING_TABLE = _table(*_MAPPING_FIELDS)


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
    num_fp16_res: int = 4  # the N highest resolutions run in low precision (set_mixed_precision)
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
        self._prepare_fields()
        _check_common(self)
        if self.w_dim < 1 or self.z_dim < 0:
            raise StyleGANError(f"need w_dim >= 1 and z_dim >= 0, got {self.w_dim}, {self.z_dim}")
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
            cls, _GENERATOR_TABLE, kwargs, "generator", repo, flatten=("synthesis_kwargs",)
        )

    def to_init_kwargs(self) -> dict[str, Any]:
        """Official (stylegan3-repository) generator keyword arguments."""
        return write_init_kwargs(self, _GENERATOR_TABLE)


_GENERATOR_TOP = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
# The fields a size estimate may blame; D configs have those from c_dim on.
_SIZE_FIELDS = ("z_dim", "w_dim", "c_dim", "img_resolution", "img_channels")
_SIZE_FIELDS += ("channel_base", "channel_max")
_GENERATOR_TABLE = _table(
    *_top(*_GENERATOR_TOP), *_mapping(*_MAPPING_FIELDS), *GeneratorConfig.SYNTHESIS_KWARGS
)


def _generator_size(cfg: Any) -> int:
    return _mapping_size(cfg) + _styled_synthesis_size(cfg, cfg.kernel_size)


@dataclasses.dataclass(frozen=True)
class DiscriminatorConfig(ConfigBase):
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
            cls, _DISCRIMINATOR_TABLE, kwargs, "discriminator", repo, forbidden=forbidden
        )

    def to_init_kwargs(self) -> dict[str, Any]:
        """Official discriminator keyword arguments."""
        return write_init_kwargs(self, _DISCRIMINATOR_TABLE)


# The block and the epilogue both take an activation; ours is one field, so they must agree.
_DISCRIMINATOR_TABLE = _table(
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
    num_fp16_res: int = 4  # layers within N octaves of the output run in low precision (opt-in)
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
        self._prepare_fields()
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
        _check_conv_clamp(self)
        _check_at_least(self, 0, "num_fp16_res")
        _check_has_input(self)
        _check_size(self, _stylegan3_size, (*_SIZE_FIELDS, "num_layers", "margin_size"))

    @property
    def num_ws(self) -> int:
        """How many w vectors the synthesis network consumes: input, each layer, and ToRGB."""
        return self.num_layers + 2

    @classmethod
    def from_init_kwargs(cls, kwargs: Mapping[str, Any]):
        """Read an official StyleGAN3 generator's ``init_kwargs``
        (``training/networks_stylegan3.py``)."""
        return read_init_kwargs(cls, _STYLEGAN3_TABLE, kwargs, "StyleGAN3 generator")

    def to_init_kwargs(self) -> dict[str, Any]:
        """Official StyleGAN3 generator keyword arguments."""
        return write_init_kwargs(self, _STYLEGAN3_TABLE)


# The StyleGAN3 mapping network takes a subset of ours.
_STYLEGAN3_TABLE = _table(
    *_top(*_GENERATOR_TOP),
    *_mapping("num_layers", "lr_multiplier", "w_avg_beta"),
    *StyleGAN3GeneratorConfig.SYNTHESIS_KWARGS,
)


def _stylegan3_size(cfg: Any) -> int:
    """Mapping plus every layer at the widest (channel_max, twice for the input's Fourier
    features), and the image-sized activations the margin adds: an upper estimate."""
    c = min(cfg.channel_max, cfg.channel_base)
    layers = (cfg.num_layers + 2) * (cfg.conv_kernel**2 * c * c + cfg.w_dim * c)
    side = cfg.img_resolution + 2 * cfg.margin_size
    return _mapping_size(cfg) + layers + side * side + cfg.img_channels * c


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
        self._prepare_fields()
        _check_widths(self)
        if self.w_dim < 1 or self.z_dim < 1:
            raise StyleGANError(f"need w_dim >= 1 and z_dim >= 1, got {self.w_dim}, {self.z_dim}")
        if self.mapping.w_avg_beta is None:
            raise StyleGANError("the StyleGAN mapping network tracks w_avg: set w_avg_beta")
        _check_size(self, _stylegan1_size, _SIZE_FIELDS)

    @property
    def num_ws(self) -> int:
        """One w per layer: two per resolution from 4x4 up (18 at 1024 px)."""
        return 2 * (self.img_resolution.bit_length() - 1) - 2

    @classmethod
    def from_init_kwargs(cls, kwargs: Mapping[str, Any]):
        """Read our constructor keyword arguments (laid out as the official PyTorch ones)."""
        return read_init_kwargs(cls, _STYLEGAN1_TABLE, kwargs, "StyleGAN generator")

    def to_init_kwargs(self) -> dict[str, Any]:
        """Constructor keyword arguments that rebuild this network."""
        return write_init_kwargs(self, _STYLEGAN1_TABLE)


# The StyleGAN (v1) mapping network: z is pixel-normed, w tracked with 0.995; no label embedding.
_STYLEGAN1_TABLE = _table(
    *_top(*_GENERATOR_TOP),
    *_mapping("num_layers", "layer_features", "activation", "lr_multiplier", "w_avg_beta"),
    *StyleGAN1GeneratorConfig.SYNTHESIS_KWARGS,
)


def _stylegan1_size(cfg: Any) -> int:
    return _mapping_size(cfg) + _styled_synthesis_size(cfg, 3)


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
        self._prepare_fields()
        _check_widths(self)
        if self.img_resolution < 8:
            raise StyleGANError("the discriminator needs img_resolution >= 8")
        if self.mbstd_num_channels < 0:
            raise StyleGANError(f"mbstd_num_channels must be >= 0, got {self.mbstd_num_channels}")
        _check_at_least(self, 1, "mbstd_group_size", allow_none=True)
        _check_size(self, _discriminator_size, _SIZE_FIELDS[2:])

    @classmethod
    def from_init_kwargs(cls, kwargs: Mapping[str, Any]):
        """Read our constructor keyword arguments."""
        return read_init_kwargs(cls, _STYLEGAN1_D_TABLE, kwargs, "StyleGAN discriminator")

    def to_init_kwargs(self) -> dict[str, Any]:
        """Constructor keyword arguments that rebuild this network."""
        return write_init_kwargs(self, _STYLEGAN1_D_TABLE)


_STYLEGAN1_D_TABLE = _table(
    *_top("c_dim", "img_resolution", "img_channels"),
    "channel_base",
    "channel_max",
    "mbstd_group_size",
    "mbstd_num_channels",
    "resample_filter",
)
