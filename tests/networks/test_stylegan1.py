"""The original StyleGAN: AdaIN layers, progressive growing (lod), truncation defaults, D."""

from __future__ import annotations

import math

import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.io.checkpoint import load_checkpoint, save_checkpoint
from stylegan.networks.config_stylegan1 import StyleGAN1GeneratorConfig
from stylegan.networks.registry import network_class, network_name
from stylegan.networks.stylegan1 import (
    Discriminator,
    Generator,
    SynthesisLayer,
    instance_norm,
)
from stylegan.ops.box_resample import box_downsample, nearest_upsample
from tiny_networks import tiny_network

TINY_G = dict(
    z_dim=16,
    c_dim=0,
    w_dim=16,
    img_resolution=32,
    img_channels=3,
    channel_base=256,
    channel_max=16,
    mapping_kwargs=dict(num_layers=2),
)
TINY_D = dict(c_dim=0, img_resolution=32, img_channels=3, channel_base=256, channel_max=16)


def tiny_g(seed: int = 0, **changes) -> Generator:
    G = tiny_network("stylegan1.Generator", seed, **{**TINY_G, **changes})
    # Non-zero noise strengths and biases, so that every path matters in the tests.
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith(("noise_strength", ".bias")) and "mapping" not in name:
                p.add_(torch.randn_like(p) * 0.3)
        G.mapping.w_avg.normal_()
    return G


def tiny_d(seed: int = 0, **changes) -> Discriminator:
    D = tiny_network("stylegan1.Discriminator", seed, **{**TINY_D, **changes})
    with torch.no_grad():
        for name, p in D.named_parameters():
            if name.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.3)
    return D


def test_official_ffhq_parameter_count_and_names():
    # NVIDIA's FFHQ 1024 Gs prints 26,219,627 parameters (mapping + synthesis).
    with torch.device("meta"):
        G = Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3)
        D = Discriminator(c_dim=0, img_resolution=1024, img_channels=3)
    assert sum(p.numel() for p in G.parameters()) == 26_219_627
    assert G.num_ws == 18 and G.synthesis.b1024.conv1.weight.shape == (16, 16, 3, 3)
    assert G.synthesis.b4.const.shape == (512, 4, 4)
    assert G.synthesis.b64.conv0.noise_strength.shape == (256,)
    assert G.synthesis.b64.conv0.affine.weight.shape == (512, 512)  # scale and bias per channel
    assert G.mapping.w_avg_beta == 0.995 and G.mapping.num_layers == 8
    assert D.b4.fc.weight.shape == (512, 512 * 16) and D.b4.out.weight.shape == (1, 512)
    assert D.b1024.fromrgb.weight.shape == (16, 3, 1, 1) and D.b1024.conv1.weight.shape[0] == 32
    assert D.b4.conv.weight.shape == (512, 513, 3, 3)  # + the minibatch-std channel


def test_registry_config_and_checkpoint_round_trip(tmp_path):
    G, D = tiny_g(), tiny_d()
    assert network_name(G) == "stylegan1.Generator" and network_class("stylegan1.Discriminator")
    assert Generator.from_config(G.config.to_dict()).config == G.config
    save_checkpoint(tmp_path / "ckpt", {"G_ema": G, "D": D})
    ckpt = load_checkpoint(tmp_path / "ckpt")
    z = torch.randn(4, 16)
    G2, D2 = ckpt.networks["G_ema"], ckpt.networks["D"]
    torch.testing.assert_close(G2(z, noise_mode="const"), G(z, noise_mode="const"), rtol=0, atol=0)
    img = torch.randn(4, 3, 32, 32)
    torch.testing.assert_close(D2(img), D(img), rtol=0, atol=0)


def test_adain_layer_output_has_the_style_statistics():
    torch.manual_seed(0)
    layer = SynthesisLayer(8, 6, w_dim=4, resolution=8)
    x, w = torch.randn(3, 8, 8, 8), torch.randn(3, 4)
    y = layer(x, w, noise_mode="none")
    scale, shift = layer.affine(w).chunk(2, dim=1)
    torch.testing.assert_close(y.mean(dim=[2, 3]), shift, atol=1e-5, rtol=0)
    std = y.var(dim=[2, 3], unbiased=False).sqrt()
    torch.testing.assert_close(std, scale.abs(), atol=1e-4, rtol=1e-4)
    # Instance norm itself: zero mean, unit mean square per sample and channel.
    n = instance_norm(torch.randn(2, 3, 5, 5) * 7 + 3)
    torch.testing.assert_close(n.mean(dim=[2, 3]), torch.zeros(2, 3), atol=1e-6, rtol=0)
    torch.testing.assert_close(n.square().mean(dim=[2, 3]), torch.ones(2, 3))


def test_default_truncation_is_the_originals():
    G = tiny_g()
    assert G.default_truncation == (0.7, 8)
    z = torch.randn(3, 16)
    torch.manual_seed(1)
    default = G(z, noise_mode="const")
    explicit = G(z, truncation_psi=0.7, truncation_cutoff=8, noise_mode="const")
    torch.testing.assert_close(default, explicit, rtol=0, atol=0)
    untruncated = G(z, truncation_psi=1, noise_mode="const")
    assert (untruncated - default).abs().max() > 1e-3
    ws = G.mapping(z, None, truncation_psi=0.7, truncation_cutoff=8)
    raw = G.mapping(z, None)
    torch.testing.assert_close(ws[:, :8], G.mapping.w_avg.lerp(raw[:, :8], 0.7))


def test_noise_modes():
    G = tiny_g()
    ws = G.mapping(torch.randn(2, 16), None)
    a = G.synthesis(ws, noise_mode="const")
    torch.testing.assert_close(G.synthesis(ws, noise_mode="const"), a, rtol=0, atol=0)
    r1, r2 = G.synthesis(ws, noise_mode="random"), G.synthesis(ws, noise_mode="random")
    assert (r1 - r2).abs().max() > 1e-3
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.zero_()
    torch.testing.assert_close(G.synthesis(ws, noise_mode="random"), G.synthesis(ws, "none"))
    with pytest.raises(StyleGANError, match="noise_mode"):
        G.synthesis(ws, noise_mode="fixed")


def _grown_output(G: Generator, ws: torch.Tensor, top: int) -> torch.Tensor:
    """The image of the blocks up to resolution ``top`` only, by running them one by one."""
    x = None
    for i, res in enumerate(G.synthesis.block_resolutions):
        if res > top:
            break
        block = getattr(G.synthesis, f"b{res}")
        x = block(x, ws[:, 2 * i : 2 * i + 2], "const")
    return block.torgb(x)


def test_generator_levels_of_detail():
    G = tiny_g()
    ws = G.mapping(torch.randn(2, 16), None)
    full = G.synthesis(ws, noise_mode="const")
    torch.testing.assert_close(full, _grown_output(G, ws, 32))
    at16, at8 = _grown_output(G, ws, 16), _grown_output(G, ws, 8)
    torch.testing.assert_close(
        G.synthesis(ws, noise_mode="const", lod=1), nearest_upsample(at16, 2)
    )
    torch.testing.assert_close(
        G.synthesis(ws, noise_mode="const", lod=3), nearest_upsample(_grown_output(G, ws, 4), 8)
    )
    # Fading in 16 px: lerp from the new image towards the upsampled 8 px one by lod - 1.
    want = at16 + (nearest_upsample(at8, 2) - at16) * 0.25
    got = G.synthesis(ws, noise_mode="const", lod=1.25)
    torch.testing.assert_close(got, nearest_upsample(want, 2))
    # The lod buffer is the default, and it travels with the state dict.
    G.synthesis.lod.fill_(1.25)
    torch.testing.assert_close(G.synthesis(ws, noise_mode="const"), got)
    assert float(G.state_dict()["synthesis.lod"]) == 1.25
    assert G.synthesis.active_num_ws() == G.num_ws - 2
    with pytest.raises(StyleGANError, match="lod must lie"):
        G.synthesis(ws, lod=3.5)


def test_faded_out_blocks_get_no_gradient():
    G = tiny_g()
    G.synthesis.lod.fill_(1.0)
    G(torch.randn(2, 16), truncation_psi=1).square().mean().backward()
    assert G.synthesis.b32.conv0.weight.grad is None
    assert G.synthesis.b16.torgb.weight.grad.abs().sum() > 0
    G.zero_grad(set_to_none=True)
    G.synthesis.lod.fill_(0.5)  # both 16 and 32 px ToRGBs contribute during the fade
    G(torch.randn(2, 16), truncation_psi=1).square().mean().backward()
    assert G.synthesis.b16.torgb.weight.grad.abs().sum() > 0
    assert G.synthesis.b32.torgb.weight.grad.abs().sum() > 0
    for name, p in G.named_parameters():
        if "b4.torgb" not in name and "b8.torgb" not in name and "b16" not in name:
            assert p.grad is not None, name


def test_discriminator_levels_of_detail():
    D = tiny_d()
    img = torch.randn(4, 3, 32, 32)
    # At lod 1 D sees only 2x2 block averages: changes inside a block that keep the average
    # change nothing.
    wiggle = torch.randn(4, 3, 32, 32)
    wiggle = wiggle - nearest_upsample(box_downsample(wiggle, 2), 2)
    torch.testing.assert_close(D(img, lod=1), D(img + wiggle, lod=1))
    assert (D(img, lod=0) - D(img + wiggle, lod=0)).abs().max() > 1e-4
    # A fade blends the top block's features with the next FromRGB after that block.
    x_top = D.b32(D.b32.fromrgb(img))
    x_low = D.b16.fromrgb(box_downsample(img, 2))
    x = x_top + (x_low - x_top) * 0.4
    want = D.b4(D.b8(D.b16(x)))
    torch.testing.assert_close(D(img, lod=0.4), want)
    # lod 3: the 4x4 epilogue's own FromRGB on 8x8 averages.
    torch.testing.assert_close(D(img, lod=3), D.b4(D.b4.fromrgb(box_downsample(img, 8))))


def test_conditional_discriminator_scores_the_labelled_class():
    D = tiny_d(c_dim=3)
    img = torch.randn(4, 3, 32, 32)
    c = torch.eye(3)[[0, 2, 1, 2]]
    per_class = D.b4(D.b8(D.b16(D.b32(D.b32.fromrgb(img)))))
    assert per_class.shape == (4, 3)
    torch.testing.assert_close(D(img, c), per_class.gather(1, torch.tensor([[0], [2], [1], [2]])))
    with pytest.raises(StyleGANError, match="c \\(class labels\\)"):
        D(img)


def test_generator_gradients_reach_every_parameter():
    G, D = tiny_g(), tiny_d()
    z = torch.randn(4, 16)
    D(G(z, truncation_psi=1)).sum().backward()
    for name, p in list(G.named_parameters()) + list(D.named_parameters()):
        if "fromrgb" in name and "b32" not in name:
            assert p.grad is None, name  # fully grown: only the top FromRGB / ToRGB are used
        elif "torgb" in name and "b32" not in name:
            assert p.grad is None, name
        else:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
            assert p.grad.abs().sum() > 0, name


def test_config_errors():
    with pytest.raises(StyleGANError, match="power of two"):
        Generator(**{**TINY_G, "img_resolution": 48})
    with pytest.raises(StyleGANError, match="unsupported"):
        Generator(**TINY_G, fmap_decay=0.5)
    with pytest.raises(StyleGANError, match="w_avg"):
        StyleGAN1GeneratorConfig(16, 0, 16, 32, 3, mapping=dict(w_avg_beta=None))
    with pytest.raises(StyleGANError, match="img_resolution >= 8"):
        Discriminator(0, 4, 3)
    G = tiny_g()
    with pytest.raises(StyleGANError, match="ws has shape"):
        G.synthesis(torch.randn(2, 7, 16))


def test_generate_uses_the_default_truncation():
    G = tiny_g()
    images = G.generate([0, 1])
    assert images.shape == (2, 32, 32, 3) and images.dtype == torch.uint8
    assert torch.equal(images, G.generate([0, 1], truncation_psi=0.7, truncation_cutoff=8))
    assert not torch.equal(images, G.generate([0, 1], truncation_psi=1))
    assert math.isclose(G.config.truncation_psi, 0.7)


def test_no_blur_filter():
    # resample_filter=() turns the blur off in G and D (the original's blur_filter=None).
    torch.manual_seed(0)
    G = Generator(**{**TINY_G, "resample_filter": ()})
    D = Discriminator(**{**TINY_D, "resample_filter": ()})
    assert G.synthesis.b8.conv0.resample_filter is None and D.b16.conv1.resample_filter is None
    assert G(torch.randn(2, 16)).shape == (2, 3, 32, 32)
    assert D(torch.randn(2, 3, 32, 32)).shape == (2, 1)
