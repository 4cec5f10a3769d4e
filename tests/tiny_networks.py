"""The one factory of tiny networks for the tests: every registered class, small enough for a CPU.

Test modules import it (``from tiny_networks import tiny_network``; ``tests/`` is on ``sys.path``
through ``tests/conftest.py``), fixtures get it as ``make_tiny_network``. A test that needs other
dimensions passes them, so its assertions keep the network they were written for.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from stylegan.networks.registry import network_class

# Default keyword arguments per registered name; a test overrides any of them.
TINY_KWARGS: dict[str, dict[str, Any]] = {
    "stylegan1.Generator": dict(
        z_dim=16,
        c_dim=0,
        w_dim=16,
        img_resolution=16,
        img_channels=3,
        channel_base=64,
        channel_max=8,
        mapping_kwargs={"num_layers": 2},
    ),
    "stylegan1.Discriminator": dict(
        c_dim=0, img_resolution=16, img_channels=3, channel_base=64, channel_max=8
    ),
    "stylegan2.Generator": dict(
        z_dim=16,
        c_dim=0,
        w_dim=16,
        img_resolution=16,
        img_channels=3,
        channel_base=256,
        channel_max=32,
        mapping_kwargs={"num_layers": 2},
    ),
    "stylegan2.Discriminator": dict(
        c_dim=0,
        img_resolution=16,
        img_channels=3,
        channel_base=256,
        channel_max=32,
        mapping_kwargs={"num_layers": 2},
        epilogue_kwargs={"mbstd_group_size": 2},
    ),
    # Small but complete: the default 14-layer schedule would only cost time here.
    "stylegan3.Generator": dict(
        z_dim=8,
        c_dim=0,
        w_dim=8,
        img_resolution=16,
        img_channels=3,
        channel_base=64,
        channel_max=16,
        num_layers=4,
        num_critical=1,
        margin_size=4,
    ),
    # An image -> W+ encoder for the tiny stylegan2.Generator (16 px, 6 ws of 16).
    "encoder.Encoder": dict(
        img_resolution=16, num_ws=6, w_dim=16, channel_base=256, channel_max=16, head_channels=16
    ),
    # StyleCLIP's latent mapper for the tiny stylegan2.Generator (6 ws: 4 coarse, 2 medium).
    "mapper.LevelsMapper": dict(num_ws=6, w_dim=16),
    # The trained part of a domain CLIP: image features and word ids -> unit vectors.
    "clip.CLIPHeads": dict(
        feature_dim=24,
        vocab_size=12,
        embed_dim=8,
        image_hidden=16,
        text_width=8,
        text_layers=1,
        text_heads=2,
        context_length=6,
    ),
}


def tiny_network(name: str, seed: int | None = 0, **changes: Any) -> nn.Module:
    """A small ``name`` network (e.g. ``"stylegan2.Generator"``): :data:`TINY_KWARGS` updated by
    ``changes``, weights drawn after ``torch.manual_seed(seed)`` (``seed=None``: the global RNG
    as it stands)."""
    if seed is not None:
        torch.manual_seed(seed)
    return network_class(name)(**{**TINY_KWARGS[name], **changes})
