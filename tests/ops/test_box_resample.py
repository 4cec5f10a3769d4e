"""Nearest/box resampling fused into convolutions, against the direct forms."""

from __future__ import annotations

import pytest
import torch

from stylegan.ops import box_resample


@pytest.mark.parametrize("kernel", [1, 3, 5])
@pytest.mark.parametrize("size", [4, 8])
def test_fused_convs_equal_direct_forms(kernel, size):
    x = torch.randn(2, 3, size, size, dtype=torch.float64)
    w = torch.randn(4, 3, kernel, kernel, dtype=torch.float64)
    up = box_resample.upsample_conv2d(x, w)
    assert up.shape == (2, 4, 2 * size, 2 * size)
    torch.testing.assert_close(up, box_resample.upsample_conv2d_reference(x, w))
    down = box_resample.conv2d_downsample(x, w)
    assert down.shape == (2, 4, size // 2, size // 2)
    torch.testing.assert_close(down, box_resample.conv2d_downsample_reference(x, w))


def test_nearest_and_box_are_inverse_and_exact():
    x = torch.randn(2, 3, 4, 4)
    up = box_resample.nearest_upsample(x, 4)
    assert up.shape == (2, 3, 16, 16)
    assert torch.equal(up[:, :, 5, 9], x[:, :, 1, 2])  # pixel (5, 9) comes from (1, 2)
    torch.testing.assert_close(box_resample.box_downsample(up, 4), x)
    assert box_resample.nearest_upsample(x, 1) is x and box_resample.box_downsample(x, 1) is x


def test_gradients_match_direct_forms():
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    for fused, direct in (
        (box_resample.upsample_conv2d, box_resample.upsample_conv2d_reference),
        (box_resample.conv2d_downsample, box_resample.conv2d_downsample_reference),
    ):
        g = torch.randn_like(direct(x, w))
        got = torch.autograd.grad((fused(x, w) * g).sum(), [x, w])
        want = torch.autograd.grad((direct(x, w) * g).sum(), [x, w])
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b)
