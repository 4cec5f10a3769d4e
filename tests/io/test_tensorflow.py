"""TensorFlow StyleGAN2(-ADA) pickles convert to networks that match NVIDIA's own converter.

Each fixture in ``tests/fixtures/tensorflow/`` holds random TensorFlow variables for a small
configuration and the outputs of the networks NVIDIA's ``legacy.py`` made from them (see the
README there and ``scripts/make_tf_fixtures.py``). Here the same variables are written as a
TensorFlow-structured pickle by ``tf_pickle_writer``, read with ``safe_load`` (no code from the
file runs) and converted by ``stylegan.io.tensorflow``.
"""

from __future__ import annotations

import functools
import io
import json
import pickletools
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.io import tensorflow as tfio
from stylegan.io.safe_pickle import safe_load

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tf_pickle_writer as writer  # noqa: E402

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "tensorflow"
FIXTURES = sorted(p.stem for p in FIXTURE_DIR.glob("*.npz"))
ATOL = 1e-4
NET_PREFIXES = tuple(k + "/" for k in writer.NET_KEYS)


@functools.cache
def load_fixture(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURE_DIR / f"{name}.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def spec_and_variables(name: str) -> tuple[dict, dict[str, np.ndarray]]:
    fx = load_fixture(name)
    flat = {k: v.astype(np.float32) for k, v in fx.items() if k.startswith(NET_PREFIXES)}
    return json.loads(str(fx["spec"])), flat


def convert(tmp_path: Path, spec: dict, flat: dict[str, np.ndarray]):
    """Write the TF-structured pickle, read it safely, convert it."""
    path = writer.write_tf_pickle(tmp_path / "net.pkl", writer.tf_networks(spec, flat))
    obj = safe_load(path)
    assert tfio.is_tf_networks(obj)
    return tfio.networks_from_tf(obj)


def max_diff(ours: torch.Tensor, official: np.ndarray) -> float:
    assert tuple(ours.shape) == official.shape
    return (ours.detach() - torch.from_numpy(official)).abs().max().item()


@torch.no_grad()
def compare_with_official(networks: dict, fx: dict[str, np.ndarray]) -> dict[str, float]:
    G_ema, G, D = networks["G_ema"], networks["G"], networks["D"]
    z, c = torch.from_numpy(fx["z"]), torch.from_numpy(fx["c"])
    meta = json.loads(str(fx["meta"]))
    trunc = dict(truncation_psi=meta["truncation_psi"], truncation_cutoff=meta["truncation_cutoff"])
    return {
        "ws": max_diff(G_ema.mapping(z, c), fx["ws"]),
        "ws_psi07": max_diff(
            G_ema.mapping(z, c, truncation_psi=meta["truncation_psi"]), fx["ws_psi07"]
        ),
        "ws_psi07_cutoff2": max_diff(G_ema.mapping(z, c, **trunc), fx["ws_psi07_cutoff2"]),
        "img_const": max_diff(G_ema(z, c, noise_mode="const"), fx["img_const"]),
        "img_const_psi07_cutoff2": max_diff(
            G_ema(z, c, noise_mode="const", **trunc), fx["img_const_psi07_cutoff2"]
        ),
        "G_ws": max_diff(G.mapping(z, c), fx["G_ws"]),
        "G_img_const": max_diff(G(z, c, noise_mode="const"), fx["G_img_const"]),
        "logits_img_const": max_diff(
            D(torch.from_numpy(fx["img_const"]), c), fx["logits_img_const"]
        ),
        "logits_G_img_const": max_diff(
            D(torch.from_numpy(fx["G_img_const"]), c), fx["logits_G_img_const"]
        ),
    }


@pytest.mark.skipif(not FIXTURES, reason="no TensorFlow fixtures found")
@pytest.mark.parametrize("name", FIXTURES)
def test_matches_official_converter(tmp_path, name):
    spec, flat = spec_and_variables(name)
    networks, meta = convert(tmp_path, spec, flat)
    assert set(networks) == {"G", "D", "G_ema"}
    assert not any(net.training for net in networks.values())
    diffs = compare_with_official(networks, load_fixture(name))
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] <= ATOL, f"{name}: {worst} differs by {diffs[worst]:.3g}; all: {diffs}"

    json.dumps(meta)  # JSON-able
    assert meta["format"] == "nvidia-tensorflow"
    assert meta["build_func_names"] == {"G": "G_main", "D": spec["D_func"], "G_ema": "G_main"}
    assert meta["static_kwargs"]["D"] == spec["D_static"]
    lod = ["lod"] if spec["flavor"] == "sg2" else []  # the stylegan2 repository's G_main has one
    assert meta["unused_variables"]["G"] == meta["unused_variables"]["G_ema"] == lod


def test_every_tensor_comes_from_the_pickle(tmp_path):
    """Two pickles with different random variables differ in every parameter and buffer."""
    spec, _ = spec_and_variables("ada_cond16_resnet_skip")
    first, _ = convert(tmp_path, spec, writer.make_variables(spec, seed=1))
    second, _ = convert(tmp_path, spec, writer.make_variables(spec, seed=2))
    for key in first:
        a, b = first[key].state_dict(), second[key].state_dict()
        for name in a:
            if name.endswith("resample_filter"):
                assert torch.equal(a[name], b[name])
            else:
                assert not torch.equal(a[name], b[name]), f"{key}.{name} is not from the pickle"
    assert not torch.equal(first["G"].mapping.w_avg, first["G_ema"].mapping.w_avg)  # G vs Gs


def test_tensors_follow_the_conversion_rules(tmp_path):
    spec, flat = spec_and_variables("ada_cond16_resnet_skip")  # G resnet, D skip, conditional
    networks, _ = convert(tmp_path, spec, flat)
    G, D = networks["G_ema"].state_dict(), networks["D"].state_dict()

    def tf(name: str) -> torch.Tensor:
        return torch.from_numpy(np.array(flat[name], order="C"))

    def conv(w: torch.Tensor) -> torch.Tensor:
        return w.permute(3, 2, 0, 1)

    flip = functools.partial(torch.flip, dims=[0, 1])
    assert torch.equal(G["mapping.w_avg"], tf("Gs/dlatent_avg"))
    assert torch.equal(G["mapping.embed.weight"], tf("Gs/mapping/LabelEmbed/weight").T)
    assert torch.equal(G["mapping.fc1.weight"], tf("Gs/mapping/Dense1/weight").T)
    assert torch.equal(G["synthesis.b4.const"], tf("Gs/synthesis/4x4/Const/const")[0])
    assert torch.equal(G["synthesis.b4.conv1.weight"], conv(tf("Gs/synthesis/4x4/Conv/weight")))
    w = tf("Gs/synthesis/8x8/Conv0_up/weight")
    assert torch.equal(G["synthesis.b8.conv0.weight"], conv(flip(w)))
    assert not torch.equal(G["synthesis.b8.conv0.weight"], conv(w))
    assert torch.equal(
        G["synthesis.b16.skip.weight"], conv(flip(tf("Gs/synthesis/16x16/Skip/weight")))
    )
    mod_bias = tf("Gs/synthesis/16x16/Conv1/mod_bias")
    assert torch.equal(G["synthesis.b16.conv1.affine.bias"], mod_bias + 1)
    assert torch.equal(G["synthesis.b8.conv0.noise_const"], tf("Gs/synthesis/noise1")[0, 0])
    assert torch.equal(G["synthesis.b16.conv1.noise_const"], tf("Gs/synthesis/noise4")[0, 0])
    strength = tf("Gs/synthesis/16x16/Conv0_up/noise_strength")
    assert torch.equal(G["synthesis.b16.conv0.noise_strength"], strength)
    assert torch.equal(
        G["synthesis.b16.torgb.affine.weight"], tf("Gs/synthesis/16x16/ToRGB/mod_weight").T
    )
    assert torch.equal(D["b4.fromrgb.weight"], conv(tf("D/4x4/FromRGB/weight")))
    assert torch.equal(D["b16.conv1.weight"], conv(tf("D/16x16/Conv1_down/weight")))
    assert torch.equal(D["mapping.fc1.weight"], tf("D/Mapping1/weight").T)
    assert torch.equal(D["b4.fc.weight"], tf("D/4x4/Dense0/weight").T)
    assert torch.equal(D["b4.out.bias"], tf("D/Output/bias"))


def test_settings_from_static_kwargs(tmp_path):
    spec, flat = spec_and_variables("ada_cond16_resnet_skip")
    networks, _ = convert(tmp_path, spec, flat)
    g, d = networks["G_ema"].config, networks["D"].config
    assert (g.z_dim, g.c_dim, g.w_dim, g.img_resolution) == (24, 4, 32, 16)
    assert (g.channel_base, g.channel_max, g.architecture) == (128, 32, "resnet")
    assert (g.mapping.num_layers, g.mapping.embed_features, g.mapping.layer_features) == (2, 16, 48)
    assert (g.mapping.lr_multiplier, g.mapping.w_avg_beta) == (0.05, 0.995)
    assert (g.num_fp16_res, g.conv_clamp) == (0, None)
    assert (d.architecture, d.cmap_dim, d.mapping.num_layers, d.mapping.lr_multiplier) == (
        "skip",
        24,
        2,
        0.1,
    )
    assert (d.mbstd_group_size, d.mbstd_num_channels) == (2, 2)


def test_torgb_lod_names_mean_orig(tmp_path):
    """Progressive ``ToRGB_lod{k}`` names: architecture 'orig', the last one used (the official
    converter fails on these; the fixture's outputs come from the same net named ``{R}x{R}``)."""
    spec, flat = spec_and_variables("sg2_uncond16_orig")
    lod_spec, lod_flat = writer.with_torgb_lod(spec, flat)
    assert "architecture" not in lod_spec["G_static"]
    extra = writer.generator_variables(
        lod_spec["G_static"], writer.Draw(np.random.RandomState(5)), "sg2", lod_torgb=True
    )["synthesis"]
    for name, value in extra:  # the lower-resolution RGB layers of a progressive graph
        if name.startswith("ToRGB_lod") and not name.startswith("ToRGB_lod0"):
            for key in ("G", "Gs"):
                lod_flat[f"{key}/synthesis/{name}"] = value
    networks, meta = convert(tmp_path, lod_spec, lod_flat)
    assert networks["G_ema"].config.architecture == "orig"
    diffs = compare_with_official(networks, load_fixture("sg2_uncond16_orig"))
    assert max(diffs.values()) <= ATOL, diffs
    assert "synthesis/ToRGB_lod1/weight" in meta["unused_variables"]["G_ema"]


def test_fromrgb_lod_and_stylegan2_discriminator_defaults(tmp_path):
    spec, flat = spec_and_variables("sg2_uncond16_orig")  # D_stylegan with FromRGB_lod{k}
    networks, meta = convert(tmp_path, spec, flat)
    d = networks["D"].config
    assert d.architecture == "orig"
    assert (d.mbstd_group_size, d.mbstd_num_channels) == (4, 1)  # D_stylegan's TF default
    assert "FromRGB_lod1/weight" in meta["unused_variables"]["D"]
    spec["D_static"]["mbstd_group_size"] = 1  # D_stylegan(2) then skips the layer
    spec["D_func"] = "D_stylegan2"
    flat = {k: v for k, v in flat.items() if not k.startswith("D/")}
    for name, value in writer.discriminator_variables(
        {**spec["D_static"], "mbstd_num_features": 0}, writer.Draw(np.random.RandomState(0)), True
    ):
        flat["D/" + name] = value
    networks, _ = convert(tmp_path, spec, flat)
    assert networks["D"].config.mbstd_num_channels == 0


def test_missing_label_fmaps_means_latent_size(tmp_path):
    spec, _ = spec_and_variables("ada_cond16_resnet_skip")
    del spec["G_static"]["label_fmaps"]  # TF default: latent_size (24), not dlatent_size (32)
    networks, _ = convert(tmp_path, spec, writer.make_variables(spec, seed=3))
    assert networks["G"].mapping.embed.weight.shape == (24, 4)


@pytest.mark.parametrize(
    ("net", "kwarg"), [("G_static", "randomize_noise"), ("D_static", "use_spectral_norm")]
)
def test_unknown_static_kwarg_is_refused(tmp_path, net, kwarg):
    spec, flat = spec_and_variables("sg2_uncond16_orig")
    spec[net][kwarg] = True
    with pytest.raises(StyleGANError, match=kwarg):
        convert(tmp_path, spec, flat)


def test_old_pickle_version_is_refused(tmp_path):
    spec, flat = spec_and_variables("sg2_uncond16_orig")
    G, D, Gs = writer.tf_networks(spec, flat)
    Gs.state["version"] = 3
    obj = safe_load(writer.write_tf_pickle(tmp_path / "v3.pkl", (G, D, Gs)))
    with pytest.raises(StyleGANError, match="version 3"):
        tfio.networks_from_tf(obj)


@pytest.mark.parametrize(
    "missing", ["Gs/synthesis/8x8/Conv1/mod_bias", "G/mapping/Dense2/weight", "D/Output/weight"]
)
def test_missing_variable_is_named(tmp_path, missing):
    spec, flat = spec_and_variables("sg2_uncond16_orig")
    del flat[missing]
    tf_name = missing.split("/", 1)[1]
    with pytest.raises(StyleGANError, match=f"no variable '{tf_name}'"):
        convert(tmp_path, spec, flat)


def test_wrongly_shaped_variable_is_named(tmp_path):
    spec, flat = spec_and_variables("sg2_uncond16_orig")
    flat["Gs/synthesis/16x16/Conv0_up/weight"] = np.zeros([3, 3, 16, 7], np.float32)
    with pytest.raises(StyleGANError, match=r"'synthesis/16x16/Conv0_up/weight'.*\[3, 3, 16, 7\]"):
        convert(tmp_path, spec, flat)


def test_single_network_functions(tmp_path):
    spec, flat = spec_and_variables("ada_uncond32_skip_resnet")
    G, D, Gs = safe_load(writer.write_tf_pickle(tmp_path / "n.pkl", writer.tf_networks(spec, flat)))
    fx = load_fixture("ada_uncond32_skip_resnet")
    with torch.no_grad():
        ws = tfio.generator_from_tf(Gs).mapping(torch.from_numpy(fx["z"]), None)
        logits = tfio.discriminator_from_tf(D)(torch.from_numpy(fx["img_const"]))
    assert max_diff(ws, fx["ws"]) <= ATOL
    assert max_diff(logits, fx["logits_img_const"]) <= ATOL


def test_not_tf_networks():
    assert not tfio.is_tf_networks({"G": None})
    assert not tfio.is_tf_networks((1, 2, 3))
    with pytest.raises(StyleGANError, match="not a TensorFlow StyleGAN pickle"):
        tfio.networks_from_tf([1, 2, 3])


def test_pickle_has_the_tensorflow_structure():
    """The writer emits dnnlib.tflib.network.Network with the TF state fields, protocol 4."""
    spec, flat = spec_and_variables("sg2_uncond16_orig")
    data = writer.dumps(writer.tf_networks(spec, flat))
    assert data[:2] == b"\x80\x04"
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(data)]
    assert ("SHORT_BINUNICODE", "dnnlib.tflib.network") in ops
    assert ("SHORT_BINUNICODE", "Network") in ops
    G, D, Gs = safe_load(io.BytesIO(data))
    assert (G.version, G.name, G.build_func_name, sorted(G.components)) == (
        4,
        "G",
        "G_main",
        ["mapping", "synthesis"],
    )
    assert [n for n, _ in G.variables] == ["lod", "dlatent_avg"]
    assert G.build_module_src == writer.NEVER_RUN_SRC
    assert "dnnlib.tflib.network" not in sys.modules  # the fake module was only there to dump
