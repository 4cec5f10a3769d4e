"""NVIDIA's original StyleGAN (TensorFlow) pickles: parity with the official code, structure,
safety, errors.

Each .npz in ``tests/fixtures/tensorflow_sg1/`` holds random variables of a small ``G_style`` /
``D_basic`` pair and the outputs NVIDIA's ``training/networks_stylegan.py`` computed with them
(``scripts/make_tf_sg1_fixtures.py``; README in the fixture folder). The pickles are written here
by ``tf_pickle_writer`` in the release structure and read by our safe loader.
"""

from __future__ import annotations

import builtins
import functools
import json
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import tf_pickle_writer as writer
import torch

from stylegan.errors import StyleGANError
from stylegan.io import tensorflow as tfio
from stylegan.io.checkpoint import load_checkpoint
from stylegan.io.formats import convert, inspect, load_any
from stylegan.io.safe_pickle import TFNetwork, UnsafePickleError, safe_load
from stylegan.networks.stylegan1 import Discriminator, Generator

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "tensorflow_sg1"
FIXTURES = sorted(p.stem for p in FIXTURE_DIR.glob("*.npz"))
ATOL = 1e-4
FFHQ_G_PARAMS = 26_219_627  # "Total" of the FFHQ 1024 Gs as the original prints it


@functools.cache
def _fixture(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURE_DIR / f"{name}.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _spec(name: str) -> dict:
    return json.loads(str(_fixture(name)["spec"]))


def _variables(name: str) -> dict[str, np.ndarray]:
    return {
        k: v.astype(np.float32) for k, v in _fixture(name).items() if k.startswith(("Gs/", "D/"))
    }


def discriminator_inputs(spec: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The images and labels the fixture script showed D (drawn the same way there)."""
    d, n = spec["D_static"], spec["d_batch"]
    res, classes = d["resolution"], d["label_size"]
    reals = np.random.RandomState(7).randn(n, d["num_channels"], res, res).astype(np.float32)
    if not classes:
        return torch.from_numpy(reals), None
    labels = np.zeros([n, classes], np.float32)
    labels[np.arange(n), np.random.RandomState(8).randint(classes, size=n)] = 1
    return torch.from_numpy(reals), torch.from_numpy(labels)


def _pickle(tmp_path: Path, name: str, flat=None, g_static=None, d_static=None, **kw) -> Path:
    spec = _spec(name)
    nets = writer.stylegan1_networks(
        _variables(name) if flat is None else flat,
        spec["G_static"] if g_static is None else g_static,
        spec["D_static"] if d_static is None else d_static,
        **kw,
    )
    return writer.write_tf_pickle(tmp_path / f"{name}.pkl", nets)


def _networks(tmp_path: Path, name: str, **kw) -> tuple[dict, dict]:
    return tfio.networks_from_tf(safe_load(_pickle(tmp_path, name, **kw)))


@torch.no_grad()
def official_differences(networks: dict, name: str) -> dict[str, float]:
    """Max abs difference from the official outputs, per recorded output (and ``ws``)."""
    data, spec = _fixture(name), _spec(name)
    z = torch.from_numpy(data["z"])
    reals, labels = discriminator_inputs(spec)
    G, D = networks["G_ema"], networks["D"]
    diffs = {"ws": (G.mapping(z, None) - torch.from_numpy(data["ws"])).abs().max().item()}
    for out in spec["outputs"]:
        want = torch.from_numpy(data[out["key"]])
        if out["key"].startswith("logits"):
            got = D(reals, labels, lod=out["lod"])
        else:
            psi = {} if out["psi"] == "default" else dict(truncation_psi=out["psi"])
            cutoff = {} if out.get("cutoff") is None else dict(truncation_cutoff=out["cutoff"])
            got = G(z, None, noise_mode="const", lod=out["lod"], **psi, **cutoff)
            assert want.abs().max() > 1  # a real signal, not a degenerate network
        assert got.shape == want.shape, out["key"]
        diffs[out["key"]] = (got - want).abs().max().item()
    return diffs


# ---- parity with the official code -----------------------------------------------------------


@pytest.mark.skipif(not FIXTURES, reason="no fixtures")
@pytest.mark.parametrize("name", FIXTURES)
def test_outputs_equal_the_official_code(tmp_path, name):
    networks, metadata = _networks(tmp_path, name)
    assert isinstance(networks["G_ema"], Generator) and isinstance(networks["G"], Generator)
    assert isinstance(networks["D"], Discriminator)
    assert metadata["build_func_names"] == {"G": "G_style", "D": "D_basic", "G_ema": "G_style"}
    # Every variable is used except the synthesis network's own lod, which G_style overwrites
    # with its top-level one before every run.
    assert metadata["unused_variables"] == {
        "G": ["synthesis/lod"],
        "D": [],
        "G_ema": ["synthesis/lod"],
    }
    assert networks["G_ema"].config.channel_base == 2 * _spec(name)["G_static"]["fmap_base"]
    diffs = official_differences(networks, name)
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] <= ATOL, f"{name}: {worst} differs by {diffs[worst]:.3g}; all: {diffs}"
    # G (the training generator) gets the same variables in these pickles: same images.
    z = torch.from_numpy(_fixture(name)["z"])
    with torch.no_grad():
        a = networks["G"](z, truncation_psi=1, noise_mode="const")
        b = networks["G_ema"](z, truncation_psi=1, noise_mode="const")
    assert torch.equal(a, b)


def test_the_lod_variable_is_the_networks_default_lod(tmp_path):
    """``Gs/lod`` (what G_style assigns to its synthesis network) and ``D/lod`` become the
    default ``lod`` of our networks: a snapshot saved mid-fade imports mid-fade."""
    name = "sg1_32"
    spec, data = _spec(name), _fixture(name)
    flat = _variables(name)
    index = spec["lods"].index(1.7)
    flat["Gs/lod"] = flat["D/lod"] = np.float32(1.7)
    flat["Gs/synthesis/lod"] = np.float32(0.5)  # overwritten at run time by the original
    networks, _ = _networks(tmp_path, name, flat=flat)
    G, D = networks["G_ema"], networks["D"]
    assert float(G.synthesis.lod) == float(D.lod) == pytest.approx(1.7)
    reals, _ = discriminator_inputs(spec)
    with torch.no_grad():
        img = G(torch.from_numpy(data["z"]), truncation_psi=1, noise_mode="const")
        logits = D(reals)
    assert (img - torch.from_numpy(data[f"images_lod{index}"])).abs().max() <= ATOL
    assert (logits - torch.from_numpy(data[f"logits_lod{index}"])).abs().max() <= ATOL


def test_conversion_rules(tmp_path):
    networks, _ = _networks(tmp_path, "sg1_32")
    G, D = networks["G_ema"], networks["D"]
    v = _variables("sg1_32")

    def same(ours, tf_name, fn=lambda a: a):
        torch.testing.assert_close(ours, torch.from_numpy(np.ascontiguousarray(fn(v[tf_name]))))

    conv = functools.partial(np.transpose, axes=(3, 2, 0, 1))
    # Style bias: + 1 on the scale half (the original adds it at run time).
    bias = v["Gs/synthesis/8x8/Conv0_up/StyleMod/bias"]
    c = len(bias) // 2
    same(G.synthesis.b8.conv0.affine.bias, "Gs/synthesis/8x8/Conv0_up/StyleMod/bias",
         lambda a: a + np.repeat([1, 0], c).astype(np.float32))  # fmt: skip
    same(
        G.synthesis.b8.conv0.affine.weight,
        "Gs/synthesis/8x8/Conv0_up/StyleMod/weight",
        np.transpose,
    )
    # Dense layers before a leaky ReLU: bias / sqrt(2); the linear ones unchanged.
    same(
        G.mapping.fc1.bias, "Gs/mapping/Dense1/bias", lambda a: (a / np.sqrt(2)).astype(np.float32)
    )
    same(D.b4.fc.bias, "D/4x4/Dense0/bias", lambda a: (a / np.sqrt(2)).astype(np.float32))
    same(D.b4.out.bias, "D/4x4/Dense1/bias")
    same(D.b4.out.weight, "D/4x4/Dense1/weight", np.transpose)
    # Noise inputs numbered from the 4x4 constant's layer; strengths per channel.
    same(G.synthesis.b4.input.noise_const, "Gs/synthesis/noise0", lambda a: a[0, 0])
    same(G.synthesis.b4.conv1.noise_const, "Gs/synthesis/noise1", lambda a: a[0, 0])
    same(G.synthesis.b8.conv0.noise_const, "Gs/synthesis/noise2", lambda a: a[0, 0])
    same(G.synthesis.b32.conv1.noise_const, "Gs/synthesis/noise7", lambda a: a[0, 0])
    same(G.synthesis.b16.conv1.noise_strength, "Gs/synthesis/16x16/Conv1/Noise/weight")
    # Convolutions: [k, k, in, out] -> [out, in, k, k], not flipped below 128 px.
    same(G.synthesis.b8.conv0.weight, "Gs/synthesis/8x8/Conv0_up/weight", conv)
    same(G.synthesis.b8.torgb.weight, "Gs/synthesis/ToRGB_lod2/weight", conv)
    same(D.b32.conv1.weight, "D/32x32/Conv1_down/weight", conv)
    same(D.b16.fromrgb.weight, "D/FromRGB_lod1/weight", conv)
    same(D.b4.fromrgb.weight, "D/FromRGB_lod3/weight", conv)
    same(G.synthesis.b4.const, "Gs/synthesis/4x4/Const/const", lambda a: a[0])
    same(G.mapping.w_avg, "Gs/dlatent_avg")
    assert G.default_truncation == (0.7, 8) and G.mapping.w_avg_beta == 0.995


def test_fused_up_convolutions_are_flipped(tmp_path):
    """From 128 px up ('auto') or everywhere (fused_scale=True) the original's up-convolution is
    a transposed convolution, i.e. a true convolution: its kernels are flipped on import."""
    G = _networks(tmp_path, "sg1_128")[0]["G_ema"]
    v = _variables("sg1_128")
    for res, flipped in ((64, False), (128, True)):
        kernel = v[f"Gs/synthesis/{res}x{res}/Conv0_up/weight"]
        kernel = kernel[::-1, ::-1] if flipped else kernel
        want = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
        torch.testing.assert_close(getattr(G.synthesis, f"b{res}").conv0.weight, want)
    G = _networks(tmp_path, "sg1_16_options")[0]["G_ema"]
    kernel = _variables("sg1_16_options")["Gs/synthesis/8x8/Conv0_up/weight"][::-1, ::-1]
    want = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
    torch.testing.assert_close(G.synthesis.b8.conv0.weight, want)


def test_options_from_static_kwargs(tmp_path):
    networks, _ = _networks(tmp_path, "sg1_16_options")
    G, D = networks["G_ema"], networks["D"]
    assert G.default_truncation == (0.5, 3)
    assert G.mapping.w_avg_beta == 1  # dlatent_avg_beta=None: w_avg frozen
    assert not G.config.use_noise and G.config.resample_filter == (1,)
    assert D.config.resample_filter == (1, 4, 6, 4, 1) and D.c_dim == 3
    assert (D.config.mbstd_group_size, D.config.mbstd_num_channels) == (2, 2)
    fixed, _ = _networks(tmp_path, "sg1_8_fixed")
    assert fixed["D"].config.mbstd_num_channels == 0  # mbstd_group_size=0 disables the layer
    # structure='fixed' has no lower RGB layers: zeros, and lod 0.
    assert not fixed["G_ema"].synthesis.b4.torgb.weight.any() and fixed["D"].lod == 0


@pytest.mark.parametrize(
    "static, want",
    [
        ({"truncation_psi": None}, (1.0, 8)),
        ({"truncation_cutoff": None}, (1.0, None)),
        ({"truncation_cutoff": 0}, (1.0, None)),
        ({"truncation_psi": 0.5, "truncation_cutoff": 20}, (0.5, 20)),
    ],
)
def test_truncation_settings_follow_the_original(tmp_path, static, want):
    spec = _spec("sg1_32")
    networks, _ = _networks(tmp_path, "sg1_32", g_static={**spec["G_static"], **static})
    assert networks["G_ema"].default_truncation == want


def test_ffhq_1024_layout_maps_onto_our_networks():
    """The FFHQ 1024 release's variable layout (the writer's, which the fixture script checks
    against the official graph) fills every tensor of our networks, with the published count.
    Shapes only: zero-stride arrays, networks on the meta device."""
    static = dict(num_channels=3, resolution=1024, label_size=0)  # what train.py passes
    flat = writer.stylegan1_variables(static, static, writer.Zeros())
    nets = [_as_loaded(n) for n in writer.stylegan1_networks(flat, static, static)]
    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # copying into meta tensors is a no-op: intended
        networks, meta = tfio.networks_from_tf(tuple(nets))
    tf_trainable = sum(
        int(np.prod(v.shape))
        for k, v in flat.items()
        if k.startswith("Gs/") and not k.endswith(("lod", "dlatent_avg")) and "/noise" not in k
    )
    ours = sum(p.numel() for p in networks["G_ema"].parameters())
    assert ours == tf_trainable == FFHQ_G_PARAMS
    d_tf = sum(
        int(np.prod(v.shape)) for k, v in flat.items() if k.startswith("D/") and k != "D/lod"
    )
    assert sum(p.numel() for p in networks["D"].parameters()) == d_tf
    assert meta["unused_variables"]["G_ema"] == ["synthesis/lod"]
    assert networks["G_ema"].config.num_ws == 18 and networks["G_ema"].config.channel_base == 16384


def _as_loaded(fake: writer.FakeTFNetwork) -> TFNetwork:
    """What safe_load makes of a written network, without pickling it."""
    state = dict(fake.state)
    state["components"] = {k: _as_loaded(v) for k, v in state["components"].items()}
    net = TFNetwork.__new__(TFNetwork)
    net.__setstate__(state)
    return net


# ---- the file as a whole -----------------------------------------------------------------------


def test_load_any_inspect_and_convert(tmp_path):
    path = _pickle(tmp_path, "sg1_32")
    ckpt = load_any(path)
    assert set(ckpt.networks) == {"G", "D", "G_ema"}
    assert ckpt.metadata["source"]["format"] == "nvidia-tensorflow"
    info = inspect(path)
    assert info["format"] == "nvidia-tensorflow"
    g, d = info["networks"]["G_ema"], info["networks"]["D"]
    assert (g["class"], g["img_resolution"], g["num_ws"]) == ("stylegan1.Generator", 32, 8)
    assert g["params"] == sum(p.numel() for p in ckpt.networks["G_ema"].parameters())
    assert (d["class"], d["img_resolution"]) == ("stylegan1.Discriminator", 32)
    out = convert(path, tmp_path / "ours", to="safetensors")
    again = load_checkpoint(out).networks
    for key, net in ckpt.networks.items():
        a, b = net.state_dict(), again[key].state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    z = torch.randn(2, 20)
    with torch.no_grad():
        torch.testing.assert_close(
            again["G_ema"](z, noise_mode="const"), ckpt.networks["G_ema"](z, noise_mode="const")
        )


def test_every_tensor_comes_from_the_pickle(tmp_path):
    """Two pickles of different random variables differ in every parameter and buffer (G and
    Gs with their own values, as in a training snapshot)."""
    spec = {**_spec("sg1_32"), "flavor": "sg1"}
    first = tfio.networks_from_tf(
        safe_load(writer.write_tf_pickle(tmp_path / "a.pkl", writer.tf_networks(
            spec, writer.make_variables(spec, seed=1))))
    )[0]  # fmt: skip
    flat = writer.make_variables(spec, seed=2)
    flat["G/lod"] = flat["Gs/lod"] = flat["D/lod"] = np.float32(0.5)
    second = tfio.networks_from_tf(
        safe_load(writer.write_tf_pickle(tmp_path / "b.pkl", writer.tf_networks(spec, flat)))
    )[0]
    for key in first:
        a, b = first[key].state_dict(), second[key].state_dict()
        for name in a:
            if name.endswith("resample_filter"):
                assert torch.equal(a[name], b[name])
            else:
                assert not torch.equal(a[name], b[name]), f"{key}.{name} is not from the pickle"
    assert not torch.equal(first["G"].mapping.w_avg, first["G_ema"].mapping.w_avg)


def test_single_network_functions(tmp_path):
    G, D, Gs = safe_load(_pickle(tmp_path, "sg1_16_options"))
    data, spec = _fixture("sg1_16_options"), _spec("sg1_16_options")
    reals, labels = discriminator_inputs(spec)
    with torch.no_grad():
        img = tfio.generator_from_tf(Gs)(torch.from_numpy(data["z"]), noise_mode="const")
        logits = tfio.discriminator_from_tf(D)(reals, labels)
    assert (img - torch.from_numpy(data["images_lod0_psi_default"])).abs().max() <= ATOL
    assert (logits - torch.from_numpy(data["logits_lod0"])).abs().max() <= ATOL


def test_pickle_has_the_original_structure():
    spec = _spec("sg1_32")
    G, D, Gs = safe_load_bytes(writer.dumps(_written("sg1_32")))
    assert (G.version, G.name, G.build_func_name, list(G.components)) == (
        3,
        "G",
        "G_style",
        ["synthesis", "mapping"],
    )
    assert [n for n, _ in Gs.variables] == ["lod", "dlatent_avg"]
    synthesis, mapping = Gs.components["synthesis"], Gs.components["mapping"]
    assert (synthesis.build_func_name, mapping.build_func_name) == ("G_synthesis", "G_mapping")
    assert mapping.static_kwargs == {**spec["G_static"], "dlatent_broadcast": 8}
    assert (D.build_func_name, D.static_kwargs) == ("D_basic", spec["D_static"])
    assert D.variables[0][0] == "lod" and D.variables[-1][0] == "4x4/Dense1/bias"


def _written(name: str):
    spec = _spec(name)
    return writer.stylegan1_networks(_variables(name), spec["G_static"], spec["D_static"])


def safe_load_bytes(data: bytes):
    import io

    return safe_load(io.BytesIO(data))


@pytest.mark.parametrize("version, ok", [(3, True), (2, True), (4, True), (1, False)])
def test_pickle_versions(tmp_path, version, ok):
    """NVlabs/stylegan writes version 3 (and reads 2); the stylegan2 code re-saves them as 4."""
    path = _pickle(tmp_path, "sg1_8_fixed", version=version)
    if ok:
        assert isinstance(tfio.networks_from_tf(safe_load(path))[0]["G_ema"], Generator)
    else:
        with pytest.raises(StyleGANError, match="version 1"):
            tfio.networks_from_tf(safe_load(path))


# ---- safety ----------------------------------------------------------------------------------


def test_loading_runs_no_code(tmp_path, monkeypatch):
    """The build source stored with each network would create a file if it ran; loading never
    calls pickle.load, exec or eval."""
    flag = tmp_path / "ran"
    nets = _written("sg1_32")
    components = [c for n in nets for c in n.state["components"].values()]
    for net in (*nets, *components):
        net.state["build_module_src"] = f"open({str(flag)!r}, 'w').close()\n"
    path = writer.write_tf_pickle(tmp_path / "src.pkl", nets)

    def refuse(*args, **kwargs):
        raise AssertionError("pickle.load, exec or eval must not be used")

    for module, name in [
        (pickle, "load"),
        (pickle, "loads"),
        (builtins, "exec"),
        (builtins, "eval"),
    ]:
        monkeypatch.setattr(module, name, refuse)
    networks = load_any(path).networks
    assert isinstance(networks["G_ema"], Generator) and not flag.exists()


class _Call:
    """Pickles as a call ``func(*args)`` of an arbitrary global."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


@pytest.mark.parametrize("where", ["static_kwargs", "variable", "component"])
def test_os_system_inside_a_network_is_refused_before_it_runs(tmp_path, where):
    flag = tmp_path / "pwned"
    payload = _Call(os.system, f"touch {flag}")
    G, D, Gs = _written("sg1_8_fixed")
    if where == "static_kwargs":
        Gs.state["static_kwargs"]["resolution"] = payload
    elif where == "variable":
        D.state["variables"].append(("4x4/evil", payload))
    else:
        Gs.state["components"]["synthesis"].state["components"] = {"evil": payload}
    path = writer.write_tf_pickle(tmp_path / "evil.pkl", (G, D, Gs))
    with pytest.raises(UnsafePickleError, match=r"(posix|os|nt)\.system"):
        load_any(path)
    assert not flag.exists(), "the payload ran"


# ---- what cannot be imported ---------------------------------------------------------------


@pytest.mark.parametrize(
    "net, option, value, match",
    [
        ("G", "use_instance_norm", False, "use_instance_norm=False"),
        ("G", "const_input_layer", False, "const_input_layer=False"),
        ("G", "use_styles", False, "use_styles=False"),
        ("G", "use_pixel_norm", True, "use_pixel_norm=True"),
        ("G", "use_wscale", False, "use_wscale=False"),
        ("G", "normalize_latents", False, "normalize_latents=False"),
        ("G", "fmap_decay", 0.5, "fmap_decay=0.5"),
        ("G", "nonlinearity", "relu", "nonlinearity='relu'"),
        ("G", "mapping_nonlinearity", "relu", "mapping_nonlinearity='relu'"),
        ("G", "blur_filter", [1, 3, 3, 1], r"blur_filter=\[1, 3, 3, 1\]"),
        ("G", "structure", "spiral", "structure='spiral'"),
        ("G", "something_new", 1, "something_new=1.*does not know"),
        ("G", "label_size", 3, "conditional StyleGAN"),
        ("D", "nonlinearity", "relu", "nonlinearity='relu'"),
        ("D", "use_wscale", False, "use_wscale=False"),
        ("D", "fused_scale", "sometimes", "fused_scale='sometimes'"),
        ("D", "blur_filter", [[1, 2], [2, 1]], "blur_filter"),
    ],
)
def test_unsupported_options_are_refused(tmp_path, net, option, value, match):
    spec = _spec("sg1_8_fixed")
    g_static, d_static = dict(spec["G_static"]), dict(spec["D_static"])
    (g_static if net == "G" else d_static)[option] = value
    flat = writer.stylegan1_variables(g_static, d_static, seed=0)  # matching layout
    obj = safe_load(_pickle(tmp_path, "sg1_8_fixed", flat, g_static, d_static))
    with pytest.raises(StyleGANError, match=match):
        tfio.networks_from_tf(obj)


def test_incomplete_or_inconsistent_pickle_names_the_variable(tmp_path):
    flat = _variables("sg1_32")
    del flat["Gs/synthesis/16x16/Conv1/StyleMod/weight"]
    with pytest.raises(StyleGANError, match="no variable 'synthesis/16x16/Conv1/StyleMod/weight'"):
        _networks(tmp_path, "sg1_32", flat=flat)
    flat = _variables("sg1_32")
    flat["D/FromRGB_lod1/weight"] = np.zeros([1, 1, 3, 5], np.float32)
    with pytest.raises(StyleGANError, match=r"'FromRGB_lod1/weight'.*\[1, 1, 3, 5\]"):
        _networks(tmp_path, "sg1_32", flat=flat)
