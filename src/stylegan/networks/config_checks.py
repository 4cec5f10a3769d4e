"""The checks every config runs where it is made: field types, ranges, and the size of the
network it would build (refused above ``MAX_NETWORK_SIZE`` before anything is allocated).
"""

from __future__ import annotations

import math
import numbers
import types
import typing
from collections.abc import Sequence
from typing import Any

from stylegan.errors import StyleGANError
from stylegan.networks.config_kwargs import REQUIRED, _field_default

ARCHITECTURES = ("orig", "skip", "resnet")

# A config whose network would hold more numbers (parameters and buffers) than this is refused
# before anything is allocated: no real StyleGAN comes near (StyleGAN3-R 1024 px: ~3e7).
MAX_NETWORK_SIZE = 2e9

# The fields a size estimate may blame; D configs have those from c_dim on.
_SIZE_FIELDS = ("z_dim", "w_dim", "c_dim", "img_resolution", "img_channels")
_SIZE_FIELDS += ("channel_base", "channel_max")


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
