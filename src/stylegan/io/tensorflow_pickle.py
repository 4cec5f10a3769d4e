"""Reading a TensorFlow StyleGAN pickle's structure, and the rule machinery both formats share.

Which build function made a network (:func:`is_stylegan1`) and whether its pickle version can be
read; its variables, named ``component/.../name`` (:func:`tf_variables`); progressive-growing
names ``ToRGB_lod{k}`` / ``FromRGB_lod{k}``, which stand for the layer at ``resolution / 2**k``
(renamed on the way in, spelled back in error messages); the settings rules (``static_kwargs`` ->
official constructor arguments, :data:`KwargRule`) and the weight rules (our tensor -> TF
variable + :data:`TRANSFORMS` entry, :data:`Rule`) the StyleGAN2 tables
(:mod:`stylegan.io.tensorflow_sg2`) and StyleGAN (v1) tables (:mod:`stylegan.io.tensorflow_sg1`)
are written in; and building our network from them. The overview: :mod:`stylegan.io.tensorflow`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.io.limits import build_network, count_elements
from stylegan.io.safe_pickle import TFNetwork, to_plain

MIN_VERSION = 4  # what every StyleGAN2 / StyleGAN2-ADA release writes
MIN_VERSION_STYLEGAN1 = (
    2  # NVlabs/stylegan writes 3 (and reads 2); the stylegan2 code re-saves as 4
)
STYLEGAN1_FUNCS = ("G_style", "D_basic")


# ---- settings ---------------------------------------------------------------------------------

# TF static kwarg -> official constructor argument(s) (dotted = nested dict), TF default, and a
# conversion of the value (None in TF means "default", mapped here where it differs).
KwargRule = tuple[str, tuple[str, ...], Any, Callable[[Any], Any] | None]


def _twice(v: Any) -> Any:
    return 2 * v


def _box_if_none(v: Any) -> Any:
    return [1, 1] if v is None else v


def _one_if_none(v: Any) -> Any:
    return 1 if v is None else v


def _init_kwargs(
    tf_net: TFNetwork,
    rules: tuple[KwargRule, ...],
    ignored: tuple[str, ...],
    what: str,
    unknown_hint: str = "a setting the official converter refuses too (StyleGAN2 configs A-D, "
    "ADA comparison methods); only StyleGAN2 config E/F and StyleGAN2-ADA networks can be "
    "imported",
) -> dict[str, Any]:
    """Official constructor kwargs from ``static_kwargs``; unknown kwargs are refused."""
    static = to_plain(dict(tf_net.static_kwargs))
    known = {rule[0] for rule in rules} | set(ignored)
    for name in static:
        if name not in known:
            raise StyleGANError(
                f"the TensorFlow {what} was built with {name}={static[name]!r}, {unknown_hint}"
            )
    out: dict[str, Any] = {}
    for tf_name, targets, default, convert in rules:
        value = static.get(tf_name, default)
        value = convert(value) if convert is not None else value
        for target in targets:
            head, _, leaf = target.rpartition(".")
            (out.setdefault(head, {}) if head else out)[leaf] = value
    return out


# ---- weights ----------------------------------------------------------------------------------

# Transform name -> (TF array -> ours, our shape -> the TF shape it comes from).
TRANSFORMS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[tuple], tuple]]] = {
    "same": (lambda a: a, lambda s: s),
    "dense": (lambda a: a.T, lambda s: s[::-1]),
    "conv": (lambda a: a.transpose(3, 2, 0, 1), lambda s: (s[2], s[3], s[1], s[0])),
    "conv_flip": (
        lambda a: a[::-1, ::-1].transpose(3, 2, 0, 1),
        lambda s: (s[2], s[3], s[1], s[0]),
    ),
    "mod_bias": (lambda a: a + 1, lambda s: s),
    "batch": (lambda a: a[0], lambda s: (1, *s)),
    "noise": (lambda a: a[0, 0], lambda s: (1, 1, *s)),
    "lrelu_bias": (lambda a: a / np.sqrt(2), lambda s: s),
    "style_bias": (lambda a: a + np.repeat([1.0, 0.0], len(a) // 2), lambda s: s),
}
FIXED = None  # target of the buffers that are constants of the architecture

# Our parameter / buffer -> TF variable + transform; the first matching row wins. In our names
# {r} / {i} match a number and * anything; in TF names {R} is "{r}x{r}" and {n0} / {n1} are the
# indices of the noise inputs of conv0 / conv1 at resolution {r}.
Rule = tuple[str, str | None, str | None]


# A discriminator block's own layers, named alike by the StyleGAN and StyleGAN2 TF code.
_DISCRIMINATOR_BLOCK_RULES: tuple[Rule, ...] = (
    ("b{r}.fromrgb.weight", "{R}/FromRGB/weight", "conv"),
    ("b{r}.fromrgb.bias", "{R}/FromRGB/bias", "same"),
    ("b{r}.conv0.weight", "{R}/Conv0/weight", "conv"),
    ("b{r}.conv0.bias", "{R}/Conv0/bias", "same"),
    ("b{r}.conv1.weight", "{R}/Conv1_down/weight", "conv"),
    ("b{r}.conv1.bias", "{R}/Conv1_down/bias", "same"),
)


@functools.cache
def _pattern(name: str) -> re.Pattern:
    """A rule's name of ours as a regex: ``{r}`` / ``{i}`` match a number, ``*`` anything."""
    pattern = re.escape(name).replace(r"\*", ".*")
    return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>\\d+)", pattern))


def tf_variables(tf_net: TFNetwork) -> dict[str, np.ndarray]:
    """All variables of a network and its sub-networks, named ``component/.../name``."""
    out: dict[str, np.ndarray] = {}

    def collect(net: TFNetwork, prefix: str) -> None:
        for name, value in net.variables:
            out[prefix + name] = np.asarray(value)
        for key, sub in net.components.items():
            if not isinstance(sub, TFNetwork):
                raise StyleGANError(
                    f"TensorFlow component {prefix}{key} is a {type(sub).__name__}, not a "
                    "network; the file is not a TensorFlow StyleGAN pickle we can read"
                )
            collect(sub, f"{prefix}{key}/")

    collect(tf_net, "")
    return out


def _rename_lod(variables: dict[str, np.ndarray], layer: str, resolution: int) -> dict[str, str]:
    """``[prefix/]{layer}_lod{k}/x`` -> ``[prefix/]{R}x{R}/{layer}/x`` in place; new -> old name."""
    renamed = {}
    for name in list(variables):
        m = re.fullmatch(rf"(.*/)?{layer}_lod(\d+)/(.+)", name)
        if m:
            r = resolution >> int(m.group(2))
            new = f"{m.group(1) or ''}{r}x{r}/{layer}/{m.group(3)}"
            variables[new] = variables.pop(name)
            renamed[new] = name
    return renamed


def _lod_name(name: str, layer: str, resolution: int) -> str:
    """``[prefix/]{R}x{R}/{layer}/x`` -> ``[prefix/]{layer}_lod{k}/x`` (:func:`_rename_lod`
    undone)."""
    log2 = resolution.bit_length() - 1

    def lod(m: re.Match) -> str:
        return f"{layer}_lod{log2 - (int(m.group(1)).bit_length() - 1)}/"

    return re.sub(rf"(?<![^/])(\d+)x\1/{layer}/", lod, name)


def _lookup(name: str, rules: tuple[Rule, ...], what: str) -> tuple[str | None, str | None]:
    """``(TF variable name, transform)`` for our tensor ``name``; ``(None, None)`` if fixed."""
    for pattern, template, transform in rules:
        m = _pattern(pattern).fullmatch(name)
        if m is None:
            continue
        if template is None:
            return None, None
        fields: dict[str, Any] = m.groupdict()
        if "r" in fields:
            r = int(fields["r"])
            log2 = r.bit_length() - 1
            # Noise inputs: StyleGAN2 numbers them from conv1 at 4x4, StyleGAN from the constant.
            fields.update(
                R=f"{r}x{r}", n0=2 * log2 - 5, n1=2 * log2 - 4, v0=2 * log2 - 4, v1=2 * log2 - 3
            )
        return template.format(**fields), transform
    raise StyleGANError(f"no TensorFlow variable is known for {what} {name}")


def _fill(
    net: nn.Module,
    variables: dict[str, np.ndarray],
    rules: tuple[Rule, ...],
    what: str,
    pickle_name: Callable[[str], str] = str,
):
    """Copy a TF variable into every parameter and buffer of ``net``; returns the names used.

    ``pickle_name`` gives a variable's name as the pickle spells it, for error messages."""
    used: set[str] = set()
    tensors = list(net.named_parameters()) + list(net.named_buffers())
    with torch.no_grad():
        for name, tensor in tensors:
            tf_name, transform = _lookup(name, rules, what)
            if tf_name is None:
                continue
            if tf_name not in variables:
                raise StyleGANError(
                    f"the TensorFlow {what} has no variable {pickle_name(tf_name)!r} (needed "
                    f"for {name}); "
                    "the pickle is incomplete or its static kwargs do not describe its weights"
                )
            forward, tf_shape = TRANSFORMS[transform]
            value = variables[tf_name]
            expected = tuple(tf_shape(tuple(tensor.shape)))
            if tuple(value.shape) != expected:
                raise StyleGANError(
                    f"TensorFlow variable {pickle_name(tf_name)!r} of the {what} has shape "
                    f"{list(value.shape)}, but its static kwargs need {list(expected)}; the "
                    "pickle's settings and weights disagree"
                )
            array = np.array(forward(value), dtype=np.float32, order="C")  # 0-d stays 0-d
            tensor.copy_(torch.from_numpy(array).to(tensor.dtype))
            used.add(tf_name)
    return used


def _check_network(tf_net: Any, what: str) -> None:
    if not isinstance(tf_net, TFNetwork):
        raise StyleGANError(
            f"the {what} is a {type(tf_net).__name__}, not a TensorFlow network; "
            "read the file with stylegan.io.safe_pickle.safe_load"
        )
    minimum = MIN_VERSION_STYLEGAN1 if is_stylegan1(tf_net) else MIN_VERSION
    if tf_net.version < minimum:
        raise StyleGANError(
            f"the TensorFlow {what} {tf_net.name!r} has pickle version {tf_net.version}; only "
            f"version {MIN_VERSION} and later (StyleGAN2, StyleGAN2-ADA releases) and, for the "
            f"original StyleGAN's G_style / D_basic, {MIN_VERSION_STYLEGAN1} and later can be "
            "imported"
        )


def is_stylegan1(tf_net: TFNetwork) -> bool:
    """StyleGAN (v1): built by ``G_style`` / ``D_basic`` of NVlabs/stylegan's
    ``training/networks_stylegan.py``. (Its synthesis function's name, ``G_synthesis``, tells
    nothing: StyleGAN2-ADA's is called the same.)"""
    return tf_net.build_func_name in STYLEGAN1_FUNCS


def _fixed_structure(
    tf_net: TFNetwork, net: nn.Module, variables: dict[str, np.ndarray], rules: tuple, what: str
) -> None:
    """``structure='fixed'`` networks have no RGB layers below the top resolution and ignore
    ``lod``: give those layers zeros (never used at lod 0) and pin ``lod`` to 0, in place."""
    if to_plain(dict(tf_net.static_kwargs)).get("structure") != "fixed":
        return
    top = net.img_resolution
    for name, tensor in [*net.named_parameters(), *net.named_buffers()]:
        tf_name, transform = _lookup(name, rules, what)
        m = re.search(r"(?:^|/)(\d+)x\1/(ToRGB|FromRGB)/", tf_name or "")
        if m and int(m.group(1)) < top and tf_name not in variables:
            shape = TRANSFORMS[transform][1](tuple(tensor.shape))
            variables[tf_name] = np.zeros(shape, np.float32)
    variables["lod"] = np.float32(0)


def _build(
    tf_net: TFNetwork, kwargs: dict, rgb_layer: str, cls: Any, rules: tuple[Rule, ...], what: str
) -> tuple[nn.Module, list[str]]:
    """Our network from official kwargs and the TF variables; also the unused variable names."""
    variables = tf_variables(tf_net)
    renamed = _rename_lod(variables, rgb_layer, kwargs["img_resolution"])
    stored = count_elements(variables.values())
    if cls.__module__.endswith("stylegan1"):
        net = build_network(cls, cls.config_class.from_init_kwargs(kwargs), what, stored)
        _fixed_structure(tf_net, net, variables, rules, what)
    else:
        if renamed:
            kwargs["architecture"] = "orig"
        config = cls.config_class.from_init_kwargs(kwargs, defaults="stylegan2-ada")
        net = build_network(cls, config, what, stored)
    resolution = kwargs["img_resolution"]
    pickle_name = functools.partial(_lod_name, layer=rgb_layer, resolution=resolution)
    used = _fill(net, variables, rules, what, pickle_name if renamed else str)
    return net.eval(), sorted(renamed.get(n, n) for n in set(variables) - used)
