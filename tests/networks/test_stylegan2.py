"""StyleGAN2 generator and discriminator: official names, sizes, semantics and user errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.images import to_uint8_nhwc
from stylegan.networks.stylegan2 import Generator
from stylegan.networks.stylegan2_discriminator import Discriminator
from tiny_networks import tiny_network

ARCHS = ["orig", "skip", "resnet"]


def tiny_g(**kwargs) -> Generator:
    return tiny_network("stylegan2.Generator", seed=None, **kwargs)


def tiny_d(**kwargs) -> Discriminator:
    return tiny_network("stylegan2.Discriminator", seed=None, **kwargs)


def with_noise(G: Generator) -> Generator:
    """Give every noise input a visible strength (official init is 0)."""
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.5)
    return G


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------------------------
# Official names, shapes and sizes (built on the meta device: no memory, no time)


def expected_g_shapes(res, cbase=32768, cmax=512, z=512, w=512, nmap=8, rgb=3, arch="skip"):
    """Official generator state dict, written out from the documented naming scheme."""
    ch = {r: min(cbase // r, cmax) for r in (2**i for i in range(2, int(math.log2(res)) + 1))}
    s = {"mapping.w_avg": (w,)}
    for i in range(nmap):
        s[f"mapping.fc{i}.weight"], s[f"mapping.fc{i}.bias"] = (w, z if i == 0 else w), (w,)

    def layer(prefix, cin, cout, r):
        s.update(
            {
                f"{prefix}.weight": (cout, cin, 3, 3),
                f"{prefix}.bias": (cout,),
                f"{prefix}.noise_strength": (),
                f"{prefix}.noise_const": (r, r),
                f"{prefix}.resample_filter": (4, 4),
                f"{prefix}.affine.weight": (cin, w),
                f"{prefix}.affine.bias": (cin,),
            }
        )

    for r, cout in ch.items():
        b = f"synthesis.b{r}"
        s[f"{b}.resample_filter"] = (4, 4)
        if r == 4:
            s[f"{b}.const"] = (cout, 4, 4)
        else:
            layer(f"{b}.conv0", ch[r // 2], cout, r)
            if arch == "resnet":
                s[f"{b}.skip.weight"] = (cout, ch[r // 2], 1, 1)
                s[f"{b}.skip.resample_filter"] = (4, 4)
        layer(f"{b}.conv1", cout, cout, r)
        if arch == "skip" or r == res:
            s[f"{b}.torgb.weight"], s[f"{b}.torgb.bias"] = (rgb, cout, 1, 1), (rgb,)
            s[f"{b}.torgb.affine.weight"], s[f"{b}.torgb.affine.bias"] = (cout, w), (cout,)
    return s


def expected_d_shapes(res, cbase=32768, cmax=512, rgb=3, arch="resnet"):
    """Official unconditional discriminator state dict, from the documented naming scheme."""
    ch = {r: min(cbase // r, cmax) for r in (2**i for i in range(2, int(math.log2(res)) + 1))}
    s = {}

    def conv(prefix, cout, cin, k, bias=True):
        s[f"{prefix}.weight"], s[f"{prefix}.resample_filter"] = (cout, cin, k, k), (4, 4)
        if bias:
            s[f"{prefix}.bias"] = (cout,)

    for r in sorted(ch, reverse=True)[:-1]:
        b = f"b{r}"
        s[f"{b}.resample_filter"] = (4, 4)
        if r == res or arch == "skip":
            conv(f"{b}.fromrgb", ch[r], rgb, 1)
        conv(f"{b}.conv0", ch[r], ch[r], 3)
        conv(f"{b}.conv1", ch[r // 2], ch[r], 3)
        if arch == "resnet":
            conv(f"{b}.skip", ch[r // 2], ch[r], 1, bias=False)
    if arch == "skip":
        conv("b4.fromrgb", ch[4], rgb, 1)
    conv("b4.conv", ch[4], ch[4] + 1, 3)
    s["b4.fc.weight"], s["b4.fc.bias"] = (ch[4], ch[4] * 16), (ch[4],)
    s["b4.out.weight"], s["b4.out.bias"] = (1, ch[4]), (1,)
    return s


def shapes(net: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def test_config_f_1024_names_shapes_and_sizes():
    with torch.device("meta"):
        G = Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3)
        D = Discriminator(c_dim=0, img_resolution=1024, img_channels=3)
    assert shapes(G) == expected_g_shapes(1024)
    assert shapes(D) == expected_d_shapes(1024)
    assert G.num_ws == 18 and G.mapping.num_ws == 18
    assert round(count(G) / 1e6, 2) == 30.37
    assert round(count(G.mapping) / 1e6, 2) == 2.10
    assert round(count(G.synthesis) / 1e6, 2) == 28.27
    assert round(count(D) / 1e6, 2) == 29.01


def test_paper256_sizes():
    with torch.device("meta"):
        G = Generator(
            z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3, channel_base=16384
        )
        D = Discriminator(c_dim=0, img_resolution=256, img_channels=3, channel_base=16384)
    assert G.num_ws == 14
    assert round(count(G) / 1e6, 2) == 24.77
    assert round(count(D) / 1e6, 2) == 24.00


@pytest.mark.parametrize("arch", ARCHS)
def test_architecture_names_match_the_scheme(arch):
    with torch.device("meta"):
        G = Generator(
            z_dim=8,
            c_dim=0,
            w_dim=8,
            img_resolution=64,
            img_channels=3,
            channel_base=1024,
            channel_max=64,
            architecture=arch,
            mapping_kwargs=dict(num_layers=2),
        )
        D = Discriminator(
            c_dim=0,
            img_resolution=64,
            img_channels=3,
            channel_base=1024,
            channel_max=64,
            architecture=arch,
        )
    assert shapes(G) == expected_g_shapes(64, 1024, 64, z=8, w=8, nmap=2, arch=arch)
    assert shapes(D) == expected_d_shapes(64, 1024, 64, arch=arch)


def test_conditional_discriminator_has_label_mapping():
    with torch.device("meta"):
        D = Discriminator(
            c_dim=10,
            img_resolution=32,
            img_channels=3,
            channel_base=1024,
            channel_max=64,
            mapping_kwargs=dict(num_layers=2),
        )
    s = shapes(D)
    assert s["mapping.embed.weight"] == (64, 10)
    assert s["mapping.fc1.weight"] == (64, 64)
    assert "mapping.w_avg" not in s
    assert s["b4.out.weight"] == (64, 64)  # cmap_dim defaults to the 4x4 width


@pytest.mark.parametrize("res", [4, 8, 32, 256, 1024])
def test_num_ws(res):
    with torch.device("meta"):
        G = Generator(
            z_dim=4,
            c_dim=0,
            w_dim=4,
            img_resolution=res,
            img_channels=3,
            channel_base=1024,
            channel_max=4,
            mapping_kwargs=dict(num_layers=1),
        )
    assert G.num_ws == G.config.num_ws == 2 * int(math.log2(res)) - 2


def test_no_float64_anywhere():
    for net in (tiny_g(c_dim=3), tiny_d(c_dim=3)):
        assert {t.dtype for t in net.state_dict().values()} == {torch.float32}


# --------------------------------------------------------------------------------------------
# Running


@pytest.mark.parametrize("arch", ARCHS)
def test_generator_architectures_run(arch):
    G = tiny_g(architecture=arch, img_channels=1)
    img = G(torch.randn(2, 16), torch.zeros(2, 0))
    assert img.shape == (2, 1, 16, 16) and img.dtype == torch.float32
    assert torch.isfinite(img).all()


@pytest.mark.parametrize("arch", ARCHS)
def test_discriminator_architectures_run(arch):
    D = tiny_d(architecture=arch)
    assert D(torch.randn(4, 3, 16, 16), None).shape == (4, 1)


def test_conditional_label_changes_outputs():
    torch.manual_seed(0)
    G, D = tiny_g(c_dim=4), tiny_d(c_dim=4)
    z = torch.randn(2, 16)
    c0, c1 = torch.eye(4)[[0, 0]], torch.eye(4)[[1, 1]]
    a, b = G(z, c0, noise_mode="const"), G(z, c1, noise_mode="const")
    assert (a - b).abs().max() > 1e-3
    assert (D(a, c0) - D(a, c1)).abs().max() > 1e-4
    with pytest.raises(StyleGANError, match="class labels"):
        D(a, None)


def test_noise_modes():
    G = with_noise(tiny_g())
    z = torch.randn(2, 16)
    const1, const2 = G(z, None, noise_mode="const"), G(z, None, noise_mode="const")
    torch.testing.assert_close(const1, const2, rtol=0, atol=0)
    assert (G(z, None, noise_mode="random") - G(z, None, noise_mode="random")).abs().max() > 1e-3
    assert (G(z, None, noise_mode="none") - const1).abs().max() > 1e-3
    # With the official initial strength 0, noise changes nothing.
    G0 = tiny_g()
    torch.testing.assert_close(G0(z, None, noise_mode="none"), G0(z, None, noise_mode="const"))
    with pytest.raises(StyleGANError, match="noise_mode"):
        G(z, None, noise_mode="fixed")


def test_use_noise_false_has_no_noise_tensors():
    G = tiny_g(use_noise=False)
    assert not [k for k in G.state_dict() if "noise" in k]
    z = torch.randn(2, 16)
    torch.testing.assert_close(G(z, None, noise_mode="random"), G(z, None, noise_mode="none"))


def test_generator_truncation_and_w_avg():
    G = tiny_g()
    with torch.no_grad():
        G.mapping.w_avg.copy_(torch.randn(16))
    z = torch.randn(3, 16)
    ws = G.mapping(z, None, truncation_psi=0, truncation_cutoff=4)
    torch.testing.assert_close(ws[:, :4], G.mapping.w_avg.expand(3, 4, 16))
    torch.testing.assert_close(ws[:, 4:], G.mapping(z, None)[:, 4:])
    # psi 0 on every layer: every z gives the same image.
    img = G(z, None, truncation_psi=0, noise_mode="const")
    torch.testing.assert_close(img[0], img[1], rtol=1e-5, atol=1e-5)
    before = G.mapping.w_avg.clone()
    G.train()(z, None)
    torch.testing.assert_close(G.mapping.w_avg, before, rtol=0, atol=0)
    G(z, None, update_emas=True)
    assert not torch.equal(G.mapping.w_avg, before)


@pytest.mark.parametrize("fused", [True, False, "inference_only"])
def test_fused_modconv_choices_give_the_same_images(fused):
    G = tiny_g(fused_modconv_default=fused)
    ref = tiny_g()
    ref.load_state_dict(G.state_dict())
    z = torch.randn(3, 16)
    for mode in (True, False):
        G.train(mode), ref.train(mode)
        torch.testing.assert_close(
            G(z, None, noise_mode="const"),
            ref(z, None, noise_mode="const", fused_modconv=False),
            rtol=1e-5,
            atol=1e-5,
        )


def test_same_weights_same_outputs():
    G, D = tiny_g(c_dim=2), tiny_d(c_dim=2)
    G2, D2 = tiny_g(c_dim=2), tiny_d(c_dim=2)
    G2.load_state_dict(G.state_dict(), strict=True)
    D2.load_state_dict(D.state_dict(), strict=True)
    z, c = torch.randn(2, 16), torch.eye(2)
    torch.testing.assert_close(G(z, c, noise_mode="const"), G2(z, c, noise_mode="const"))
    img = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(D(img, c), D2(img, c))


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    G = tiny_g(c_dim=3, architecture="skip")
    D = tiny_d(c_dim=3, architecture="resnet")
    z, c = torch.randn(4, 16), torch.eye(3)[[0, 1, 2, 0]]
    D(G(z, c, noise_mode="random"), c).sum().backward()
    for net in (G, D):
        missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.any()]
        assert missing == []


@pytest.mark.parametrize("arch", ["orig", "resnet"])
def test_gradients_reach_every_parameter_other_archs(arch):
    G, D = tiny_g(architecture=arch), tiny_d(architecture=arch)
    D(G(torch.randn(2, 16), None), None).sum().backward()
    for net in (G, D):
        assert [n for n, p in net.named_parameters() if p.grad is None] == []


def test_freeze_d_turns_first_layers_into_buffers():
    D = tiny_d(block_kwargs=dict(freeze_layers=3))
    frozen = set(tiny_d().state_dict()) - {n for n, _ in D.named_parameters()}
    assert set(D.state_dict()) == set(tiny_d().state_dict())
    # Layers 0..2 are b16.fromrgb, b16.conv0, b16.conv1 (the resnet skip is layer 3).
    assert {k.rsplit(".", 1)[0] for k in frozen if "filter" not in k} == {
        "b16.fromrgb",
        "b16.conv0",
        "b16.conv1",
    }


# --------------------------------------------------------------------------------------------
# generate()


def test_generate_follows_the_official_seed_protocol():
    G = with_noise(tiny_g()).train()
    out = G.generate([3, 7], truncation_psi=0.7, noise_mode="const")
    assert out.dtype == torch.uint8 and out.shape == (2, 16, 16, 3) and out.device.type == "cpu"
    assert G.training, "generate() must restore the training mode"
    G.eval()
    z = torch.from_numpy(np.random.RandomState(7).randn(1, 16)).float()
    with torch.no_grad():
        expected = to_uint8_nhwc(G(z, torch.zeros(1, 0), truncation_psi=0.7, noise_mode="const"))
    assert (out[1:].int() - expected.int()).abs().max() <= 1


def test_generate_is_deterministic_and_independent_of_batch_size():
    G = with_noise(tiny_g())
    seeds = [0, 1, 2, 3, 4]
    a = G.generate(seeds, batch_size=1)
    b = G.generate(seeds, batch_size=4)
    assert torch.equal(a, G.generate(seeds, batch_size=1))
    assert (a.int() - b.int()).abs().max() <= 1
    # Before quantisation the difference is float rounding only.
    z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(16) for s in seeds])).float()
    with torch.no_grad():
        full = G.eval()(z, None, noise_mode="const")
        single = torch.cat([G(z[i : i + 1], None, noise_mode="const") for i in range(5)])
    torch.testing.assert_close(full, single, rtol=0, atol=1e-5)


def test_generate_conditional_needs_a_class():
    G = tiny_g(c_dim=3)
    assert not torch.equal(G.generate([0], class_idx=0), G.generate([0], class_idx=2))
    with pytest.raises(StyleGANError, match="class"):
        G.generate([0])
    with pytest.raises(StyleGANError, match="unconditional"):
        tiny_g().generate([0], class_idx=1)


# --------------------------------------------------------------------------------------------
# User errors


@pytest.mark.parametrize("res", [0, 2, 24, 100, "64"])
def test_bad_resolution_is_a_clear_error(res):
    with pytest.raises(StyleGANError, match="power of two"):
        tiny_g(img_resolution=res)
    with pytest.raises(StyleGANError, match="power of two"):
        tiny_d(img_resolution=res)


def test_bad_inputs_are_clear_errors():
    G, D = tiny_g(), tiny_d()
    with pytest.raises(StyleGANError, match=r"z has shape \[2, 8\], expected \[N, 16\]"):
        G(torch.randn(2, 8), None)
    with pytest.raises(StyleGANError, match="ws has shape"):
        G.synthesis(torch.randn(2, 5, 16))
    with pytest.raises(StyleGANError, match="images have shape|images has shape"):
        D(torch.randn(2, 3, 32, 32), None)
    with pytest.raises(StyleGANError, match="architecture"):
        tiny_g(architecture="unet")
    with pytest.raises(StyleGANError, match="unsupported generator argument"):
        tiny_g(channel_multiplier=2)
    with pytest.raises(StyleGANError, match="img_resolution >= 8"):
        tiny_d(img_resolution=4)
    with pytest.raises(StyleGANError, match="seeds"):
        G.generate([])


@pytest.mark.parametrize("arch", ARCHS)
def test_inference_reuses_buffers_without_changing_images(arch):
    """Under no_grad layers update their own temporaries in place; the images must equal the
    autograd path's and the caller's inputs must be left alone."""
    torch.manual_seed(0)
    G = tiny_g(architecture=arch)
    for name, p in G.named_parameters():  # nonzero noise strengths and biases
        if name.endswith(("noise_strength", "bias")):
            p.data.uniform_(0.1, 0.3)
    z = torch.randn(3, 16)
    z0 = z.clone()
    with torch.no_grad():
        fast = G(z, None, noise_mode="const")
    assert torch.equal(z, z0)
    tracked = G(z, None, noise_mode="const")
    assert tracked.requires_grad
    torch.testing.assert_close(fast, tracked.detach(), rtol=0, atol=1e-6)
    block = G.synthesis.b8
    ws = G.mapping(z, None).detach()[:, : block.num_conv + block.num_torgb]
    x_in = torch.randn(3, block.in_channels, 4, 4)
    img_in = torch.randn(3, 3, 4, 4)
    saved = (x_in.clone(), img_in.clone())
    with torch.no_grad():
        block(x_in, img_in, ws, noise_mode="const")
    assert torch.equal(x_in, saved[0]) and torch.equal(img_in, saved[1])
