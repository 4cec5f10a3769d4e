"""StyleGAN2 / StyleGAN2-ADA TensorFlow networks: rule tables and conversion.

The rules are those of the official converter (``legacy.py`` of stylegan2-ada-pytorch /
stylegan3), as :mod:`stylegan.io.tensorflow` describes: :data:`GENERATOR_KWARGS`,
:data:`DISCRIMINATOR_KWARGS` (settings) and :data:`GENERATOR_RULES`,
:data:`DISCRIMINATOR_RULES` (weights), applied by :mod:`stylegan.io.tensorflow_pickle`.
"""

from __future__ import annotations

from torch import nn

from stylegan.io.safe_pickle import TFNetwork
from stylegan.io.tensorflow_pickle import (
    _DISCRIMINATOR_BLOCK_RULES,
    FIXED,
    KwargRule,
    Rule,
    _box_if_none,
    _build,
    _check_network,
    _init_kwargs,
    _one_if_none,
    _twice,
)

SG2_REPO_DISCRIMINATORS = ("D_stylegan2", "D_stylegan")  # mbstd groups of 4 by default


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
