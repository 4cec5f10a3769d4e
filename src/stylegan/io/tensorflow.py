"""NVIDIA's TensorFlow StyleGAN, StyleGAN2 and StyleGAN2-ADA pickles to our networks, without
TensorFlow.

A TensorFlow release pickle is a tuple ``(G, D, Gs)`` of ``dnnlib.tflib.network.Network``
objects; :func:`stylegan.io.safe_pickle.safe_load` turns each into a
:class:`~stylegan.io.safe_pickle.TFNetwork` (build function name, ``static_kwargs``, numpy
variables, sub-networks) and never runs the source stored with it. The rules, which are those of
the official converter (``legacy.py`` of stylegan2-ada-pytorch / stylegan3):

* Settings: the ``static_kwargs`` become official constructor arguments, with the TensorFlow
  defaults where a kwarg is absent (:data:`~stylegan.io.tensorflow_sg2.GENERATOR_KWARGS`,
  :data:`~stylegan.io.tensorflow_sg2.DISCRIMINATOR_KWARGS`);
  e.g. ``channel_base = 2 * fmap_base``, ``w_avg_beta`` 0.995 (None -> 1, i.e. frozen). A kwarg
  outside these tables (StyleGAN2 configs A-D, ADA comparison methods) is refused.
* Weights: every parameter and buffer of our network comes from one TensorFlow variable
  (:data:`~stylegan.io.tensorflow_sg2.GENERATOR_RULES`,
  :data:`~stylegan.io.tensorflow_sg2.DISCRIMINATOR_RULES`; names of sub-networks are prefixed,
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
:mod:`stylegan.networks.stylegan1` with the tables of :mod:`stylegan.io.tensorflow_sg1`, in
the same layouts, except: the generator's fused up-convolutions (``fused_scale='auto'``: 128 px
and more; ``True``: all) are flipped, as the
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

This module is the entry point (which converter a network needs, the ``(G, D, Gs)`` tuple);
the pickle's structure and the shared rule machinery live in :mod:`stylegan.io.tensorflow_pickle`,
the StyleGAN2 tables in :mod:`stylegan.io.tensorflow_sg2`, the StyleGAN (v1) tables in
:mod:`stylegan.io.tensorflow_sg1`.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from stylegan.errors import StyleGANError
from stylegan.io.safe_pickle import TFNetwork, json_safe
from stylegan.io.tensorflow_pickle import _check_network, is_stylegan1
from stylegan.io.tensorflow_sg1 import (
    _stylegan1_discriminator_from_tf,
    _stylegan1_generator_from_tf,
)
from stylegan.io.tensorflow_sg2 import _discriminator_from_tf, _generator_from_tf

FORMAT = "nvidia-tensorflow"
NETWORK_KEYS = ("G", "D", "G_ema")  # ours, for the pickle's (G, D, Gs)


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
