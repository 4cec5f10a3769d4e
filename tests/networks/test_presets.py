"""Named network presets: stylegan.networks.create and the training presets build alike."""

import pytest
import torch

import stylegan.networks as networks
from stylegan.errors import StyleGANError
from stylegan.networks import layers, stylegan1, stylegan2, stylegan3
from stylegan.networks.presets import PRESETS, create, create_pair, get_preset, list_presets
from stylegan.training.presets import PRESETS as TRAINING_PRESETS
from stylegan.training.presets import make_config
from stylegan.training.state import build_networks

GENERATOR_CLASS = {
    "stylegan1": stylegan1.Generator,
    "stylegan2": stylegan2.Generator,
    "stylegan3-t": stylegan3.Generator,
    "stylegan3-r": stylegan3.Generator,
}


def test_every_training_preset_has_a_network_preset():
    assert list_presets() == list(TRAINING_PRESETS)


@pytest.mark.parametrize("name", list(PRESETS))
def test_create_builds_each_preset_at_its_resolution(name):
    spec = get_preset(name)
    with torch.device("meta"):  # full size without allocating it
        G = create(name)
        D = create(name, net="D")
    assert type(G) is GENERATOR_CLASS[spec.generator]
    want_d = stylegan1.Discriminator if spec.generator == "stylegan1" else stylegan2.Discriminator
    assert type(D) is want_d
    assert G.img_resolution == D.config.img_resolution == spec.img_resolution
    assert G.z_dim == spec.z_dim and G.mapping.num_layers == spec.map_depth


def _training_pair(name, res, **overrides):
    config = make_config(name, resolution=res if name == "auto" else None, **overrides)
    return build_networks(config, res, 3, 0)


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_architectures_equal_what_training_builds(name):
    with torch.device("meta"):
        G, D = create_pair(name, img_resolution=64)
        G_train, D_train = _training_pair(name, 64)
    assert G.config == G_train.config and D.config == D_train.config
    assert list(G.state_dict()) == list(G_train.state_dict())


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_weights_equal_what_training_builds_for_a_seed(name):
    res, narrow = 16, dict(channel_max=16)  # the architecture at full width is checked above
    torch.manual_seed(123)
    G, D = create_pair(name, img_resolution=res, **narrow)
    torch.manual_seed(123)
    G_train, D_train = _training_pair(name, res, **narrow)
    if name.startswith("stylegan1"):
        # Training starts StyleGAN 1 at its schedule's first level of detail.
        from stylegan.training.progressive import set_lod

        set_lod([G, D], float(G_train.synthesis.lod))
    for mine, theirs in ((G, G_train), (D, D_train)):
        assert mine.config == theirs.config
        a, b = mine.state_dict(), theirs.state_dict()
        assert list(a) == list(b)
        for key in a:
            assert torch.equal(a[key], b[key]), key


def test_overrides_and_auto_width():
    G = create("small", img_resolution=16, c_dim=4, img_channels=1)
    assert (G.img_resolution, G.c_dim, G.img_channels) == (16, 4, 1)
    for res in (256, 512):
        auto = get_preset("auto", img_resolution=res).resolved_channel_base
        assert auto == make_config("auto", resolution=res).channel_base
    with torch.device("meta"):
        assert create("auto", img_resolution=512).config.channel_base == 32768
        R = create("stylegan3-r", img_resolution=256)
    assert R.config.channel_base == 65536 and R.config.use_radial_filters
    assert R.config.conv_kernel == 1


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: create("paper9000"), "unknown network preset 'paper9000'"),
        (lambda: create("tiny", net="E"), "net must be 'G' or 'D'"),
        (lambda: create("tiny", channel_bass=4), "unknown network option"),
        (lambda: create("tiny", generator="stylegan4"), "unknown generator"),
        (lambda: create("stylegan1-small", net="D", freeze_layers=2), "freeze_layers needs"),
    ],
)
def test_preset_mistakes_are_user_errors(call, message):
    with pytest.raises(StyleGANError, match=message):
        call()


def test_package_exports_each_generation_by_name():
    assert networks.StyleGAN1Generator is stylegan1.Generator
    assert networks.StyleGAN1Discriminator is stylegan1.Discriminator
    assert networks.StyleGAN2Generator is networks.Generator is stylegan2.Generator
    assert networks.StyleGAN2Discriminator is networks.Discriminator is stylegan2.Discriminator
    assert networks.StyleGAN3Generator is stylegan3.Generator
    assert networks.create is create and tuple(PRESETS) == networks.PRESET_NAMES


def test_one_noise_modes_and_one_generator_constructor():
    from stylegan.ops import modulated_conv
    from stylegan.tools import generate

    assert generate.check_noise_mode is layers.check_noise_mode
    for module in (stylegan1, stylegan2, stylegan3):
        assert module.check_noise_mode is layers.check_noise_mode
        assert not hasattr(module, "NOISE_MODES") or module.NOISE_MODES is layers.NOISE_MODES
        assert "__init__" not in vars(module.Generator)
        assert module.Generator.__init__ is layers.GenerateMixin.__init__
    for module in (stylegan2, stylegan3):
        assert module.untracked is modulated_conv.untracked
    with pytest.raises(StyleGANError, match="noise mode"):
        layers.check_noise_mode("fixed")
