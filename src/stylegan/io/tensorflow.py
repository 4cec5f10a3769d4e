"""NVIDIA's TensorFlow StyleGAN, StyleGAN2 and StyleGAN2-ADA pickles to our networks, without
TensorFlow.

A TensorFlow release pickle is a tuple ``(G, D, Gs)`` of ``dnnlib.tflib.network.Network``
objects; :func:`stylegan.io.safe_pickle.safe_load` turns each into a
:class:`~stylegan.io.safe_pickle.TFNetwork` (build function name, ``static_kwargs``, numpy
variables, sub-networks) and never runs the source stored with it. The rules, which are those of
the official converter (``legacy.py`` of stylegan2-ada-pytorch / stylegan3):

* Settings: the ``static_kwargs`` become official constructor arguments, with the TensorFlow
  defaults where a kwarg is absent (:data:`GENERATOR_KWARGS`, :data:`DISCRIMINATOR_KWARGS`);
  e.g. ``channel_base = 2 * fmap_base``, ``w_avg_beta`` 0.995 (None -> 1, i.e. frozen). A kwarg
  outside these tables (StyleGAN2 configs A-D, ADA comparison methods) is refused.
* Weights: every parameter and buffer of our network comes from one TensorFlow variable
  (:data:`GENERATOR_RULES`, :data:`DISCRIMINATOR_RULES`; names of sub-networks are prefixed,
  ``mapping/Dense0/weight``), except the fixed ``resample_filter`` buffers. Dense weights are
  ``[in, out]`` -> ``[out, in]``; conv kernels ``[kh, kw, in, out]`` -> ``[out, in, kh, kw]``,
  flipped spatially for the generator's ``Conv0_up`` and ``Skip`` (TensorFlow upsamples with a
  transposed convolution); ``mod_bias`` gets + 1 (TensorFlow adds it at run time);
  ``noise{i}`` ``[1, 1, R, R]`` -> ``noise_const [R, R]``; ``dlatent_avg`` -> ``mapping.w_avg``.
* Progressive-growing names ``ToRGB_lod{k}`` / ``FromRGB_lod{k}`` stand for the layer at
  ``resolution / 2**k`` and mean architecture ``'orig'``. (The official converter means to do
  the same for ``ToRGB_lod``, but its pattern misses the ``synthesis/`` prefix, and the line
  that would set ``'orig'`` names a key that does not exist, so it fails on such pickles.)

Differences from ``legacy.py``, each where it would give a wrong or no network: a missing
``label_fmaps`` means ``latent_size`` (the TensorFlow default), not ``dlatent_size``;
``resample_kernel=None`` means the box filter ``[1, 1]`` (TensorFlow) rather than no filter; the
StyleGAN2-repository discriminators (``D_stylegan2``, ``D_stylegan``) default to minibatch-stddev
groups of 4 (their TensorFlow default), not the whole minibatch.

StyleGAN (v1) pickles (NVlabs/stylegan: ``G_style`` with ``G_mapping`` / ``G_synthesis``, and
``D_basic``; pickle version 3, which ``legacy.py`` cannot read) map onto
:mod:`stylegan.networks.stylegan1` with :data:`STYLEGAN1_GENERATOR_RULES` /
:data:`STYLEGAN1_DISCRIMINATOR_RULES`, in the same layouts, except: the generator's fused
up-convolutions (``fused_scale='auto'``: 128 px and more; ``True``: all) are flipped, as the
original computes them as transposed convolutions (its fused down-convolutions are strided
correlations: no flip); the biases of dense layers followed by a leaky ReLU are divided by
sqrt(2) (the original puts the ReLU gain into the weight, our shared dense layer applies it
after the activation); the style bias gets + 1 on its scale half; ``noise{i}`` is numbered from
the 4x4 constant's layer (0) up; ``lod`` is G_style's own variable (it overwrites the synthesis
network's before every run). ``truncation_psi`` / ``truncation_cutoff`` become the generator's
default truncation (0.7 on 8 layers unless set; no cutoff = none). ``structure='fixed'``
networks lack the lower RGB layers, which get zeros (they ignore ``lod``). The original's
ablation options, conditional generators and blur filters TensorFlow places differently from us
(even-length or asymmetric) are refused by name. Checked against NVIDIA's own code run under
TensorFlow: ``scripts/make_tf_sg1_fixtures.py``, ``tests/io/test_tensorflow_sg1.py``.
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
from stylegan.io.safe_pickle import TFNetwork, json_safe, to_plain

FORMAT = "nvidia-tensorflow"
MIN_VERSION = 4  # what every StyleGAN2 / StyleGAN2-ADA release writes
MIN_VERSION_STYLEGAN1 = (
    2  # NVlabs/stylegan writes 3 (and reads 2); the stylegan2 code re-saves as 4
)
NETWORK_KEYS = ("G", "D", "G_ema")  # ours, for the pickle's (G, D, Gs)
STYLEGAN1_FUNCS = ("G_style", "D_basic")
SG2_REPO_DISCRIMINATORS = ("D_stylegan2", "D_stylegan")  # mbstd groups of 4 by default


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


GENERATOR_KWARGS: tuple[KwargRule, ...] = (
    ("latent_size", ("z_dim",), 512, None),
    ("label_size", ("c_dim",), 0, None),
    ("dlatent_size", ("w_dim",), 512, None),
    ("resolution", ("img_resolution",), 1024, None),
    ("num_channels", ("img_channels",), 3, None),
    ("fmap_base", ("channel_base",), 16384, _twice),
    ("fmap_max", ("channel_max",), 512, None),
    ("num_fp16_res", ("num_fp16_res",), 0, None),
    ("conv_clamp", ("conv_clamp",), None, None),
    ("architecture", ("architecture",), "skip", None),
    ("resample_kernel", ("resample_filter",), [1, 3, 3, 1], _box_if_none),
    ("use_noise", ("use_noise",), True, None),
    ("nonlinearity", ("activation",), "lrelu", None),
    ("mapping_layers", ("mapping_kwargs.num_layers",), 8, None),
    ("label_fmaps", ("mapping_kwargs.embed_features",), None, None),  # None: latent_size
    ("mapping_fmaps", ("mapping_kwargs.layer_features",), None, None),
    ("mapping_nonlinearity", ("mapping_kwargs.activation",), "lrelu", None),
    ("mapping_lrmul", ("mapping_kwargs.lr_multiplier",), 0.01, None),
    ("w_avg_beta", ("mapping_kwargs.w_avg_beta",), 0.995, _one_if_none),
)
# Accepted and without effect on the PyTorch network (run-time or training-only settings).
GENERATOR_IGNORED = (
    "truncation_psi",
    "truncation_cutoff",
    "style_mixing_prob",
    "structure",
    "conditioning",
    "fused_modconv",
)

DISCRIMINATOR_KWARGS: tuple[KwargRule, ...] = (
    ("label_size", ("c_dim",), 0, None),
    ("resolution", ("img_resolution",), 1024, None),
    ("num_channels", ("img_channels",), 3, None),
    ("architecture", ("architecture",), "resnet", None),
    ("fmap_base", ("channel_base",), 16384, _twice),
    ("fmap_max", ("channel_max",), 512, None),
    ("num_fp16_res", ("num_fp16_res",), 0, None),
    ("conv_clamp", ("conv_clamp",), None, None),
    (
        "mapping_fmaps",
        ("cmap_dim", "mapping_kwargs.embed_features", "mapping_kwargs.layer_features"),
        None,
        None,
    ),
    (
        "nonlinearity",
        ("block_kwargs.activation", "mapping_kwargs.activation", "epilogue_kwargs.activation"),
        "lrelu",
        None,
    ),
    ("resample_kernel", ("block_kwargs.resample_filter",), [1, 3, 3, 1], _box_if_none),
    ("freeze_layers", ("block_kwargs.freeze_layers",), 0, None),
    ("mapping_layers", ("mapping_kwargs.num_layers",), 0, None),
    ("mapping_lrmul", ("mapping_kwargs.lr_multiplier",), 0.1, None),
    ("mbstd_group_size", ("epilogue_kwargs.mbstd_group_size",), None, None),
    ("mbstd_num_features", ("epilogue_kwargs.mbstd_num_channels",), 1, None),
)
DISCRIMINATOR_IGNORED = ("structure", "conditioning")


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


def _sg2_layer(ours: str, scope: str, noise: str, conv: str = "conv") -> tuple[Rule, ...]:
    """Rules of one modulated conv layer: weight (``conv_flip`` where it upsamples), bias,
    noise strength and input, style."""
    return (
        (f"{ours}.weight", f"{scope}/weight", conv),
        (f"{ours}.bias", f"{scope}/bias", "same"),
        (f"{ours}.noise_strength", f"{scope}/noise_strength", "same"),
        (f"{ours}.noise_const", f"synthesis/{noise}", "noise"),
        (f"{ours}.affine.weight", f"{scope}/mod_weight", "dense"),
        (f"{ours}.affine.bias", f"{scope}/mod_bias", "mod_bias"),
    )


# A discriminator block's own layers, named alike by the StyleGAN and StyleGAN2 TF code.
_DISCRIMINATOR_BLOCK_RULES: tuple[Rule, ...] = (
    ("b{r}.fromrgb.weight", "{R}/FromRGB/weight", "conv"),
    ("b{r}.fromrgb.bias", "{R}/FromRGB/bias", "same"),
    ("b{r}.conv0.weight", "{R}/Conv0/weight", "conv"),
    ("b{r}.conv0.bias", "{R}/Conv0/bias", "same"),
    ("b{r}.conv1.weight", "{R}/Conv1_down/weight", "conv"),
    ("b{r}.conv1.bias", "{R}/Conv1_down/bias", "same"),
)
GENERATOR_RULES: tuple[Rule, ...] = (
    ("mapping.w_avg", "dlatent_avg", "same"),
    ("mapping.embed.weight", "mapping/LabelEmbed/weight", "dense"),
    ("mapping.embed.bias", "mapping/LabelEmbed/bias", "same"),
    ("mapping.fc{i}.weight", "mapping/Dense{i}/weight", "dense"),
    ("mapping.fc{i}.bias", "mapping/Dense{i}/bias", "same"),
    ("synthesis.b4.const", "synthesis/4x4/Const/const", "batch"),
    *_sg2_layer("synthesis.b4.conv1", "synthesis/4x4/Conv", "noise0"),
    *_sg2_layer("synthesis.b{r}.conv0", "synthesis/{R}/Conv0_up", "noise{n0}", "conv_flip"),
    *_sg2_layer("synthesis.b{r}.conv1", "synthesis/{R}/Conv1", "noise{n1}"),
    ("synthesis.b{r}.torgb.weight", "synthesis/{R}/ToRGB/weight", "conv"),
    ("synthesis.b{r}.torgb.bias", "synthesis/{R}/ToRGB/bias", "same"),
    ("synthesis.b{r}.torgb.affine.weight", "synthesis/{R}/ToRGB/mod_weight", "dense"),
    ("synthesis.b{r}.torgb.affine.bias", "synthesis/{R}/ToRGB/mod_bias", "mod_bias"),
    ("synthesis.b{r}.skip.weight", "synthesis/{R}/Skip/weight", "conv_flip"),
    ("*.resample_filter", FIXED, None),
)
DISCRIMINATOR_RULES: tuple[Rule, ...] = (
    *_DISCRIMINATOR_BLOCK_RULES,
    ("b{r}.skip.weight", "{R}/Skip/weight", "conv"),
    ("mapping.embed.weight", "LabelEmbed/weight", "dense"),
    ("mapping.embed.bias", "LabelEmbed/bias", "same"),
    ("mapping.fc{i}.weight", "Mapping{i}/weight", "dense"),
    ("mapping.fc{i}.bias", "Mapping{i}/bias", "same"),
    ("b4.conv.weight", "4x4/Conv/weight", "conv"),
    ("b4.conv.bias", "4x4/Conv/bias", "same"),
    ("b4.fc.weight", "4x4/Dense0/weight", "dense"),
    ("b4.fc.bias", "4x4/Dense0/bias", "same"),
    ("b4.out.weight", "Output/weight", "dense"),
    ("b4.out.bias", "Output/bias", "same"),
    ("*.resample_filter", FIXED, None),
)


# StyleGAN (v1): G_style (mapping G_mapping, synthesis G_synthesis) and D_basic.
def _sg1_layer(ours: str, scope: str, noise: str, conv: bool = True) -> tuple[Rule, ...]:
    """Rules of one AdaIN layer: conv, noise strength and input, bias, style."""
    rows: tuple[Rule, ...] = (
        (f"{ours}.noise_strength", f"{scope}/Noise/weight", "same"),
        (f"{ours}.noise_const", f"synthesis/{noise}", "noise"),
        (f"{ours}.bias", f"{scope}/bias", "same"),
        (f"{ours}.affine.weight", f"{scope}/StyleMod/weight", "dense"),
        (f"{ours}.affine.bias", f"{scope}/StyleMod/bias", "style_bias"),
    )
    return (((f"{ours}.weight", f"{scope}/weight", "conv"),) if conv else ()) + rows


STYLEGAN1_GENERATOR_RULES: tuple[Rule, ...] = (
    ("mapping.w_avg", "dlatent_avg", "same"),
    ("mapping.fc{i}.weight", "mapping/Dense{i}/weight", "dense"),
    ("mapping.fc{i}.bias", "mapping/Dense{i}/bias", "lrelu_bias"),
    ("synthesis.lod", "lod", "same"),  # G_style assigns its own lod to the synthesis net's
    ("synthesis.b4.const", "synthesis/4x4/Const/const", "batch"),
    *_sg1_layer("synthesis.b4.input", "synthesis/4x4/Const", "noise0", conv=False),
    *_sg1_layer("synthesis.b4.conv1", "synthesis/4x4/Conv", "noise1"),
    *_sg1_layer("synthesis.b{r}.conv0", "synthesis/{R}/Conv0_up", "noise{v0}"),
    *_sg1_layer("synthesis.b{r}.conv1", "synthesis/{R}/Conv1", "noise{v1}"),
    ("synthesis.b{r}.torgb.weight", "synthesis/{R}/ToRGB/weight", "conv"),
    ("synthesis.b{r}.torgb.bias", "synthesis/{R}/ToRGB/bias", "same"),
    ("*.resample_filter", FIXED, None),
)
STYLEGAN1_DISCRIMINATOR_RULES: tuple[Rule, ...] = (
    ("lod", "lod", "same"),
    *_DISCRIMINATOR_BLOCK_RULES,
    ("b4.conv.weight", "4x4/Conv/weight", "conv"),
    ("b4.conv.bias", "4x4/Conv/bias", "same"),
    ("b4.fc.weight", "4x4/Dense0/weight", "dense"),
    ("b4.fc.bias", "4x4/Dense0/bias", "lrelu_bias"),
    ("b4.out.weight", "4x4/Dense1/weight", "dense"),
    ("b4.out.bias", "4x4/Dense1/bias", "same"),
    ("*.resample_filter", FIXED, None),
)


def _blur_filter(v: Any) -> Any:
    """``blur_filter`` -> ``resample_filter``: None (no blur) is the one-tap identity filter.

    The original filters with a correlation and TensorFlow's 'SAME' padding, which equals our
    (convolving, centred) filter only for odd-length symmetric taps: [1, 2, 1] and the like.
    """
    if v is None:
        return [1]
    taps = np.asarray(v, dtype=np.float64)
    if taps.ndim != 1 or len(taps) % 2 == 0 or not np.array_equal(taps, taps[::-1]):
        raise StyleGANError(
            f"the TensorFlow network was built with blur_filter={v!r}; only None and "
            "odd-length symmetric 1-D filters (e.g. [1, 2, 1]) can be imported, as others are "
            "placed differently by TensorFlow"
        )
    return list(v)


def _psi(v: Any) -> Any:
    return 1.0 if v is None else v


STYLEGAN1_GENERATOR_KWARGS: tuple[KwargRule, ...] = (
    ("latent_size", ("z_dim",), 512, None),
    ("label_size", ("c_dim",), 0, None),
    ("dlatent_size", ("w_dim",), 512, None),
    ("resolution", ("img_resolution",), 1024, None),
    ("num_channels", ("img_channels",), 3, None),
    ("fmap_base", ("channel_base",), 8192, _twice),
    ("fmap_max", ("channel_max",), 512, None),
    ("use_noise", ("use_noise",), True, None),
    ("blur_filter", ("resample_filter",), [1, 2, 1], _blur_filter),
    ("truncation_psi", ("truncation_psi",), 0.7, _psi),
    ("truncation_cutoff", ("truncation_cutoff",), 8, None),
    ("mapping_layers", ("mapping_kwargs.num_layers",), 8, None),
    ("mapping_fmaps", ("mapping_kwargs.layer_features",), 512, None),
    ("mapping_lrmul", ("mapping_kwargs.lr_multiplier",), 0.01, None),
    ("dlatent_avg_beta", ("mapping_kwargs.w_avg_beta",), 0.995, _one_if_none),
)
STYLEGAN1_DISCRIMINATOR_KWARGS: tuple[KwargRule, ...] = (
    ("label_size", ("c_dim",), 0, None),
    ("resolution", ("img_resolution",), 32, None),
    ("num_channels", ("img_channels",), 1, None),
    ("fmap_base", ("channel_base",), 8192, _twice),
    ("fmap_max", ("channel_max",), 512, None),
    ("mbstd_group_size", ("mbstd_group_size",), 4, None),
    ("mbstd_num_features", ("mbstd_num_channels",), 1, None),
    ("blur_filter", ("resample_filter",), [1, 2, 1], _blur_filter),
)
# The original's options, with the only values our networks implement (the paper's config).
STYLEGAN1_REQUIRED = {
    "fmap_decay": 1.0,
    "nonlinearity": "lrelu",
    "mapping_nonlinearity": "lrelu",
    "use_wscale": True,
    "use_styles": True,
    "const_input_layer": True,
    "use_pixel_norm": False,
    "use_instance_norm": True,
    "normalize_latents": True,
}
STYLEGAN1_IGNORED = (
    *STYLEGAN1_REQUIRED,  # checked by _stylegan1_kwargs
    "structure",  # progressive-growing graph form; 'fixed' has no lower RGB layers (handled)
    "fused_scale",  # 'auto' / True: transposed up-convolutions, flipped on import
    "truncation_psi_val",  # used by the original only with is_validation=True (its metrics)
    "truncation_cutoff_val",
    "style_mixing_prob",  # training only
    "dtype",  # float16 networks run in float32 here
    "randomize_noise",  # a run-time choice (our noise_mode)
    "is_template_graph",
    "force_clean_graph",
    "dlatent_broadcast",  # G_mapping: the number of ws, which follows from the resolution
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


def generator_from_tf(tf_net: TFNetwork) -> nn.Module:
    """Our ``Generator`` (StyleGAN2, or StyleGAN (v1) for ``G_style``; eval mode) from a
    TensorFlow ``G`` or ``Gs``."""
    _check_network(tf_net, "generator")
    if is_stylegan1(tf_net):
        return _stylegan1_generator_from_tf(tf_net, "generator")[0]
    return _generator_from_tf(tf_net, "generator")[0]


def discriminator_from_tf(tf_net: TFNetwork) -> nn.Module:
    """Our ``Discriminator`` (StyleGAN2, or StyleGAN (v1) for ``D_basic``; eval mode) from a
    TensorFlow ``D``."""
    _check_network(tf_net, "discriminator")
    if is_stylegan1(tf_net):
        return _stylegan1_discriminator_from_tf(tf_net, "discriminator")[0]
    return _discriminator_from_tf(tf_net, "discriminator")[0]


def _generator_from_tf(tf_net: TFNetwork, what: str) -> tuple[nn.Module, list[str]]:
    from stylegan.networks.stylegan2 import Generator

    _check_network(tf_net, what)
    kwargs = _init_kwargs(tf_net, GENERATOR_KWARGS, GENERATOR_IGNORED, what)
    mapping = kwargs["mapping_kwargs"]
    if mapping["embed_features"] is None:
        mapping["embed_features"] = kwargs["z_dim"]
    return _build(tf_net, kwargs, "ToRGB", Generator, GENERATOR_RULES, what)


def _discriminator_from_tf(tf_net: TFNetwork, what: str) -> tuple[nn.Module, list[str]]:
    from stylegan.networks.stylegan2_discriminator import Discriminator

    _check_network(tf_net, what)
    kwargs = _init_kwargs(tf_net, DISCRIMINATOR_KWARGS, DISCRIMINATOR_IGNORED, what)
    epilogue = kwargs["epilogue_kwargs"]
    if tf_net.build_func_name in SG2_REPO_DISCRIMINATORS:
        group = tf_net.static_kwargs.get("mbstd_group_size", 4)
        epilogue["mbstd_group_size"] = group
        if group is not None and group <= 1:  # these TF discriminators skip the layer then
            epilogue.update(mbstd_group_size=None, mbstd_num_channels=0)
    return _build(tf_net, kwargs, "FromRGB", Discriminator, DISCRIMINATOR_RULES, what)


STRUCTURES = ("auto", "linear", "recursive", "fixed")  # the original's graph forms
FUSED_SCALES = ("auto", True, False)


def _stylegan1_kwargs(tf_net: TFNetwork, rules: tuple[KwargRule, ...], what: str) -> dict:
    """Our StyleGAN (v1) constructor kwargs; options of the original we do not build refused."""
    hint = "a setting of the original StyleGAN this importer does not know"
    kwargs = _init_kwargs(tf_net, rules, STYLEGAN1_IGNORED, what, hint)
    static = to_plain(dict(tf_net.static_kwargs))
    for name, value in STYLEGAN1_REQUIRED.items():
        if name in static and static[name] != value:
            raise StyleGANError(
                f"the TensorFlow {what} was built with {name}={static[name]!r}; only the "
                f"StyleGAN paper's networks ({name}={value!r}) can be imported (the original's "
                "ablation configs are not)"
            )
    for name, allowed in (("structure", STRUCTURES), ("fused_scale", FUSED_SCALES)):
        if static.get(name, "auto") not in allowed:
            raise StyleGANError(
                f"the TensorFlow {what} was built with {name}={static[name]!r}; the original "
                f"knows only {', '.join(map(repr, allowed))}"
            )
    return kwargs


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


def _stylegan1_generator_from_tf(tf_net: TFNetwork, what: str) -> tuple[nn.Module, list[str]]:
    from stylegan.networks.stylegan1 import Generator

    kwargs = _stylegan1_kwargs(tf_net, STYLEGAN1_GENERATOR_KWARGS, what)
    if kwargs["c_dim"] > 0:
        raise StyleGANError(
            f"the TensorFlow {what} is a conditional StyleGAN (v1) generator (label_size "
            f"{kwargs['c_dim']}); its label concatenation has no equivalent here yet, so only "
            "unconditional StyleGAN (v1) generators can be imported"
        )
    cutoff = kwargs["truncation_cutoff"]
    if cutoff is None or cutoff <= 0:  # TF: no cutoff means no truncation at all
        kwargs.update(truncation_psi=1.0, truncation_cutoff=None)
    # The original upsamples with a transposed convolution where `fused_scale` applies (by
    # default from 128 px up): a true convolution, so its kernels are flipped relative to the
    # "repeat pixels, then correlate" form ours computes at every resolution. (Its fused
    # down-convolution is a strided correlation: no flip in the discriminator.)
    fused = to_plain(dict(tf_net.static_kwargs)).get("fused_scale", "auto")
    log2 = kwargs["img_resolution"].bit_length() - 1
    every = fused != "auto" and bool(fused)
    flipped = [2**i for i in range(3, log2 + 1) if every or (fused == "auto" and i >= 7)]
    rules = tuple(
        (f"synthesis.b{r}.conv0.weight", f"synthesis/{r}x{r}/Conv0_up/weight", "conv_flip")
        for r in flipped
    )
    return _build(tf_net, kwargs, "ToRGB", Generator, rules + STYLEGAN1_GENERATOR_RULES, what)


def _stylegan1_discriminator_from_tf(tf_net: TFNetwork, what: str) -> tuple[nn.Module, list[str]]:
    from stylegan.networks.stylegan1 import Discriminator

    kwargs = _stylegan1_kwargs(tf_net, STYLEGAN1_DISCRIMINATOR_KWARGS, what)
    if kwargs["mbstd_group_size"] is None or kwargs["mbstd_group_size"] <= 1:
        kwargs.update(mbstd_group_size=None, mbstd_num_channels=0)  # TF skips the layer then
    return _build(tf_net, kwargs, "FromRGB", Discriminator, STYLEGAN1_DISCRIMINATOR_RULES, what)


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


def is_tf_networks(obj: Any) -> bool:
    """Whether ``obj`` (from ``safe_load``) is a TensorFlow release pickle ``(G, D, Gs)``."""
    return isinstance(obj, tuple) and len(obj) == 3 and all(isinstance(n, TFNetwork) for n in obj)


def networks_from_tf(obj: Any) -> tuple[dict[str, nn.Module], dict[str, Any]]:
    """``({"G", "D", "G_ema"}, metadata)`` from a TensorFlow ``(G, D, Gs)``; ``G_ema`` is ``Gs``.

    The metadata is JSON-able: the format, each network's build function and static kwargs,
    and the TensorFlow variables our networks do not use (e.g. ``lod``).
    """
    if not is_tf_networks(obj):
        raise StyleGANError(
            "not a TensorFlow StyleGAN pickle: expected a tuple (G, D, Gs) of "
            "dnnlib.tflib.network.Network objects"
        )
    tf_nets = dict(zip(NETWORK_KEYS, obj))
    for key, tf_net in tf_nets.items():  # all checks first
        _check_network(tf_net, f"network {key}")
    networks: dict[str, nn.Module] = {}
    unused: dict[str, list[str]] = {}
    for key, tf_net in tf_nets.items():
        if is_stylegan1(tf_net):
            convert = (
                _stylegan1_discriminator_from_tf if key == "D" else _stylegan1_generator_from_tf
            )
        else:
            convert = _discriminator_from_tf if key == "D" else _generator_from_tf
        networks[key], unused[key] = convert(tf_net, f"network {key}")
    metadata = {
        "format": FORMAT,
        "build_func_names": {k: n.build_func_name for k, n in tf_nets.items()},
        "static_kwargs": {k: json_safe(n.static_kwargs) for k, n in tf_nets.items()},
        "unused_variables": unused,
    }
    return networks, metadata
