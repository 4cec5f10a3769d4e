"""VGG16 for precision/recall features and LPIPS distances (perceptual path length).

The backbone is torchvision's ``vgg16`` laid out so that ``vgg16-397923af.pth`` (its ImageNet
weights: ``features.N.*`` for the 13 convolutions, ``classifier.{0,3,6}.*`` for the three fully
connected layers) loads strictly. The LPIPS v0.1 ``vgg`` linear layers (``lin{0..4}.model.1.weight``
of the ``lpips`` package's ``weights/v0.1/vgg.pth``) load into :attr:`VGG16Features.lpips_lin`.

* ``forward(images)``: 4096-d features of the second fully connected layer after its ReLU (the
  ``fc2`` embedding of Kynkäänniemi et al.'s improved precision and recall, which NVIDIA's
  ``vgg16`` detector returns with ``return_features=True``). Images in 0..255 are resized to
  224x224 with TF 1.x bilinear and normalised with the ImageNet mean and std torchvision's
  weights expect.
* ``lpips(img0, img1)``: LPIPS v0.1 (``vgg``) distances of two image batches in 0..255, at their
  own resolution (no resize, as NVIDIA's PPL calls it with ``resize_images=False``).
* ``lpips_features(images)``: a flat embedding whose squared Euclidean distances are the LPIPS
  distances (what NVIDIA's detector returns with ``return_lpips=True``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.metrics.features.base import FeatureNetwork, resize

# torchvision's configuration "D": channels per convolution, "M" for a 2x2 max pool.
VGG16_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M"]
VGG16_LAYOUT += [512, 512, 512, "M"]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# LPIPS taps the ReLUs relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (indices in ``features``).
LPIPS_TAPS = (3, 8, 15, 22, 29)
LPIPS_CHANNELS = (64, 128, 256, 512, 512)
# LPIPS v0.1 ScalingLayer: inputs in [-1, 1] become (x - shift) / scale.
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)
LPIPS_EPS = 1e-10


class VGG16(nn.Module):
    """torchvision's VGG16 module tree (``features``, ``avgpool``, ``classifier``)."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in VGG16_LAYOUT:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(cin, int(v), kernel_size=3, padding=1), nn.ReLU()]
                cin = int(v)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(4096, 1000),
        )


class _LinLayer(nn.Module):
    """LPIPS ``NetLinLayer``: (dropout, 1x1 convolution to one channel without bias)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, bias=False))


class LPIPSLinear(nn.Module):
    """The five LPIPS v0.1 linear layers, named ``lin0`` .. ``lin4`` as in ``vgg.pth``."""

    def __init__(self) -> None:
        super().__init__()
        for i, c in enumerate(LPIPS_CHANNELS):
            self.add_module(f"lin{i}", _LinLayer(c))

    def weights(self) -> list[torch.Tensor]:
        """Per-layer channel weights, each ``[C]``."""
        return [getattr(self, f"lin{i}").model[1].weight.flatten() for i in range(5)]


def unit_normalize(x: torch.Tensor, eps: float = LPIPS_EPS) -> torch.Tensor:
    """LPIPS's ``normalize_tensor``: divide by the channel-wise L2 norm (plus ``eps``)."""
    return x / (x.square().sum(dim=1, keepdim=True).sqrt() + eps)


class VGG16Features(FeatureNetwork):
    """VGG16: 4096-d fc2 features for precision/recall and LPIPS distances for PPL."""

    name = "vgg16"
    feature_dim = 4096
    input_size = 224

    def __init__(self, resize: str = "tf1") -> None:
        super().__init__(resize)
        self.backbone = VGG16()
        self.lpips_lin = LPIPSLinear()
        self.lpips_loaded = False  # set by the loader once real LPIPS weights are in
        self._lpips_loader = None  # a callable that loads them on first use, if deferred
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        # From 0..255 to LPIPS's input: x / 127.5 - 1, then (x - shift) / scale.
        shift = torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1)
        scale = torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1)
        self.register_buffer("lpips_shift", shift, persistent=False)
        self.register_buffer("lpips_scale", scale, persistent=False)
        self.freeze()

    # ---- precision/recall features ----

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = resize(x, self.input_size, self.resize_mode)
        x = (x - self.mean) / self.std
        net = self.backbone
        x = net.avgpool(net.features(x)).flatten(1)
        fc1, fc2 = net.classifier[0], net.classifier[3]
        x = F.relu(fc1(x))
        return F.relu(fc2(x))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, 1000]`` ImageNet logits (torchvision's class order)."""
        return self.backbone.classifier[6](self(images))

    # ---- LPIPS ----

    def lpips_layers(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised VGG activations at the five LPIPS taps, images in 0..255 (no resize)."""
        x = self.prepare(images)
        x = (x / 127.5 - 1 - self.lpips_shift) / self.lpips_scale
        out = []
        for i, layer in enumerate(self.backbone.features[: LPIPS_TAPS[-1] + 1]):
            x = layer(x)
            if i in LPIPS_TAPS:
                out.append(unit_normalize(x))
        return out

    def lpips(self, img0: torch.Tensor, img1: torch.Tensor) -> torch.Tensor:
        """``[N]`` LPIPS v0.1 (VGG) distances between two batches of images in 0..255.

        Per layer: squared difference of the unit-normalised activations, weighted per channel
        by the linear layer, averaged over space; then summed over the five layers.
        """
        if img0.shape != img1.shape:
            raise StyleGANError(
                f"lpips needs two batches of the same shape, got {list(img0.shape)} "
                f"and {list(img1.shape)}"
            )
        self._require_lpips()
        n = img0.shape[0]
        feats = self.lpips_layers(torch.cat([img0.to(self.device), img1.to(self.device)]))
        total = torch.zeros(n, device=self.device)
        for i, f in enumerate(feats):
            diff = (f[:n] - f[n:]).square()
            lin = getattr(self.lpips_lin, f"lin{i}").model[1]
            total = total + lin(diff).mean(dim=(1, 2, 3))
        return total

    def lpips_features(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, D]`` embedding with ``||e(a) - e(b)||^2 == lpips(a, b)`` for same-size images.

        Each layer's unit-normalised activations are scaled by ``sqrt(w_c / (H * W))``, with
        ``w_c`` the (non-negative) LPIPS channel weights, and flattened. ``D`` depends on the
        image size.
        """
        self._require_lpips()
        parts = []
        for f, w in zip(self.lpips_layers(images), self.lpips_lin.weights()):
            if bool((w < 0).any()):
                raise StyleGANError("LPIPS weights with negative entries have no embedding form")
            h, wd = f.shape[2:]
            parts.append((f * (w / (h * wd)).sqrt().view(1, -1, 1, 1)).flatten(1))
        return torch.cat(parts, dim=1)

    def _require_lpips(self) -> None:
        if not self.lpips_loaded:
            if self._lpips_loader is None:
                raise StyleGANError(
                    "this VGG16 has no LPIPS weights; load it with "
                    "load_feature_network('vgg16', lpips_path=...) to get LPIPS distances"
                )
            self._lpips_loader(self)
