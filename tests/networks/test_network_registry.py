"""The registry maps checkpoint class names to network classes and back."""

from __future__ import annotations

import pytest

from stylegan.errors import StyleGANError
from stylegan.networks import network_class, network_name
from stylegan.networks.layers import MappingNetwork
from stylegan.networks.stylegan2 import Generator
from stylegan.networks.stylegan2_discriminator import Discriminator


def test_names_round_trip():
    assert network_class("stylegan2.Generator") is Generator
    assert network_class("stylegan2.Discriminator") is Discriminator
    G = Generator(
        z_dim=4,
        c_dim=0,
        w_dim=4,
        img_resolution=4,
        img_channels=3,
        channel_base=64,
        channel_max=4,
        mapping_kwargs=dict(num_layers=1),
    )
    assert network_name(G) == "stylegan2.Generator"
    assert network_name(Discriminator) == "stylegan2.Discriminator"


def test_unknown_names_list_the_known_ones():
    with pytest.raises(StyleGANError, match="stylegan2.Generator"):
        network_class("stylegan9.Generator")
    with pytest.raises(StyleGANError, match="not a registered network"):
        network_name(MappingNetwork(4, 0, 4, 2))
