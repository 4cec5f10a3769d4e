"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training"):
cheap differentiable augmentations applied to every image D sees, reals and fakes, always on.

The policies follow the authors' PyTorch reference (``DiffAugment_pytorch.py`` in
mit-han-lab/data-efficient-gans, ``DiffAugment-stylegan2-pytorch``): the same operations, ranges
and order of random draws, so one seed gives the same augmentations. Parameters are drawn per
image:

* ``color``: brightness ``+ U(-0.5, 0.5)``; saturation ``x U(0, 2)`` around each pixel's channel
  mean; contrast ``x U(0.5, 1.5)`` around the image's mean;
* ``translation``: a whole-pixel shift of up to 1/8 of the size along each axis, the uncovered
  border filled with zeros;
* ``cutout``: one square of half the size per image, set to zero (clipped at the border).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from stylegan.errors import StyleGANError


def rand_brightness(x: torch.Tensor) -> torch.Tensor:
    """Add ``U(-0.5, 0.5)`` per image."""
    return x + (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) - 0.5)


def rand_saturation(x: torch.Tensor) -> torch.Tensor:
    """Scale each pixel's deviation from its channel mean by ``U(0, 2)`` per image."""
    mean = x.mean(dim=1, keepdim=True)
    factor = torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) * 2
    return (x - mean) * factor + mean


def rand_contrast(x: torch.Tensor) -> torch.Tensor:
    """Scale the deviation from the image's mean (over channels and pixels) by ``U(0.5, 1.5)``."""
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    factor = torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) + 0.5
    return (x - mean) * factor + mean


def translate(x: torch.Tensor, shift_rows: torch.Tensor, shift_cols: torch.Tensor) -> torch.Tensor:
    """``out[n, :, i, j] = x[n, :, i + shift_rows[n], j + shift_cols[n]]``, zero where that falls
    outside the image (so a positive shift moves the content up / left)."""
    n, _, height, width = x.shape
    batch, rows, cols = torch.meshgrid(
        torch.arange(n, device=x.device),
        torch.arange(height, device=x.device),
        torch.arange(width, device=x.device),
        indexing="ij",
    )
    # Read from a copy framed by one pixel of zeros: clamping any source outside the image onto
    # the frame gives the zero fill with one gather, and the gather is differentiable.
    rows = (rows + shift_rows.reshape(n, 1, 1) + 1).clamp(0, height + 1)
    cols = (cols + shift_cols.reshape(n, 1, 1) + 1).clamp(0, width + 1)
    framed = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)
    return framed[batch, rows, cols].permute(0, 3, 1, 2)


def rand_translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by a random whole number of pixels, up to ``ratio`` of its size."""
    n, _, height, width = x.shape
    max_rows, max_cols = int(height * ratio + 0.5), int(width * ratio + 0.5)
    shift_rows = torch.randint(-max_rows, max_rows + 1, size=[n, 1, 1], device=x.device)
    shift_cols = torch.randint(-max_cols, max_cols + 1, size=[n, 1, 1], device=x.device)
    return translate(x, shift_rows, shift_cols)


def cutout_mask(
    x: torch.Tensor, offset_rows: torch.Tensor, offset_cols: torch.Tensor, ratio: float = 0.5
) -> torch.Tensor:
    """``[N, 1, H, W]`` ones with a zero square of side ``ratio`` of the size per image, centred
    on pixel ``(offset_rows[n], offset_cols[n])`` and clipped at the border."""
    n, _, height, width = x.shape
    size_rows, size_cols = int(height * ratio + 0.5), int(width * ratio + 0.5)
    batch, rows, cols = torch.meshgrid(
        torch.arange(n, device=x.device),
        torch.arange(size_rows, device=x.device),
        torch.arange(size_cols, device=x.device),
        indexing="ij",
    )
    rows = (rows + offset_rows.reshape(n, 1, 1) - size_rows // 2).clamp(0, height - 1)
    cols = (cols + offset_cols.reshape(n, 1, 1) - size_cols // 2).clamp(0, width - 1)
    mask = torch.ones(n, height, width, dtype=x.dtype, device=x.device)
    mask[batch, rows, cols] = 0
    return mask.unsqueeze(1)


def rand_cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of side ``ratio`` of the size per image, centred at random."""
    n, _, height, width = x.shape
    size_rows, size_cols = int(height * ratio + 0.5), int(width * ratio + 0.5)
    # Odd squares may be centred on any pixel; even ones one step further, as the reference.
    offset_rows = torch.randint(0, height + (1 - size_rows % 2), size=[n, 1, 1], device=x.device)
    offset_cols = torch.randint(0, width + (1 - size_cols % 2), size=[n, 1, 1], device=x.device)
    return x * cutout_mask(x, offset_rows, offset_cols, ratio)


AUGMENT_FNS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], ...]] = {
    "color": (rand_brightness, rand_saturation, rand_contrast),
    "translation": (rand_translation,),
    "cutout": (rand_cutout,),
}
POLICIES = tuple(AUGMENT_FNS)


def parse_policy(policy: str) -> list[str]:
    """``"color,translation,cutout"`` -> the checked list of policy names."""
    names = [name.strip() for name in policy.split(",") if name.strip()]
    unknown = [name for name in names if name not in AUGMENT_FNS]
    if unknown or not names:
        raise StyleGANError(
            f"unknown DiffAugment policy {policy!r}: use a comma-separated list of "
            f"{', '.join(POLICIES)} (e.g. color,translation,cutout)"
        )
    return names


def diff_augment(
    x: torch.Tensor, policy: str = "color,translation,cutout", channels_first: bool = True
) -> torch.Tensor:
    """Apply the policies in the order given, each to every image of ``[N, C, H, W]`` (or
    ``[N, H, W, C]`` with ``channels_first=False``); an empty policy is the identity."""
    if not policy:
        return x
    if x.ndim != 4:
        raise StyleGANError(f"DiffAugment expects images as [N, C, H, W], got {list(x.shape)}")
    if not channels_first:
        x = x.permute(0, 3, 1, 2)
    for name in parse_policy(policy):
        for function in AUGMENT_FNS[name]:
            x = function(x)
    if not channels_first:
        x = x.permute(0, 2, 3, 1)
    return x.contiguous()


class DiffAugment(nn.Module):
    """DiffAugment as a module, usable wherever an augmentation pipe goes (it has no ``p``:
    every augmentation applies to every image)."""

    def __init__(self, policy: str = "color,translation,cutout"):
        super().__init__()
        self.policy = ",".join(parse_policy(policy))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return diff_augment(images, self.policy)

    def extra_repr(self) -> str:
        return f"policy={self.policy}"
