"""The bridge between NVIDIA's keyword arguments and our config fields.

Official pickles describe a network by the keyword arguments of its constructor (``init_kwargs``,
nested dicts passed through several classes). One table per network (rows of :class:`Kwarg`) says
where each argument sits (``mapping_kwargs.num_layers``) and which field it fills
(``mapping.num_layers``); :func:`read_init_kwargs` reads them into a config and
:func:`write_init_kwargs` writes them back. ``OFFICIAL_DEFAULTS`` holds the class defaults that
differ between the two official repositories.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from stylegan.errors import StyleGANError

if TYPE_CHECKING:
    from stylegan.networks.config import ConfigBase

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
