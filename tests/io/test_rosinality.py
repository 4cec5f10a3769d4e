"""rosinality/stylegan2-pytorch checkpoints: same outputs as their code, lossless both ways.

The fixtures in ``tests/fixtures/rosinality/`` hold outputs of rosinality's own ``model.py``
(see the README there and ``scripts/make_rosinality_fixtures.py``). Their networks are too wide
to store (512 channels up to 32 px), so the weights are redrawn here from the recorded
``RandomState`` recipe and checked against the recorded SHA-256 before use.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.io.rosinality import (
    is_rosinality_checkpoint,
    networks_from_rosinality,
    rosinality_arguments,
    rosinality_from_networks,
)
from stylegan.networks.config import DiscriminatorConfig, GeneratorConfig, MappingConfig
from stylegan.networks.stylegan2 import Generator
from stylegan.networks.stylegan2_discriminator import Discriminator

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NAMES = sorted(p.stem for p in (FIXTURES / "rosinality").glob("*.npz"))
ATOL = 1e-4


@functools.cache
def fixture(name: str) -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(FIXTURES / "rosinality" / f"{name}.npz", allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    return json.loads(str(arrays.pop("meta"))), arrays


def _scale(key: str) -> tuple[float, float]:
    """The fixture recipe's (scale, offset) per key (see make_rosinality_fixtures.py)."""
    if key.startswith("style."):
        return (100.0, 0.0) if key.endswith("weight") else (10.0, 0.0)
    if key.endswith("modulation.bias"):
        return 0.5, 1.0
    if key.endswith("bias") or key.endswith("noise.weight"):
        return 0.5, 0.0
    return 1.0, 0.0


@functools.cache
def their_checkpoint(name: str) -> dict:
    """The rosinality checkpoint dict (g_ema, d, latent_avg) their code was run with."""
    meta, arrays = fixture(name)
    rs = np.random.RandomState(meta["seed"])
    ckpt = {}
    for prefix in ("g_ema", "d"):
        state, h = {}, hashlib.sha256()
        for key, shape in meta["keys"][prefix]:
            if key.endswith(".kernel"):
                value = arrays[f"{prefix}.{key}"]
            else:
                scale, offset = _scale(key)
                u = (rs.random_sample(tuple(shape)) * 2.0 - 1.0) * np.sqrt(3.0)
                value = (u * scale + offset).astype(np.float32)
            h.update(key.encode())
            h.update(np.ascontiguousarray(value, dtype="<f4").tobytes())
            state[key] = torch.from_numpy(value)
        assert h.hexdigest() == meta["sha256"][prefix], f"{name}: redrawn {prefix} weights differ"
        ckpt[prefix] = state
    ckpt["latent_avg"] = torch.from_numpy(arrays["latent_avg"])
    return ckpt


@functools.cache
def converted(name: str):
    return networks_from_rosinality(their_checkpoint(name))


def assert_close(ours: torch.Tensor, theirs: np.ndarray, what: str) -> None:
    expected = torch.from_numpy(theirs)
    assert ours.shape == expected.shape, what
    worst = (ours - expected).abs().max().item()
    assert worst <= ATOL, f"{what}: max abs diff {worst:.3g} > {ATOL}"


def assert_same_tensors(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert sa[key].dtype == sb[key].dtype and torch.equal(sa[key], sb[key]), key


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


@pytest.mark.parametrize("name", NAMES)
def test_outputs_match_rosinality(name):
    meta, arrays = fixture(name)
    nets, _ = converted(name)
    G, D = nets["G_ema"], nets["D"]
    z = torch.from_numpy(arrays["z"])
    psi = meta["psi"]
    assert_close(G(z, truncation_psi=psi, noise_mode="const"), arrays["img_psi"], "G psi")
    assert_close(G(z, noise_mode="const"), arrays["img_psi1"], "G psi 1")
    assert_close(D(torch.from_numpy(arrays["d_images"])), arrays["logits_random"], "D random")
    assert_close(D(torch.from_numpy(arrays["img_psi"])), arrays["logits_fake"], "D on G")


@pytest.mark.parametrize("name", NAMES)
def test_config_inferred_from_shapes(name):
    meta = fixture(name)[0]
    nets, info = converted(name)
    assert sorted(nets) == ["D", "G_ema"]
    assert not nets["G_ema"].training and not nets["D"].training
    base = 32768 if meta["size"] <= 32 else 16384 * meta["channel_multiplier"]
    g, d = nets["G_ema"].config, nets["D"].config
    assert (g.img_resolution, g.z_dim, g.w_dim) == (meta["size"],) + (meta["style_dim"],) * 2
    assert (g.mapping.num_layers, g.mapping.lr_multiplier) == (meta["n_mlp"], 0.01)
    assert (g.channel_base, g.channel_max, g.architecture) == (base, 512, "skip")
    assert (g.c_dim, g.num_fp16_res, g.conv_clamp, g.img_channels) == (0, 0, None, 3)
    assert (d.img_resolution, d.channel_base, d.channel_max) == (meta["size"], base, 512)
    assert (d.architecture, d.mbstd_group_size, d.mbstd_num_channels) == ("resnet", 4, 1)
    assert (d.c_dim, d.conv_clamp) == (0, None)
    assert info["format"] == "rosinality" and info["w_avg"] == "latent_avg"
    assert info["channel_multiplier"] == (None if meta["size"] <= 32 else base / 16384)
    json.dumps(info)
    settings = {k: meta[k] for k in ("size", "n_mlp", "channel_multiplier")}
    assert rosinality_arguments(nets["G_ema"]) == dict(settings, latent=meta["style_dim"])
    settings.pop("n_mlp")
    assert rosinality_arguments(nets["D"]) == settings


@pytest.mark.parametrize("name", NAMES)
def test_export_gives_back_their_exact_tensors(name):
    """Theirs -> ours -> theirs is the identity, bit for bit and in their key order."""
    out = rosinality_from_networks(converted(name)[0])
    assert sorted(out) == ["d", "d_optim", "g_ema", "latent_avg"]
    theirs = their_checkpoint(name)
    for key in ("g_ema", "d"):
        assert list(out[key]) == list(theirs[key])
        for k, v in theirs[key].items():
            assert torch.equal(out[key][k], v), f"{key}.{k}"
    assert torch.equal(out["latent_avg"], theirs["latent_avg"])
    n_params = sum(1 for k in theirs["d"] if not k.endswith(".kernel"))
    assert out["d_optim"]["param_groups"][0]["params"] == list(range(n_params))


def test_round_trip_through_torch_save_weights_only(tmp_path):
    """Ours -> theirs -> file -> ``torch.load(weights_only=True)`` -> ours: nothing changes."""
    nets, _ = converted(NAMES[0])
    torch.save(rosinality_from_networks(nets), tmp_path / "export.pt")
    back, info = networks_from_rosinality(torch.load(tmp_path / "export.pt", weights_only=True))
    for key in ("G_ema", "D"):
        assert_same_tensors(nets[key], back[key])
        assert nets[key].config == back[key].config
    assert info["ignored_keys"] == ["d_optim"]


def test_missing_latent_avg_estimates_w_avg_deterministically():
    name = NAMES[0]
    g_ema = their_checkpoint(name)["g_ema"]
    args = argparse.Namespace(size=16, lr=0.002, ckpt=None, wandb=False, path="lmdb", iter=[1])
    ckpt = {"g_ema": g_ema, "g": g_ema, "args": args, "ada_aug_p": 0.25, "g_optim": {}}
    nets, info = networks_from_rosinality(ckpt)
    assert sorted(nets) == ["G", "G_ema"]
    w_avg = nets["G_ema"].mapping.w_avg
    assert torch.equal(w_avg, nets["G"].mapping.w_avg)  # same weights, same z
    assert info["w_avg"].startswith("estimated")
    assert info["ada_aug_p"] == 0.25 and info["ignored_keys"] == ["g_optim"]
    assert info["args"] == dict(size=16, lr=0.002, ckpt=None, wandb=False, path="lmdb", iter=[1])
    json.dumps(info)
    # Another 4096 z give nearly the same mean: their latent_avg (mean_latent(4096), own seed).
    latent_avg = their_checkpoint(name)["latent_avg"]
    w = nets["G"].mapping(torch.randn([4096, nets["G"].z_dim]), None)[:, 0]
    tol = 6 * w.std(dim=0).max().item() / 4096**0.5
    assert (w_avg - latent_avg).abs().max().item() < tol
    again, _ = networks_from_rosinality({"g_ema": g_ema})
    assert torch.equal(again["G_ema"].mapping.w_avg, w_avg)


def _damaged(change) -> dict:
    g_ema = dict(their_checkpoint(NAMES[0])["g_ema"])
    change(g_ema)
    return {"g_ema": g_ema}


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda sd: sd.pop("conv1.noise.weight"), "lacks 'conv1.noise.weight'"),
        (lambda sd: sd.pop("input.input"), "lacks 'input.input'"),
        (lambda sd: sd.update({"to_rgb1.bias": torch.zeros(3)}), "'to_rgb1.bias' has shape"),
        (lambda sd: sd.update({"extra.weight": torch.zeros(1)}), "unexpected key"),
        (lambda sd: sd.update({"to_rgbs.0.upsample.kernel": torch.ones(4, 4)}), "blur kernel"),
        (lambda sd: sd.update({"to_rgbs.0.iwt.ll": torch.ones(2, 2)}), "SWAGAN"),
    ],
)
def test_damaged_checkpoint_raises(change, message):
    with pytest.raises(StyleGANError, match=message):
        networks_from_rosinality(_damaged(change))


def test_other_bad_inputs_raise():
    g_ema = their_checkpoint(NAMES[0])["g_ema"]
    with pytest.raises(StyleGANError, match="not a rosinality checkpoint"):
        networks_from_rosinality({"G_ema": g_ema})
    with pytest.raises(StyleGANError, match="latent_avg"):
        networks_from_rosinality({"g_ema": g_ema, "latent_avg": torch.zeros(7)})
    # channel_multiplier 4 (1024 channels at 64 px) exceeds our channel_max 512: only shapes
    # are read before the error, so meta tensors do.
    wide = {"input.input": torch.empty(1, 512, 4, 4), "conv1.conv.modulation.weight": None}
    wide["conv1.conv.modulation.weight"] = torch.empty(512, 8)
    for k, res in enumerate([8, 16, 32, 64]):
        wide[f"convs.{2 * k}.conv.weight"] = torch.empty(1, 1024 if res == 64 else 512, 1, 1, 1)
        wide[f"to_rgbs.{k}.conv.weight"] = torch.empty(1, 3, 1, 1, 1)
    wide["to_rgb1.conv.weight"] = torch.empty(1, 3, 512, 1, 1)
    with pytest.raises(StyleGANError, match="1024 channels at 64 px"):
        networks_from_rosinality({"g_ema": wide})


def test_is_rosinality_checkpoint():
    ckpt = their_checkpoint(NAMES[0])
    assert is_rosinality_checkpoint(ckpt)
    assert is_rosinality_checkpoint({"d": ckpt["d"]})
    assert not is_rosinality_checkpoint({"G_ema": ckpt["g_ema"]})
    assert not is_rosinality_checkpoint({"g": {"mapping.fc0.weight": torch.zeros(1)}})
    assert not is_rosinality_checkpoint([ckpt])


def _randomise(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every parameter and buffer (noise strengths, biases, noise_const, w_avg) but the fixed
    resample filters gets a distinct random value, so a lost tensor cannot pass unnoticed."""
    gen = torch.Generator().manual_seed(seed)
    for name, t in list(net.named_parameters()) + list(net.named_buffers()):
        if not name.endswith("resample_filter"):
            t.copy_(torch.randn(t.shape, generator=gen))
    return net.eval()


def _official_fixture_configs() -> tuple[dict, dict]:
    path = FIXTURES / "official" / "uncond32_skip_resnet.npz"
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["G_init_kwargs"])), json.loads(str(data["D_init_kwargs"]))


def test_official_networks_round_trip():
    """Official weights -> ours -> rosinality -> ours. The official fixture's widths (channel_base
    512, channel_max 32) and conv_clamp 256 have no rosinality equivalent, which must be said;
    a rosinality-compatible network built from the same official kwargs round-trips exactly."""
    g_kwargs, d_kwargs = _official_fixture_configs()
    with pytest.raises(StyleGANError, match="channel_max 32.*conv_clamp|conv_clamp.*channel_max"):
        rosinality_from_networks({"G_ema": Generator(**g_kwargs)})
    fits = dict(channel_base=32768, channel_max=512, conv_clamp=None, img_resolution=8)
    G = _randomise(Generator(**{**g_kwargs, **fits}), 1)
    D = _randomise(Discriminator(**{**d_kwargs, **fits}), 2)
    out = rosinality_from_networks({"G_ema": G, "G": G, "D": D})
    assert sorted(out) == ["d", "d_optim", "g", "g_ema", "g_optim", "latent_avg"]
    back, _ = networks_from_rosinality(out)
    z = torch.randn([2, G.z_dim], generator=torch.Generator().manual_seed(3))
    for name, ours in (("G_ema", G), ("G", G), ("D", D)):
        assert_same_tensors(ours, back[name])
    for name in ("G_ema", "G"):
        img = back[name](z, truncation_psi=0.6, noise_mode="const")
        assert torch.equal(img, G(z, truncation_psi=0.6, noise_mode="const"))
    img = G(z, noise_mode="const")
    assert torch.equal(back["D"](img), D(img))


TINY = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3, channel_base=64)


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(architecture="orig"), "architecture='orig'"),
        (dict(c_dim=4), "c_dim=4"),
        (dict(conv_clamp=256), "conv_clamp=256"),
        (dict(mapping=MappingConfig(num_layers=2, lr_multiplier=0.1)), "lr_multiplier=0.1"),
        (dict(z_dim=16), "z_dim=16"),
        (dict(img_channels=1), "img_channels=1"),
        (dict(resample_filter=(1, 2, 1)), "resample_filter"),
    ],
)
def test_generator_rosinality_cannot_express_raises(changes, message):
    cfg = GeneratorConfig(**{**TINY, "channel_base": 4096, "channel_max": 512, **changes})
    with pytest.raises(StyleGANError, match=message):
        rosinality_from_networks({"G_ema": Generator.from_config(cfg)})


def test_discriminator_and_channels_rosinality_cannot_express_raise():
    tiny = GeneratorConfig(**TINY, channel_max=32)
    with pytest.raises(StyleGANError, match="channel_base 64, channel_max 32"):
        rosinality_from_networks({"G": Generator.from_config(tiny)})
    d = DiscriminatorConfig(
        c_dim=0, img_resolution=8, img_channels=3, channel_base=4096, mbstd_group_size=8
    )
    with pytest.raises(StyleGANError, match="mbstd_group_size=8"):
        rosinality_from_networks({"D": Discriminator.from_config(d)})
    # channel_multiplier 1.5 (384 channels at 64 px) is no integer: their argparse takes ints.
    cfg = GeneratorConfig(**{**TINY, "img_resolution": 64, "channel_base": 24576})
    G = Generator.from_config(cfg)
    with pytest.raises(StyleGANError, match="integer channel_multiplier"):
        rosinality_from_networks({"G": G})
    with pytest.raises(StyleGANError, match="integer channel_multiplier"):
        rosinality_arguments(G)
    with pytest.raises(StyleGANError, match="G_ema, G and D only"):
        rosinality_from_networks({"augment_pipe": Discriminator.from_config(d)})


# ---- mixed-precision NVIDIA networks: converted without the clamp, the change measured ----


def _clamped_checkpoint(tmp_path: Path, bite: bool) -> tuple[Path, Generator]:
    """A rosinality-shaped G and D with NVIDIA's mixed-precision settings (conv_clamp 256,
    fp16 in the top resolution); ``bite`` shifts biases so activations pass 256 (a weight
    scale would not: demodulation cancels it)."""
    from stylegan.io.checkpoint import save_checkpoint

    torch.manual_seed(0)
    cfg = GeneratorConfig(
        **{**TINY, "channel_base": 4096, "channel_max": 512, "num_fp16_res": 1, "conv_clamp": 256}
    )
    G = Generator.from_config(cfg).eval()
    d = DiscriminatorConfig(
        c_dim=0, img_resolution=8, img_channels=3, channel_base=4096, conv_clamp=256
    )
    D = Discriminator.from_config(d).eval()
    if bite:
        with torch.no_grad():
            for name, p in G.named_parameters():
                if name.endswith("conv1.bias"):
                    p.add_(300)
    path = save_checkpoint(tmp_path / "clamped", {"G_ema": G, "D": D})
    return path, G


def _unclamped(G: Generator) -> Generator:
    """``G`` without the clamp: what rosinality's classes compute with its weights."""
    free = Generator.from_config(G.config.replace(conv_clamp=None, num_fp16_res=0)).eval()
    free.load_state_dict(G.state_dict())
    return free


@pytest.mark.parametrize("bite", [False, True])
def test_clamped_network_converts_with_a_warning_and_the_measured_change(tmp_path, bite):
    from stylegan.io.formats import MEASURE_SEEDS, convert, load_any
    from stylegan.latents import z_from_seeds

    source, G = _clamped_checkpoint(tmp_path, bite)
    with pytest.warns(UserWarning, match="conv_clamp=256 \\(rosinality has no clamp\\)") as rec:
        result = convert(source, tmp_path / "ros.pt", to="rosinality")
    assert "G_ema num_fp16_res=1 (rosinality runs in fp32)" in str(rec[0].message)
    assert "D conv_clamp=256" in str(rec[0].message)
    assert result.warnings == (str(rec[0].message),)
    back = load_any(result.path).networks
    assert back["G_ema"].config.conv_clamp is None and back["D"].config.conv_clamp is None
    assert_same_tensors(_unclamped(G), back["G_ema"])
    # The number is the real one: the source with its clamp against the clamp-free network.
    z = z_from_seeds(list(MEASURE_SEEDS), G.z_dim)
    expected = (G(z, noise_mode="const") - _unclamped(G)(z, noise_mode="const")).abs().max()
    assert result.max_abs_difference == pytest.approx(
        expected.item(), rel=1e-5, abs=1e-6
    )  # batch of 8 vs one by one
    if bite:
        assert result.max_abs_difference > 1  # images moved by more than half their range
    else:
        assert result.max_abs_difference == 0  # 256 is never reached by an ordinary network


def test_cli_prints_the_dropped_clamp_and_the_difference(tmp_path):
    from click.testing import CliRunner

    from stylegan.cli import cli

    source, _ = _clamped_checkpoint(tmp_path, bite=False)
    out = tmp_path / "ros.pt"
    result = CliRunner().invoke(cli, ["convert", str(source), str(out), "--to", "rosinality"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("warning: rosinality cannot express G_ema conv_clamp=256")
    assert lines[1] == (
        "max abs image difference, source vs written file, over 8 seeds (fp32, CPU): 0"
    )
    assert lines[2] == f"wrote {out} (rosinality)"
    # Other settings rosinality cannot express are refused as before.
    cfg = GeneratorConfig(**{**TINY, "channel_base": 4096, "conv_clamp": 256, "c_dim": 4})
    from stylegan.io.checkpoint import save_checkpoint

    labelled = save_checkpoint(tmp_path / "labelled", {"G_ema": Generator.from_config(cfg)})
    other = tmp_path / "labelled.pt"  # a new name: an existing one is refused before reading
    result = CliRunner().invoke(cli, ["convert", str(labelled), str(other), "--to", "rosinality"])
    assert result.exit_code == 1 and "error: rosinality cannot express G_ema: c_dim=4" in (
        result.output
    )
