"""Networks built from :mod:`stylegan.ops`: StyleGAN 1, 2 and 3, the class registry, and named
presets (``stylegan.networks.create("paper256")``).

``Generator`` and ``Discriminator`` are StyleGAN2's (the names NVIDIA's code uses).
"""

from stylegan.networks.config import (
    DiscriminatorConfig,
    GeneratorConfig,
    MappingConfig,
)
from stylegan.networks.config_stylegan1 import (
    StyleGAN1DiscriminatorConfig,
    StyleGAN1GeneratorConfig,
)
from stylegan.networks.config_stylegan3 import StyleGAN3GeneratorConfig
from stylegan.networks.presets import (
    PRESETS,
    NetworkPreset,
    create,
    create_pair,
    get_preset,
    list_presets,
)
from stylegan.networks.registry import network_class, network_name
from stylegan.networks.stylegan1 import Discriminator as StyleGAN1Discriminator
from stylegan.networks.stylegan1 import Generator as StyleGAN1Generator
from stylegan.networks.stylegan2 import Generator
from stylegan.networks.stylegan2_discriminator import Discriminator
from stylegan.networks.stylegan3 import Generator as StyleGAN3Generator

StyleGAN2Generator = Generator
StyleGAN2Discriminator = Discriminator
PRESET_NAMES = tuple(PRESETS)

__all__ = [
    "PRESETS",
    "PRESET_NAMES",
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "MappingConfig",
    "NetworkPreset",
    "StyleGAN1Discriminator",
    "StyleGAN1DiscriminatorConfig",
    "StyleGAN1Generator",
    "StyleGAN1GeneratorConfig",
    "StyleGAN2Discriminator",
    "StyleGAN2Generator",
    "StyleGAN3Generator",
    "StyleGAN3GeneratorConfig",
    "create",
    "create_pair",
    "get_preset",
    "list_presets",
    "network_class",
    "network_name",
]
