"""Shared layers: equalized learning rate, clamping, the mapping network and minibatch std."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from stylegan.errors import StyleGANError
from stylegan.networks.layers import (
    Conv2dLayer,
    FullyConnectedLayer,
    MappingNetwork,
    MinibatchStdLayer,
    normalize_2nd_moment,
)


def test_normalize_2nd_moment_gives_unit_mean_square():
    x = torch.randn(5, 7) * 3 + 1
    y = normalize_2nd_moment(x)
    torch.testing.assert_close(y.square().mean(dim=1), torch.ones(5), rtol=1e-5, atol=1e-5)


def test_fully_connected_scales_weight_and_bias_at_run_time():
    torch.manual_seed(0)
    layer = FullyConnectedLayer(64, 8, lr_multiplier=0.01, bias_init=0.5)
    # Stored weights have std 1/lr_multiplier; the effective bias starts at bias_init.
    assert 80 < layer.weight.std().item() < 120
    torch.testing.assert_close(layer.bias * layer.bias_gain, torch.full([8], 0.5))
    x = torch.randn(3, 64)
    expected = x @ (layer.weight * 0.01 / math.sqrt(64)).t() + layer.bias * 0.01
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)


def test_fully_connected_lrelu_has_gain_sqrt2():
    layer = FullyConnectedLayer(16, 4, activation="lrelu")
    x = torch.randn(3, 16)
    expected = F.leaky_relu(x @ (layer.weight / 4).t(), 0.2) * math.sqrt(2)
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)


def test_conv2d_layer_equalized_lr_and_shapes():
    torch.manual_seed(0)
    conv = Conv2dLayer(4, 6, kernel_size=3)
    x = torch.randn(2, 4, 8, 8)
    expected = F.conv2d(x, conv.weight / math.sqrt(4 * 9), conv.bias, padding=1)
    torch.testing.assert_close(conv(x), expected, rtol=1e-5, atol=1e-5)
    assert Conv2dLayer(4, 6, 3, up=2)(x).shape == (2, 6, 16, 16)
    assert Conv2dLayer(4, 6, 3, down=2)(x).shape == (2, 6, 4, 4)
    assert conv.resample_filter.shape == (4, 4)


def test_conv2d_layer_clamps_to_conv_clamp_times_gain():
    conv = Conv2dLayer(4, 6, kernel_size=3, activation="lrelu", conv_clamp=0.1)
    x = torch.randn(2, 4, 8, 8) * 10
    assert conv(x).abs().max().item() == pytest.approx(0.1)
    assert conv(x, gain=0.5).abs().max().item() == pytest.approx(0.05)


def test_frozen_conv_keeps_state_dict_keys():
    frozen, trainable = Conv2dLayer(3, 4, 3, trainable=False), Conv2dLayer(3, 4, 3)
    assert set(frozen.state_dict()) == set(trainable.state_dict())
    assert list(frozen.parameters()) == []


def tiny_mapping(**kwargs) -> MappingNetwork:
    defaults = dict(z_dim=8, c_dim=0, w_dim=6, num_ws=5, num_layers=2)
    return MappingNetwork(**{**defaults, **kwargs})


def test_mapping_names_and_shapes():
    m = tiny_mapping(c_dim=3, embed_features=4, layer_features=10)
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes == {
        "embed.weight": (4, 3),
        "embed.bias": (4,),
        "fc0.weight": (10, 12),
        "fc0.bias": (10,),
        "fc1.weight": (6, 10),
        "fc1.bias": (6,),
        "w_avg": (6,),
    }
    assert m(torch.randn(2, 8), torch.eye(3)[:2]).shape == (2, 5, 6)
    assert tiny_mapping(num_ws=None, w_avg_beta=None)(torch.randn(2, 8), None).shape == (2, 6)


def test_truncation_psi0_gives_w_avg_below_cutoff_only():
    m = tiny_mapping()
    m.w_avg.copy_(torch.randn(6))
    z = torch.randn(3, 8)
    ws = m(z, None)
    assert ws.shape == (3, 5, 6)
    torch.testing.assert_close(m(z, None, truncation_psi=1), ws)
    cut = m(z, None, truncation_psi=0, truncation_cutoff=2)
    torch.testing.assert_close(cut[:, :2], m.w_avg.expand(3, 2, 6))
    torch.testing.assert_close(cut[:, 2:], ws[:, 2:])
    torch.testing.assert_close(m(z, None, truncation_psi=0), m.w_avg.expand(3, 5, 6))
    half = m(z, None, truncation_psi=0.5)
    torch.testing.assert_close(half, (ws + m.w_avg) / 2)


def test_w_avg_moves_only_with_update_emas():
    m = tiny_mapping(w_avg_beta=0.9).train()
    z = torch.randn(4, 8)
    m(z, None)
    assert torch.count_nonzero(m.w_avg) == 0, "w_avg must not move without update_emas"
    w = m(z, None, update_emas=True)[:, 0]
    torch.testing.assert_close(m.w_avg, 0.1 * w.mean(dim=0))


def test_mapping_without_w_avg_cannot_truncate():
    m = tiny_mapping(w_avg_beta=None)
    assert "w_avg" not in m.state_dict()
    with pytest.raises(StyleGANError, match="w_avg"):
        m(torch.randn(2, 8), None, truncation_psi=0.5)


def test_mapping_rejects_bad_inputs():
    m = tiny_mapping(c_dim=3)
    with pytest.raises(StyleGANError, match=r"z has shape \[2, 7\]"):
        m(torch.randn(2, 7), torch.zeros(2, 3))
    with pytest.raises(StyleGANError, match="missing"):
        m(torch.randn(2, 8), None)
    with pytest.raises(StyleGANError, match="class labels"):
        m(torch.randn(2, 8), torch.zeros(3, 3))


def test_minibatch_std_appends_group_std():
    layer = MinibatchStdLayer(group_size=2, num_channels=1)
    assert list(layer.parameters()) == [] and not layer.state_dict()
    x = torch.randn(4, 3, 2, 2)
    y = layer(x)
    assert y.shape == (4, 4, 2, 2)
    torch.testing.assert_close(y[:, :3], x)
    # Groups are samples {0, 2} and {1, 3} (strided), as in the official layer.
    for members in ([0, 2], [1, 3]):
        group = x[members]
        std = (group.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        for i in members:
            torch.testing.assert_close(y[i, 3], torch.full((2, 2), std.item()))


def test_minibatch_std_whole_batch_and_bad_batch():
    x = torch.randn(3, 4, 2, 2)
    assert MinibatchStdLayer(group_size=None, num_channels=2)(x).shape == (3, 6, 2, 2)
    assert MinibatchStdLayer(group_size=8)(x).shape == (3, 5, 2, 2)  # group clipped to batch
    with pytest.raises(StyleGANError, match="multiple"):
        MinibatchStdLayer(group_size=2)(x)
