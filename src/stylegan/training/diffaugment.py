"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
Training"): the same cheap, differentiable augmentations on every image D sees, always on.

Policies, with the semantics of the authors' PyTorch reference (``DiffAugment_pytorch.py`` of
mit-han-lab/data-efficient-gans): ``color`` = brightness + U(-0.5, 0.5), saturation x U(0, 2)
around the per-pixel channel mean, contrast x U(0.5, 1.5) around the image mean; ``translation``
= an integer shift of up to 1/8 of the size in each axis, the uncovered border filled with zeros;
``cutout`` = one square of half the size set to zero. Parameters are drawn per image.
"""

from __future__ import annotations

import torch
from torch import nn

from stylegan.errors import StyleGANError

POLICIES = ("color", "translation", "cutout")


def _brightness(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)


def _saturation(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    factor = torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) * 2
    return (x - mean) * factor + mean


def _contrast(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    factor = torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5
    return (x - mean) * factor + mean


def translate(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by a random whole number of pixels, up to ``ratio`` of its size."""
    n, _, h, w = x.shape
    max_y, max_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    shift_y = torch.randint(-max_y, max_y + 1, size=[n, 1, 1], device=x.device)
    shift_x = torch.randint(-max_x, max_x + 1, size=[n, 1, 1], device=x.device)
    return shift_images(x, shift_y, shift_x)


def shift_images(x: torch.Tensor, shift_y: torch.Tensor, shift_x: torch.Tensor) -> torch.Tensor:
    """``out[n, :, i, j] = x[n, :, i + shift_y[n], j + shift_x[n]]``, zero outside."""
    n, _, h, w = x.shape
    batch, rows, cols = torch.meshgrid(
        torch.arange(n, device=x.device),
        torch.arange(h, device=x.device),
        torch.arange(w, device=x.device),
        indexing="ij",
    )
    # Index into a one-pixel zero frame; every source outside the image lands on the frame.
    rows = (rows + shift_y.reshape(n, 1, 1) + 1).clamp(0, h + 1)
    cols = (cols + shift_x.reshape(n, 1, 1) + 1).clamp(0, w + 1)
    padded = nn.functional.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)
    return padded[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one ``ratio``-sized square per image at a random centre (clipped at the border)."""
    n, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    offset_y = torch.randint(0, h + (1 - size_y % 2), size=[n, 1, 1], device=x.device)
    offset_x = torch.randint(0, w + (1 - size_x % 2), size=[n, 1, 1], device=x.device)
    batch, rows, cols = torch.meshgrid(
        torch.arange(n, device=x.device),
        torch.arange(size_y, device=x.device),
        torch.arange(size_x, device=x.device),
        indexing="ij",
    )
    rows = (rows + offset_y - size_y // 2).clamp(0, h - 1)
    cols = (cols + offset_x - size_x // 2).clamp(0, w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    mask[batch, rows, cols] = 0
    return x * mask.unsqueeze(1)


_FUNCTIONS = {
    "color": (_brightness, _saturation, _contrast),
    "translation": (translate,),
    "cutout": (cutout,),
}


def parse_policy(policy: str) -> list[str]:
    """``"color,translation,cutout"`` -> checked names."""
    names = [p.strip() for p in policy.split(",") if p.strip()]
    unknown = [p for p in names if p not in POLICIES]
    if unknown or not names:
        raise StyleGANError(
            f"unknown DiffAugment policy {policy!r}: use a comma list of {', '.join(POLICIES)}"
        )
    return names


def diff_augment(x: torch.Tensor, policy: str = "color,translation,cutout") -> torch.Tensor:
    """Apply the policies in order (each on every image)."""
    for name in parse_policy(policy):
        for function in _FUNCTIONS[name]:
            x = function(x)
    return x


class DiffAugment(nn.Module):
    """DiffAugment as a module, usable wherever an augmentation pipe goes."""

    def __init__(self, policy: str = "color,translation,cutout"):
        super().__init__()
        self.policy = ",".join(parse_policy(policy))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return diff_augment(images, self.policy)

    def extra_repr(self) -> str:
        return f"policy={self.policy}"
