"""The StyleGAN3 generator: configs, T vs R, filters, equivariance, EMAs, gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.io.checkpoint import load_checkpoint, save_checkpoint
from stylegan.latents import z_from_seeds
from stylegan.networks.config_stylegan3 import StyleGAN3GeneratorConfig
from stylegan.networks.registry import network_class, network_name
from stylegan.networks.stylegan3 import (
    Generator,
    design_lowpass_filter,
    layer_schedule,
    transform_matrix,
)
from tiny_networks import TINY_KWARGS, tiny_network

TINY = TINY_KWARGS["stylegan3.Generator"]
R_KWARGS = dict(conv_kernel=1, use_radial_filters=True)

# The generator keyword arguments NVIDIA's train.py writes for --cfg=stylegan3-t / -r (1024 px,
# batch 32), i.e. what an official pickle's init_kwargs holds.
OFFICIAL_T = dict(
    z_dim=512,
    w_dim=512,
    mapping_kwargs={"num_layers": 2},
    channel_base=32768,
    channel_max=512,
    magnitude_ema_beta=0.5 ** (32 / (20 * 1e3)),
    c_dim=0,
    img_resolution=1024,
    img_channels=3,
)
OFFICIAL_R = dict(OFFICIAL_T, channel_base=65536, channel_max=1024, **R_KWARGS)


def tiny(seed: int = 0, **changes) -> Generator:
    return tiny_network("stylegan3.Generator", seed, **changes)


def test_registry_name():
    assert network_class("stylegan3.Generator") is Generator
    assert network_name(tiny()) == "stylegan3.Generator"


@pytest.mark.parametrize("kwargs", [OFFICIAL_T, OFFICIAL_R], ids=["T", "R"])
def test_official_init_kwargs_round_trip(kwargs):
    config = StyleGAN3GeneratorConfig.from_init_kwargs(kwargs)
    assert config.mapping.num_layers == 2 and config.num_ws == 16
    again = StyleGAN3GeneratorConfig.from_init_kwargs(config.to_init_kwargs())
    assert again == config
    assert StyleGAN3GeneratorConfig.from_dict(config.to_dict()) == config
    exported = config.to_init_kwargs()
    for key, value in kwargs.items():
        if key == "mapping_kwargs":
            assert value.items() <= exported[key].items()
        else:
            assert exported[key] == value


@pytest.mark.parametrize(
    "kwargs, millions", [(OFFICIAL_T, 22.31), (OFFICIAL_R, 15.09)], ids=["T", "R"]
)
def test_official_1024_networks_have_the_official_size(kwargs, millions):
    """Parameter counts of the official 1024 px T and R generators (built on the meta device)."""
    with torch.device("meta"):
        G = Generator(**kwargs)
    assert round(sum(p.numel() for p in G.parameters()) / 1e6, 2) == millions
    assert G.num_ws == 16 and G.synthesis.layer_names[-1] == "L14_1024_3"


def test_official_layer_names_and_schedule():
    """The official 256 px T network is L0_36_512 ... L13_256_128, L14_256_3."""
    config = StyleGAN3GeneratorConfig.from_init_kwargs(
        dict(OFFICIAL_T, img_resolution=256, channel_base=32768)
    )
    s = layer_schedule(config)
    names = [f"L{i}_{int(s.sizes[i])}_{int(s.channels[i])}" for i in range(config.num_layers + 1)]
    assert names[0] == "L0_36_512" and names[-2:] == ["L13_256_128", "L14_256_3"]
    assert s.cutoffs[0] == 2 and s.cutoffs[-1] == 128
    assert list(s.sampling_rates[-3:]) == [256, 256, 256]  # the critically sampled end


def test_generator_and_checkpoint_round_trip(tmp_path):
    G = tiny(c_dim=2)
    with torch.no_grad():
        G.synthesis.input.set_transform(translate=(0.1, 0.0), rotate=10)
        for name, buf in G.named_buffers():
            if name.endswith("magnitude_ema"):
                buf.fill_(1.7)
    assert Generator(**G.init_kwargs).config == G.config
    assert Generator.from_config(G.config.to_dict()).config == G.config

    save_checkpoint(tmp_path / "ckpt", {"G_ema": G})
    G2 = load_checkpoint(tmp_path / "ckpt").networks["G_ema"]
    assert type(G2) is Generator and G2.config == G.config
    for key, value in G.state_dict().items():
        assert torch.equal(G2.state_dict()[key], value), key
    z, c = torch.randn([2, 8]), torch.eye(2)
    with torch.no_grad():
        assert torch.equal(G2.eval()(z, c), G.eval()(z, c))


def test_t_and_r_differ_where_they_should():
    T = tiny()
    R = tiny(**R_KWARGS)
    assert T.state_dict().keys() == R.state_dict().keys()
    for field in ("cutoffs", "sampling_rates", "sizes", "channels"):  # same schedule
        assert np.array_equal(
            getattr(T.synthesis.schedule, field), getattr(R.synthesis.schedule, field)
        )
    for t, r in zip(T.synthesis.layers(), R.synthesis.layers()):
        k = 1 if t.is_torgb else 3
        assert t.weight.shape[2:] == (k, k) and r.weight.shape[2:] == (1, 1)
        if t.down_filter is not None:
            assert t.down_filter.ndim == 1  # separable everywhere in T
            radial = not r.is_critically_sampled
            assert r.down_filter.ndim == (2 if radial else 1)
        if t.up_filter is not None:
            assert r.up_filter.ndim == 1  # upsampling filters are never radial
    torgb = T.synthesis.layers()[-1]
    assert torgb.is_torgb and torgb.up_filter is None and torgb.down_filter is None


def test_schedule_grows_geometrically_and_ends_critical():
    config = StyleGAN3GeneratorConfig(**TINY)
    s = layer_schedule(config)
    n, crit = config.num_layers, config.num_critical
    ratios = s.cutoffs[1 : n - crit + 1] / s.cutoffs[: n - crit]
    np.testing.assert_allclose(ratios, ratios[0])
    assert np.all(s.cutoffs[n - crit :] == config.img_resolution / 2)
    assert np.all(s.sizes[-2:] == config.img_resolution)
    assert s.channels[-1] == config.img_channels


@pytest.mark.parametrize(
    "numtaps, cutoff, width, fs",
    [(12, 2.0, 4.6, 16), (12, 4.0, 5.1, 32), (24, 3.2, 2.3, 64), (6, 6.0, 3.3, 16), (7, 1.5, 2, 8)],
)
def test_filters_equal_scipy_design(numtaps, cutoff, width, fs):
    """Our numpy/torch design equals the official scipy one (firwin; jinc with scipy's J1)."""
    signal = pytest.importorskip("scipy.signal")
    special = pytest.importorskip("scipy.special")
    expected = signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs)
    ours = design_lowpass_filter(numtaps, cutoff, width, fs)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=1e-7)

    if numtaps % 2 == 0:  # odd sizes sample r = 0, where the official formula divides by zero
        x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
        r = np.hypot(*np.meshgrid(x, x))
        f = special.j1(2 * cutoff * (np.pi * r)) / (np.pi * r)
        beta = signal.kaiser_beta(signal.kaiser_atten(numtaps, width / (fs / 2)))
        f *= np.outer(np.kaiser(numtaps, beta), np.kaiser(numtaps, beta))
        expected = f / np.sum(f)
    ours = design_lowpass_filter(numtaps, cutoff, width, fs, radial=True)
    assert ours.shape == (numtaps, numtaps) and np.isfinite(ours.numpy()).all()
    if numtaps % 2 == 0:
        np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=1e-7)
    assert design_lowpass_filter(1, cutoff, width, fs) is None


def test_integer_translation_shifts_the_image():
    """Config T is translation equivariant: moving the input by whole pixels moves the image
    (away from the borders, which see different content)."""
    torch.manual_seed(1)
    G = Generator(**{**TINY, "num_layers": 6, "num_critical": 2, "margin_size": 10}).eval()
    ws = G.mapping(torch.randn([2, 8]), None)
    shift = 2
    with torch.no_grad():
        base = G.synthesis(ws)
        G.synthesis.input.set_transform(translate=(shift / G.img_resolution, 0))
        moved = G.synthesis(ws)
    inner = slice(4, -4)
    expected = base[..., inner, inner.start - shift : inner.stop - shift]
    got = moved[..., inner, inner]
    err = (got - expected).abs().mean() / base.abs().mean()
    unrelated = (got - base[..., inner, inner]).abs().mean() / base.abs().mean()
    # Whole-pixel shifts are whole-sample shifts at every layer's rate: nearly exact (~1e-4).
    assert err < 2e-3 and unrelated > 0.2, (err.item(), unrelated.item())


def test_magnitude_ema_updates_only_with_update_emas():
    G = tiny().train()
    z = torch.randn([2, 8])

    def emas():
        return torch.stack([layer.magnitude_ema.clone() for layer in G.synthesis.layers()])

    before = emas()
    G(z, None)
    assert torch.equal(emas(), before)
    G.eval()(z, None)
    assert torch.equal(emas(), before)
    G.train()(z, None, update_emas=True)
    after = emas()
    assert (after != before).all()
    # beta = 0.999 by default: one step moves each EMA 0.1% of the way to the batch magnitude.
    layer = G.synthesis.layers()[0]
    x = G.synthesis.input(G.mapping(z, None)[:, 0])
    expected = x.square().mean().lerp(torch.tensor(1.0), layer.magnitude_ema_beta)
    torch.testing.assert_close(after[0], expected.detach())


def test_gradients_reach_every_parameter():
    G = tiny(c_dim=3).train()
    img = G(torch.randn([2, 8]), torch.eye(3)[:2])
    (img * torch.randn_like(img)).sum().backward()
    missing = [n for n, p in G.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_generate_follows_the_official_protocol():
    G = tiny()
    images = G.generate([3, 5], truncation_psi=0.5, batch_size=1)
    assert images.dtype == torch.uint8 and images.shape == (2, 16, 16, 3)
    with torch.no_grad():
        img = G.eval()(z_from_seeds([3, 5], 8), None, truncation_psi=0.5)
    expected = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    assert (images.int() - expected.int()).abs().max() <= 1


def test_transform_matrix_inverts_the_image_transform():
    m = transform_matrix((0.25, -0.5), 90)
    # Rotating by 90 degrees, then translating: the inverse maps the image origin back.
    forward = torch.linalg.inv(m.double())
    torch.testing.assert_close(forward[:2, 2], torch.tensor([0.25, -0.5], dtype=torch.float64))
    torch.testing.assert_close(forward[:2, :2].det(), torch.tensor(1.0, dtype=torch.float64))


@pytest.mark.parametrize(
    "changes, match",
    [
        (dict(fancy=1), "unsupported StyleGAN3 generator argument"),
        (dict(mapping_kwargs={"embed_features": 4}), "unsupported StyleGAN3 mapping argument"),
        (dict(img_resolution=24), "power of two"),
        (dict(num_critical=4), "num_critical < num_layers"),
        (dict(conv_kernel=0), "conv_kernel must be >= 1"),
        (dict(lrelu_upsampling=1.5), "lrelu_upsampling"),
        (dict(magnitude_ema_beta=2), "magnitude_ema_beta"),
        (dict(first_cutoff=9), "first_cutoff"),
    ],
)
def test_bad_arguments_raise_one_line(changes, match):
    with pytest.raises(StyleGANError, match=match) as info:
        Generator(**{**TINY, **changes})
    assert "\n" not in str(info.value)


def test_bad_inputs_raise():
    G = tiny()
    with pytest.raises(StyleGANError, match="noise_mode"):
        G(torch.randn([1, 8]), None, noise_mode="loud")
    with pytest.raises(StyleGANError, match="ws has shape"):
        G.synthesis(torch.randn([1, 3, 8]))
    with pytest.raises(StyleGANError, match="z has shape"):
        G(torch.randn([1, 7]), None)
