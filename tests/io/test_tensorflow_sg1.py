"""NVIDIA's original StyleGAN (TensorFlow) pickles: structure, parity with the official code,
safety, errors.

The .npz fixtures hold random weights and the outputs NVIDIA's ``networks_stylegan.py`` computed
with them (scripts/make_tf_sg1_fixtures.py, README in the fixture folder); the pickles are
written here by ``tf_pickle_writer`` in the release structure and read by our safe loader.
"""

from __future__ import annotations

import builtins
import pickle
from pathlib import Path

import numpy as np
import pytest
import tf_pickle_writer as writer
import torch

from stylegan.errors import StyleGANError
from stylegan.io import tensorflow as tfio
from stylegan.io.checkpoint import load_checkpoint
from stylegan.io.formats import convert, inspect, load_any
from stylegan.io.safe_pickle import safe_load
from stylegan.networks.stylegan1 import Discriminator, Generator

FIXTURES = Path(__file__).parents[1] / "fixtures" / "tensorflow_sg1"
G_STATIC = {
    "sg1_32": dict(resolution=32, num_channels=3, label_size=0, fmap_base=128, fmap_max=32,
                   latent_size=32, dlatent_size=32, mapping_layers=3, mapping_fmaps=24),
    "sg1_128": dict(resolution=128, num_channels=3, label_size=0, fmap_base=64, fmap_max=16,
                    latent_size=16, dlatent_size=16, mapping_layers=2, mapping_fmaps=16),
}  # fmt: skip
D_STATIC = {
    "sg1_32": dict(resolution=32, num_channels=3, label_size=0, fmap_base=128, fmap_max=32),
    "sg1_128": dict(resolution=128, num_channels=3, label_size=0, fmap_base=64, fmap_max=16,
                    mbstd_group_size=2),
}  # fmt: skip


def discriminator_inputs(resolution: int) -> np.ndarray:
    """The images the fixture script showed D (drawn the same way there)."""
    return np.random.RandomState(7).randn(4, 3, resolution, resolution).astype(np.float32)


def _fixture(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{name}.npz") as data:
        return {k: data[k] for k in data.files}


def _pickle(tmp_path: Path, name: str, flat=None, g_static=None, d_static=None) -> Path:
    flat = _fixture(name) if flat is None else flat
    nets = writer.stylegan1_networks(flat, g_static or G_STATIC[name], d_static or D_STATIC[name])
    return writer.write_tf_pickle(tmp_path / f"{name}.pkl", nets)


@pytest.mark.parametrize("name", ["sg1_32", "sg1_128"])
def test_outputs_equal_the_official_code(tmp_path, name):
    data = _fixture(name)
    networks, metadata = tfio.networks_from_tf(safe_load(_pickle(tmp_path, name)))
    G, D, G_ema = networks["G"], networks["D"], networks["G_ema"]
    assert (
        isinstance(G_ema, Generator) and isinstance(D, Discriminator) and isinstance(G, Generator)
    )
    assert metadata["build_func_names"] == {"G": "G_style", "D": "D_basic", "G_ema": "G_style"}
    assert G_ema.config.channel_base == 2 * G_STATIC[name]["fmap_base"]
    z = torch.from_numpy(data["z"])
    reals = torch.from_numpy(discriminator_inputs(D.img_resolution))
    worst = 0.0
    with torch.no_grad():
        for i, lod in enumerate(data["lods"].tolist()):
            img = G_ema(z, truncation_psi=1, noise_mode="const", lod=lod)
            want = torch.from_numpy(data[f"images_psi1_lod{i}"])
            assert want.abs().max() > 0.5  # real signal, not a degenerate network
            worst = max(worst, float((img - want).abs().max()))
            if f"images_psi07_cut4_lod{i}" in data:
                img = G_ema(z, truncation_psi=0.7, truncation_cutoff=4, noise_mode="const", lod=lod)
                want = torch.from_numpy(data[f"images_psi07_cut4_lod{i}"])
                worst = max(worst, float((img - want).abs().max()))
            logits = D(reals, lod=lod)
            torch.testing.assert_close(
                logits, torch.from_numpy(data[f"logits_lod{i}"]), rtol=1e-4, atol=1e-4
            )
    assert worst < 1e-4, worst


def test_the_original_defaults_and_layout(tmp_path):
    networks, _ = tfio.networks_from_tf(safe_load(_pickle(tmp_path, "sg1_32")))
    G = networks["G_ema"]
    data = _fixture("sg1_32")
    # Layout rules, one by one: style bias +1 on the scale half, ReLU-gain bias / sqrt(2),
    # noise inputs numbered from the constant's layer, conv kernels not flipped below 128 px.
    bias = data["Gs/synthesis/8x8/Conv0_up/StyleMod/bias"]
    c = len(bias) // 2
    torch.testing.assert_close(G.synthesis.b8.conv0.affine.bias[:c], torch.from_numpy(bias[:c] + 1))
    torch.testing.assert_close(G.synthesis.b8.conv0.affine.bias[c:], torch.from_numpy(bias[c:]))
    torch.testing.assert_close(
        G.mapping.fc1.bias,
        torch.from_numpy((data["Gs/mapping/Dense1/bias"] / np.sqrt(2)).astype(np.float32)),
    )
    torch.testing.assert_close(
        G.synthesis.b8.conv0.noise_const, torch.from_numpy(data["Gs/synthesis/noise2"][0, 0])
    )
    kernel = data["Gs/synthesis/8x8/Conv0_up/weight"].transpose(3, 2, 0, 1)
    torch.testing.assert_close(G.synthesis.b8.conv0.weight, torch.from_numpy(kernel))
    assert G.default_truncation == (0.7, 8) and G.mapping.w_avg_beta == 0.995
    torch.testing.assert_close(G.mapping.w_avg, torch.from_numpy(data["Gs/dlatent_avg"]))


def test_ffhq_1024_shapes_give_the_published_parameter_count():
    # Variable shapes of the FFHQ 1024 Gs (from the official graph's rules, as in our writer),
    # matched against our network built on the meta device.
    with torch.device("meta"):
        G = Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3)
    total = sum(p.numel() for p in G.parameters())
    assert total == 26_219_627  # "Total" printed by the original for Gs (without noise inputs)


def test_load_any_inspect_and_convert(tmp_path):
    path = _pickle(tmp_path, "sg1_32")
    ckpt = load_any(path)
    assert set(ckpt.networks) == {"G", "D", "G_ema"}
    info = inspect(path)
    assert info["networks"]["G_ema"]["class"] == "stylegan1.Generator"
    assert info["networks"]["D"]["class"] == "stylegan1.Discriminator"
    out = convert(path, tmp_path / "ours", to="safetensors")
    again = load_checkpoint(out).networks["G_ema"]
    z = torch.randn(2, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            again(z, noise_mode="const"), ckpt.networks["G_ema"](z, noise_mode="const")
        )


def test_loading_runs_no_code(tmp_path, monkeypatch):
    path = _pickle(tmp_path, "sg1_32")

    def refuse(*args, **kwargs):
        raise AssertionError("pickle.load or exec must not be used")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    networks, _ = tfio.networks_from_tf(safe_load(path))
    assert isinstance(networks["G_ema"], Generator)


@pytest.mark.parametrize(
    "option, value, match",
    [
        ("use_instance_norm", False, "use_instance_norm=False"),
        ("const_input_layer", False, "const_input_layer=False"),
        ("fmap_decay", 0.5, "fmap_decay=0.5"),
        ("nonlinearity", "relu", "nonlinearity='relu'"),
        ("something_new", 1, "does not know"),
        ("label_size", 3, "conditional StyleGAN"),
    ],
)
def test_unsupported_options_are_refused(tmp_path, option, value, match):
    g_static = dict(G_STATIC["sg1_32"], **{option: value})
    obj = safe_load(_pickle(tmp_path, "sg1_32", g_static=g_static))
    with pytest.raises(StyleGANError, match=match):
        tfio.networks_from_tf(obj)


def test_incomplete_pickle_names_the_missing_variable(tmp_path):
    flat = _fixture("sg1_32")
    del flat["Gs/synthesis/16x16/Conv1/StyleMod/weight"]
    obj = safe_load(_pickle(tmp_path, "sg1_32", flat=flat))
    with pytest.raises(StyleGANError, match="16x16/Conv1/StyleMod/weight"):
        tfio.networks_from_tf(obj)
