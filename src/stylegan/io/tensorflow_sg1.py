"""StyleGAN (v1) TensorFlow networks (NVlabs/stylegan ``G_style`` / ``D_basic``): rule tables
and conversion onto :mod:`stylegan.networks.stylegan1`.

:data:`STYLEGAN1_GENERATOR_KWARGS`, :data:`STYLEGAN1_DISCRIMINATOR_KWARGS` (settings; the
original's ablation options refused by :data:`STYLEGAN1_REQUIRED`) and
:data:`STYLEGAN1_GENERATOR_RULES`, :data:`STYLEGAN1_DISCRIMINATOR_RULES` (weights); how they
differ from StyleGAN2's is told in :mod:`stylegan.io.tensorflow`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.io.safe_pickle import TFNetwork, to_plain
from stylegan.io.tensorflow_pickle import (
    _DISCRIMINATOR_BLOCK_RULES,
    FIXED,
    KwargRule,
    Rule,
    _build,
    _init_kwargs,
    _one_if_none,
    _twice,
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
