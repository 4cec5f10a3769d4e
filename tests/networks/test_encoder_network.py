"""The image -> W+ encoder: shapes, the pSp layer groups, e4e's base-plus-deltas structure."""

from __future__ import annotations

import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.networks.encoder import Encoder, EncoderConfig, default_groups

pytestmark = pytest.mark.usefixtures("one_thread_module")


def test_an_untrained_encoder_outputs_w_avg_in_the_right_shape(make_tiny_network):
    G = make_tiny_network("stylegan2.Generator")
    E = Encoder.from_config(EncoderConfig.for_generator(G, "tiny"))
    w_avg = torch.randn(G.w_dim)
    E.set_latent_statistics(w_avg, torch.full([G.w_dim], 2.0))
    ws = E(torch.randn(3, 3, 16, 16))
    assert ws.shape == (3, G.num_ws, G.w_dim)
    assert torch.equal(ws, w_avg.expand(3, G.num_ws, G.w_dim))


def test_groups_follow_psp_and_deltas_respect_the_unlocked_layers():
    assert default_groups(18) == (3, 4) and default_groups(14) == (3, 4)  # pSp: 0-2, 3-6, 7+
    assert default_groups(8) == (3, 2)  # 32 px StyleGAN2: 4-8 px, 16 px, 32 px
    E = Encoder(img_resolution=32, num_ws=8, w_dim=8, channel_base=128, channel_max=8)
    assert [E.group_of(i) for i in range(8)] == ["coarse"] * 3 + ["middle"] * 2 + ["fine"] * 3
    torch.manual_seed(0)
    with torch.no_grad():
        for p in E.parameters():
            p.normal_()  # trained-looking weights: every head gives non-zero offsets
    base, deltas = E.offsets(torch.randn(2, 3, 32, 32), unlocked=3)
    assert base.abs().sum() > 0
    assert torch.all(deltas[:, 0] == 0)  # layer 0 is the base w, as in e4e
    assert torch.all(deltas[:, 1:3] != 0) and torch.all(deltas[:, 3:] == 0)
    ws = E(torch.randn(2, 3, 32, 32), unlocked=1)
    assert torch.equal(ws[:, 0:1].expand_as(ws), ws)  # base alone: W, not W+


def test_wrong_inputs_and_configs_are_one_line_errors():
    E = Encoder(img_resolution=16, num_ws=6, w_dim=4, channel_base=64, channel_max=4)
    for bad in (
        torch.randn(1, 3, 32, 32),
        torch.randn(3, 16, 16),
        torch.zeros(1, 3, 16, 16).byte(),
    ):
        with pytest.raises(StyleGANError, match="resize the images") as err:
            E(bad)
        assert "\n" not in str(err.value)
    with pytest.raises(StyleGANError, match="power of two of at least 16"):
        Encoder(img_resolution=8, num_ws=4, w_dim=4)
    with pytest.raises(StyleGANError, match="do not fit num_ws"):
        Encoder(img_resolution=16, num_ws=4, w_dim=4, coarse_ws=3, middle_ws=3)
    with pytest.raises(StyleGANError, match="unknown encoder preset 'huge'"):
        EncoderConfig.for_generator(E, "huge")
