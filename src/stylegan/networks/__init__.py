"""Networks built from :mod:`stylegan.ops`: shared layers, StyleGAN2, and the class registry."""

from stylegan.networks.config import DiscriminatorConfig, GeneratorConfig, MappingConfig
from stylegan.networks.registry import network_class, network_name
from stylegan.networks.stylegan2 import Discriminator, Generator

__all__ = [
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "MappingConfig",
    "network_class",
    "network_name",
]
