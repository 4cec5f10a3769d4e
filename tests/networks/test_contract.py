"""The contract every registered network keeps: a JSON config that rebuilds it, a save/load round
trip with bit-equal outputs, construction on the ``meta`` device, and (generators) images that
depend on the seeds alone."""

from __future__ import annotations

import json

import pytest
import torch

import stylegan
from stylegan.networks.registry import known_names, network_name
from tiny_networks import TINY_KWARGS, tiny_network

NAMES = known_names()
GENERATORS = [name for name in NAMES if name.endswith(".Generator")]


def _randomise(net: torch.nn.Module) -> torch.nn.Module:
    """Move every float tensor off its initial value, so a dropped tensor shows in the outputs."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for t in [*net.parameters(), *net.buffers()]:
            if t.is_floating_point() and t.ndim > 0 and t.numel() > 1:
                t.add_(0.05 * torch.randn(t.shape, generator=gen))
    return net.eval()


def _outputs(net: torch.nn.Module) -> torch.Tensor:
    """A deterministic forward pass: G from fixed z (constant noise), D and encoders on fixed
    images, CLIP heads on fixed features and word ids."""
    gen = torch.Generator().manual_seed(2)
    if network_name(net).startswith("mapper."):
        return net(torch.randn([2, net.num_ws, net.w_dim], generator=gen))
    if network_name(net).startswith("clip."):
        features = torch.randn([2, net.config.feature_dim], generator=gen)
        ids = torch.randint(1, net.config.vocab_size, [2, net.context_length], generator=gen)
        return torch.cat([net.encode_features(features), net.encode_tokens(ids)])
    if network_name(net).startswith("encoder."):
        shape = [2, net.img_channels, net.img_resolution, net.img_resolution]
        return net(torch.randn(shape, generator=gen))
    if network_name(net).endswith(".Generator"):
        z = torch.randn([2, net.z_dim], generator=gen)
        return net(z, torch.zeros([2, net.c_dim]), noise_mode="const")
    img = torch.randn([2, net.img_channels, net.img_resolution, net.img_resolution], generator=gen)
    return net(img, torch.zeros([2, net.c_dim]))


def test_every_registered_name_has_a_tiny_network():
    assert GENERATORS and len(NAMES) > len(GENERATORS)
    for name in NAMES:
        assert network_name(tiny_network(name)) == name


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trips_through_json(name):
    net = tiny_network(name)
    text = json.dumps(net.config.to_dict())
    config = type(net.config).from_dict(json.loads(text))
    assert config == net.config
    assert type(net).from_config(json.loads(text)).config == net.config


@pytest.mark.parametrize("name", NAMES)
def test_save_and_load_give_bit_equal_outputs(name, tmp_path):
    net = _randomise(tiny_network(name))
    key = "G_ema" if name in GENERATORS else "D"
    path = stylegan.save(tmp_path / "ckpt", **{key: net})
    back = stylegan.load(path, net=key)
    assert type(back) is type(net) and back.config == net.config
    with torch.no_grad():
        assert torch.equal(_outputs(back.eval()), _outputs(net))


@pytest.mark.parametrize("name", NAMES)
def test_builds_on_the_meta_device(name):
    kwargs = TINY_KWARGS[name]
    if "img_resolution" in kwargs:
        bigger = {"img_resolution": 64}
    else:
        bigger = {"w_dim": 64} if "w_dim" in kwargs else {"feature_dim": 64}
    with torch.device("meta"):
        net = tiny_network(name, **bigger)
    tensors = [*net.parameters(), *net.buffers()]
    assert tensors and all(t.is_meta for t in tensors)
    real = tiny_network(name, **bigger)
    assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in real.parameters())


@pytest.mark.parametrize("name", GENERATORS)
def test_generate_is_deterministic(name):
    G = _randomise(tiny_network(name))
    first = G.generate([5, 0, 3], truncation_psi=0.7, batch_size=2)
    assert first.dtype == torch.uint8 and first.shape == (3, 16, 16, 3)
    assert torch.equal(first, G.generate([5, 0, 3], truncation_psi=0.7, batch_size=2))
    again = _randomise(tiny_network(name))  # the same seed rebuilds the same network
    assert torch.equal(first, again.generate([5, 0, 3], truncation_psi=0.7, batch_size=2))
    assert not torch.equal(first[0], first[1])
