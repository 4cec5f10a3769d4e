"""Nearest-neighbour upsampling and 2x2 box downsampling, alone and fused with a convolution.

These are the resampling rules of ProGAN and the original StyleGAN: ``upscale2d`` repeats each
pixel, ``downscale2d`` averages 2x2 blocks, and the up/down convolutions are exactly
"upsample then conv" and "conv then downsample". The fused forms fold the resampling into a
(k+1)x(k+1) kernel (the sum of the kernel's four shifts), so the convolution runs at the low
resolution: a transposed conv of stride 2 for upsampling, a conv of stride 2 for downsampling.
That is four times fewer multiply-adds than the direct form and gives the same sums; the
``*_reference`` functions are the direct forms the tests compare against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nearest_upsample(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Repeat every pixel ``factor x factor`` times (``[N, C, H, W] -> [N, C, fH, fW]``)."""
    if factor == 1:
        return x
    n, c, h, w = x.shape
    x = x.reshape(n, c, h, 1, w, 1).expand(n, c, h, factor, w, factor)
    return x.reshape(n, c, h * factor, w * factor)


def box_downsample(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Average ``factor x factor`` blocks (the inverse of :func:`nearest_upsample`)."""
    if factor == 1:
        return x
    return F.avg_pool2d(x, factor)


def _shift_sum(weight: torch.Tensor) -> torch.Tensor:
    """The (k+1)x(k+1) kernel ``sum over (dy, dx) in {0,1}^2 of weight shifted by (dy, dx)``."""
    w = F.pad(weight, [1, 1, 1, 1])
    return w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]


def upsample_conv2d(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``conv2d(nearest_upsample(x, 2), weight, padding=k // 2)`` for an odd kernel size k,
    computed as one transposed convolution at the input resolution."""
    k = weight.shape[-1]
    fused = _shift_sum(weight).flip([2, 3]).transpose(0, 1)  # [in, out, k+1, k+1]
    return F.conv_transpose2d(x, fused, stride=2, padding=k // 2)


def conv2d_downsample(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``box_downsample(conv2d(x, weight, padding=k // 2), 2)`` for an odd kernel size k,
    computed as one convolution of stride 2."""
    k = weight.shape[-1]
    return F.conv2d(x, _shift_sum(weight) * 0.25, stride=2, padding=k // 2)


def upsample_conv2d_reference(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The direct form of :func:`upsample_conv2d`: upsample, then convolve."""
    return F.conv2d(nearest_upsample(x, 2), weight, padding=weight.shape[-1] // 2)


def conv2d_downsample_reference(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The direct form of :func:`conv2d_downsample`: convolve, then average 2x2 blocks."""
    return box_downsample(F.conv2d(x, weight, padding=weight.shape[-1] // 2), 2)
