"""Names for network classes, so a checkpoint can say which class rebuilds each network.

A checkpoint's ``config.json`` stores ``"class": "stylegan2.Generator"``; the loader looks the
name up here instead of unpickling code. Classes are imported on first use.
"""

from __future__ import annotations

import importlib

from torch import nn

from stylegan.errors import StyleGANError

# Public name -> (module, class name). Add later architectures here.
NETWORKS: dict[str, tuple[str, str]] = {
    "stylegan1.Generator": ("stylegan.networks.stylegan1", "Generator"),
    "stylegan1.Discriminator": ("stylegan.networks.stylegan1", "Discriminator"),
    "stylegan2.Generator": ("stylegan.networks.stylegan2", "Generator"),
    "stylegan2.Discriminator": ("stylegan.networks.stylegan2_discriminator", "Discriminator"),
    "stylegan3.Generator": ("stylegan.networks.stylegan3", "Generator"),
    "encoder.Encoder": ("stylegan.networks.encoder", "Encoder"),
    "mapper.LevelsMapper": ("stylegan.networks.mapper", "LevelsMapper"),
    "clip.CLIPHeads": ("stylegan.networks.clip", "CLIPHeads"),
}


def known_names() -> list[str]:
    """Every registered network name."""
    return sorted(NETWORKS)


def network_class(name: str) -> type[nn.Module]:
    """The class registered as ``name`` (e.g. ``"stylegan2.Generator"``)."""
    if name not in NETWORKS:
        raise StyleGANError(
            f"unknown network class {name!r}: known are {', '.join(known_names())} "
            "(a checkpoint from a newer version of stylegan?)"
        )
    module, attr = NETWORKS[name]
    return getattr(importlib.import_module(module), attr)


def network_name(net: nn.Module | type[nn.Module]) -> str:
    """The registered name of ``net``'s class (the inverse of :func:`network_class`)."""
    cls = net if isinstance(net, type) else type(net)
    for name, (module, attr) in NETWORKS.items():
        if cls.__module__ == module and cls.__qualname__ == attr:
            return name
    raise StyleGANError(
        f"{cls.__module__}.{cls.__qualname__} is not a registered network: "
        f"only {', '.join(known_names())} can be saved"
    )
