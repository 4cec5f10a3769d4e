"""Configs: official kwargs in, frozen dataclasses, JSON round trips, official kwargs out."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.networks import (
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
    MappingConfig,
)

G_KWARGS = dict(
    z_dim=16,
    c_dim=3,
    w_dim=16,
    img_resolution=16,
    img_channels=3,
    mapping_kwargs=dict(num_layers=2),
    channel_base=256,
    channel_max=32,
    num_fp16_res=2,
    conv_clamp=256,
    architecture="resnet",
    fused_modconv_default="inference_only",
)
D_KWARGS = dict(
    c_dim=3,
    img_resolution=16,
    img_channels=3,
    architecture="skip",
    channel_base=256,
    channel_max=32,
    cmap_dim=8,
    block_kwargs=dict(freeze_layers=1),
    mapping_kwargs=dict(num_layers=1),
    epilogue_kwargs=dict(mbstd_group_size=2, mbstd_num_channels=1),
)


def shapes(net: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


@pytest.mark.parametrize(("cls", "kwargs"), [(Generator, G_KWARGS), (Discriminator, D_KWARGS)])
def test_config_json_round_trip_rebuilds_the_same_network(cls, kwargs):
    net = cls(**kwargs)
    text = json.dumps(net.config.to_dict())
    rebuilt = cls.from_config(json.loads(text))
    assert rebuilt.config == net.config
    assert shapes(rebuilt) == shapes(net)
    rebuilt.load_state_dict(net.state_dict(), strict=True)
    assert cls.from_config(net.config).config == net.config


@pytest.mark.parametrize(("cls", "kwargs"), [(Generator, G_KWARGS), (Discriminator, D_KWARGS)])
def test_init_kwargs_round_trip(cls, kwargs):
    net = cls(**kwargs)
    exported = net.init_kwargs
    json.dumps(exported)
    assert cls(**exported).config == net.config
    for key, value in kwargs.items():
        if isinstance(value, dict):
            for k, v in value.items():
                assert exported[key][k] == v
        else:
            assert exported[key] == value


def test_configs_are_frozen_and_checked():
    cfg = Generator(**G_KWARGS).config
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.img_resolution = 32
    assert cfg.resample_filter == (1, 3, 3, 1) and isinstance(cfg.mapping, MappingConfig)
    assert cfg.num_ws == 6
    with pytest.raises(StyleGANError, match="power of two"):
        cfg.replace(img_resolution=48)
    with pytest.raises(StyleGANError, match="fused_modconv_default"):
        cfg.replace(fused_modconv_default="sometimes")
    with pytest.raises(StyleGANError, match="no field"):
        GeneratorConfig.from_dict({**cfg.to_dict(), "colour": "red"})
    with pytest.raises(StyleGANError, match="incomplete"):
        GeneratorConfig.from_dict({"z_dim": 4})


def test_defaults_are_the_official_class_defaults():
    g = GeneratorConfig(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3)
    assert (g.channel_base, g.channel_max, g.num_fp16_res, g.conv_clamp) == (32768, 512, 4, 256)
    assert (g.architecture, g.fused_modconv_default, g.use_noise) == ("skip", True, True)
    assert g.mapping == MappingConfig(8, None, None, "lrelu", 0.01, 0.998)
    d = DiscriminatorConfig(c_dim=0, img_resolution=1024, img_channels=3)
    assert (d.architecture, d.mbstd_group_size, d.mbstd_num_channels, d.conv_clamp) == (
        "resnet",
        4,
        1,
        256,
    )
    assert d.mapping.w_avg_beta is None


def test_stylegan2_ada_layout_and_defaults():
    """ADA pickles nest synthesis arguments and have other class defaults."""
    ada = dict(
        z_dim=16,
        c_dim=0,
        w_dim=16,
        img_resolution=16,
        img_channels=3,
        mapping_kwargs=dict(num_layers=2),
        synthesis_kwargs=dict(channel_base=256, channel_max=32, fp16_channels_last=True),
    )
    cfg = GeneratorConfig.from_init_kwargs(ada, defaults="stylegan2-ada")
    assert (cfg.channel_base, cfg.num_fp16_res, cfg.conv_clamp) == (256, 0, None)
    assert cfg.mapping.w_avg_beta == 0.995
    assert cfg.fused_modconv_default == "inference_only"
    # The constructor reads the same layout with the stylegan3 repository's defaults.
    G = Generator(**ada)
    assert G.config.channel_base == 256 and G.config.conv_clamp == 256
    d = DiscriminatorConfig.from_init_kwargs(
        dict(c_dim=0, img_resolution=16, img_channels=3), defaults="stylegan2-ada"
    )
    assert (d.num_fp16_res, d.conv_clamp) == (0, None)


def test_unknown_or_conflicting_kwargs_are_errors():
    with pytest.raises(StyleGANError, match="unsupported generator argument"):
        GeneratorConfig.from_init_kwargs({**G_KWARGS, "square": True})
    with pytest.raises(StyleGANError, match="mapping"):
        GeneratorConfig.from_init_kwargs({**G_KWARGS, "mapping_kwargs": {"depth": 2}})
    with pytest.raises(StyleGANError, match="lack"):
        GeneratorConfig.from_init_kwargs({"z_dim": 4})
    with pytest.raises(StyleGANError, match="epilogue"):
        DiscriminatorConfig.from_init_kwargs({**D_KWARGS, "epilogue_kwargs": {"mbstd": 4}})
    with pytest.raises(StyleGANError, match="w_avg_beta"):
        DiscriminatorConfig.from_init_kwargs({**D_KWARGS, "mapping_kwargs": {"w_avg_beta": 0.9}})
    with pytest.raises(StyleGANError, match="activations"):
        DiscriminatorConfig.from_init_kwargs({**D_KWARGS, "block_kwargs": {"activation": "relu"}})
    with pytest.raises(StyleGANError, match="defaults"):
        GeneratorConfig.from_init_kwargs(G_KWARGS, defaults="stylegan9")


def test_network_attributes():
    G = Generator(**G_KWARGS)
    assert (G.z_dim, G.c_dim, G.w_dim, G.img_resolution, G.img_channels, G.num_ws) == (
        16,
        3,
        16,
        16,
        3,
        6,
    )
    D = Discriminator(**D_KWARGS)
    assert (D.c_dim, D.img_resolution, D.img_channels) == (3, 16, 3)
