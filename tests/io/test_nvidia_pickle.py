"""NVIDIA's PyTorch snapshot pickles load safely and give the official outputs.

The pickles here are written by ``nvidia_pickle_writer`` (our fixture code, same structure as
the official files) from the weights in ``tests/fixtures/official``; the expected outputs are
those the official code produced from the same weights (see that folder's README).
"""

from __future__ import annotations

import copy
import functools
import io
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from nvidia_pickle_writer import augment_pipe, write_snapshot

import stylegan
from stylegan.errors import StyleGANError
from stylegan.io.formats import detect_format, inspect, load_any, save_as
from stylegan.io.nvidia import describe_source
from stylegan.io.safe_pickle import UnsafePickleError, safe_load
from stylegan.networks.stylegan2 import Generator
from stylegan.networks.stylegan2_discriminator import Discriminator

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "official"
FIXTURES = sorted(p.stem for p in FIXTURE_DIR.glob("*.npz"))
ATOL = 1e-4


@functools.cache
def fixture(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURE_DIR / f"{name}.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def official_net(name: str, prefix: str) -> tuple[torch.nn.Module, dict]:
    """Our network holding the official weights, and the official init_kwargs."""
    fx = fixture(name)
    kwargs = json.loads(str(fx[f"{prefix}_init_kwargs"]))
    net = {"G": Generator, "D": Discriminator}[prefix](**kwargs)
    state = {
        k[len(prefix) + 1 :]: torch.from_numpy(v) for k, v in fx.items() if k[:2] == prefix + "."
    }
    net.load_state_dict(state, strict=True)
    return net.eval(), kwargs


def snapshot(tmp_path: Path, name: str, **kw) -> Path:
    G, g_kwargs = official_net(name, "G")
    D, d_kwargs = official_net(name, "D")
    extra = {
        "training_set_kwargs": {"path": "~/datasets/ffhq.zip", "resolution": G.img_resolution},
        "augment_pipe": augment_pipe(0.25, xflip=1, rotate90=1),
    }
    nets = {"G": (G, g_kwargs), "D": (D, d_kwargs), "G_ema": (G, g_kwargs)}
    return write_snapshot(tmp_path / f"{name}.pkl", nets, extra=extra, **kw)


def assert_close(ours: torch.Tensor, expected: np.ndarray, what: str) -> None:
    diff = (ours.detach() - torch.from_numpy(expected)).abs().max().item()
    assert diff <= ATOL, f"{what}: max abs diff {diff:.3g} > {ATOL}"


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


@pytest.mark.parametrize("name", FIXTURES)
def test_snapshot_pickle_gives_official_outputs(tmp_path, name):
    path = snapshot(tmp_path, name)
    assert detect_format(path) == "pickle"
    fx = fixture(name)
    meta = json.loads(str(fx["meta"]))
    z, c = torch.from_numpy(fx["z"]), torch.from_numpy(fx["c"])
    G = stylegan.load(path)  # G_ema by default
    assert isinstance(G, Generator) and not G.training
    assert_close(G.mapping(z, c), fx["ws_psi1"], "ws")
    assert_close(G(z, c, noise_mode="const"), fx["img_const"], "image")
    psi, cutoff = meta["truncation_psi"], meta["truncation_cutoff"]
    img = G(z, c, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode="const")
    assert_close(img, fx["img_const_psi07_cutoff2"], "truncated image")
    D = stylegan.load(path, net="D")
    assert_close(D(torch.from_numpy(fx["img_random"]), c), fx["logits_random"], "D logits")


@pytest.mark.parametrize("protocol", [2, 3, 5])
def test_older_and_newer_pickle_protocols(tmp_path, protocol):
    """Python 3.7-era snapshots used protocol 3 (sets via builtins.set); 2 spells bytes via
    _codecs.encode; 5 is today's highest."""
    name = "uncond16_orig_orig"
    path = snapshot(tmp_path, name, protocol=protocol)
    fx = fixture(name)
    G = stylegan.load(path)
    assert_close(G(torch.from_numpy(fx["z"]), None, noise_mode="const"), fx["img_const"], "image")


def test_snapshot_contents_and_metadata(tmp_path):
    path = snapshot(tmp_path, FIXTURES[0])
    ckpt = load_any(path)
    assert sorted(ckpt.networks) == ["D", "G", "G_ema"]
    assert ckpt.training_state is None
    meta = ckpt.metadata
    assert meta["source"]["format"] == "nvidia-pytorch-pickle"
    assert meta["source"]["repository"] == "stylegan3"
    assert meta["training_set_kwargs"]["path"] == "~/datasets/ffhq.zip"
    assert meta["augment_pipe"] == {
        "class": "AugmentPipe",
        "init_kwargs": {"xflip": 1, "rotate90": 1},
        "p": 0.25,
    }
    json.dumps(meta)  # storable in our checkpoint metadata


def test_only_requested_networks_are_built_and_missing_ones_are_named(tmp_path):
    G, kwargs = official_net(FIXTURES[0], "G")
    path = write_snapshot(tmp_path / "gema.pkl", {"G_ema": (G, kwargs)})
    assert list(load_any(path).networks) == ["G_ema"]
    with pytest.raises(StyleGANError, match="no network 'D'.*G_ema"):
        stylegan.load(path, net="D")


def test_stylegan2_ada_layout_and_defaults(tmp_path):
    """ADA nests synthesis kwargs and its classes default to no fp16 and no clamping."""
    G, kwargs = official_net("uncond16_orig_orig", "G")
    ada = {k: kwargs[k] for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")}
    ada["mapping_kwargs"] = kwargs.get("mapping_kwargs", {})
    ada["synthesis_kwargs"] = {
        k: v
        for k, v in kwargs.items()
        if k not in ada and k not in ("mapping_kwargs", "fused_modconv_default", "conv_clamp")
    }
    ada["synthesis_kwargs"].pop("num_fp16_res", None)
    path = write_snapshot(tmp_path / "ada.pkl", {"G_ema": (G, ada)}, repository="stylegan2-ada")
    ckpt = load_any(path)
    assert ckpt.metadata["source"]["repository"] == "stylegan2-ada"
    loaded = ckpt.networks["G_ema"]
    assert loaded.config.num_fp16_res == 0 and loaded.config.conv_clamp is None
    assert loaded.config.mapping.w_avg_beta == 0.995
    for key, value in G.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_repository_is_told_by_markers_not_by_running_source():
    from stylegan.io.safe_pickle import PersistentObject

    sg3 = PersistentObject("Generator", "x = 1  # fused_modconv_default", {"_init_kwargs": {}})
    ada = PersistentObject("Generator", "x = 1", {"_init_kwargs": {"synthesis_kwargs": {}}})
    alias_free = PersistentObject("Generator", "class SynthesisInput: ...", {})
    assert describe_source(sg3) == ("stylegan2", "stylegan3")
    assert describe_source(ada) == ("stylegan2", "stylegan2-ada")
    assert describe_source(alias_free)[0] == "stylegan3"


SG3_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "official_sg3"


@pytest.mark.parametrize("name", ["t16", "r16"])
def test_stylegan3_snapshot_gives_official_outputs(tmp_path, name):
    """An official StyleGAN3 snapshot: alias-free G_ema, the StyleGAN2 D of the same repository."""
    from stylegan.networks.stylegan3 import Generator as AliasFreeGenerator

    with np.load(SG3_DIR / f"{name}.npz", allow_pickle=False) as data:
        fx = {k: data[k] for k in data.files}
    kwargs = json.loads(str(fx["G_init_kwargs"]))
    G = AliasFreeGenerator(**kwargs)
    G.load_state_dict({k[2:]: torch.from_numpy(v) for k, v in fx.items() if k[:2] == "G."})
    D, d_kwargs = official_net("uncond16_orig_orig", "D")
    path = write_snapshot(
        tmp_path / "sg3.pkl",
        {"G_ema": (G, kwargs), "D": (D, d_kwargs)},
        sources={"G_ema": "stylegan3-alias-free"},
    )
    ckpt = load_any(path)
    assert ckpt.metadata["source"]["repository"] == "stylegan3"
    assert ckpt.metadata["source"]["architecture"] == "stylegan3"
    loaded = ckpt.networks["G_ema"]
    assert isinstance(loaded, AliasFreeGenerator)
    z, c = torch.from_numpy(fx["z"]), torch.from_numpy(fx["c"])
    assert_close(loaded.mapping(z, c), fx["ws_psi1"], "ws")
    assert_close(loaded(z, c, noise_mode="const"), fx["img_psi1"], "image")
    assert isinstance(ckpt.networks["D"], Discriminator)


def test_force_fp16_is_translated_not_dropped(tmp_path):
    path = snapshot(tmp_path, "cond16_resnet_skip")  # conv_clamp None, no fp16
    G = stylegan.load(path, force_fp16=True)
    assert G.config.num_fp16_res == 4 and G.config.conv_clamp == 256
    D = load_any(path, nets=["D"], force_fp16=True).networks["D"]
    assert D.config.num_fp16_res == 4 and D.config.conv_clamp == 256


def test_damaged_weights_are_refused(tmp_path):
    G, kwargs = official_net(FIXTURES[0], "G")
    wrong = copy.deepcopy(kwargs)
    wrong["w_dim"] = kwargs["w_dim"] * 2
    path = write_snapshot(tmp_path / "bad.pkl", {"G_ema": (G, wrong)})
    with pytest.raises(StyleGANError, match="do not fit"):
        stylegan.load(path)


def test_truncated_pickle_is_refused(tmp_path):
    path = snapshot(tmp_path, FIXTURES[0])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StyleGANError):
        stylegan.load(path)


def test_loading_never_unpickles_with_the_standard_machinery(tmp_path, monkeypatch):
    """Our reader parses storages itself; torch.load and pickle.load are never called."""
    path = snapshot(tmp_path, FIXTURES[0])

    def forbidden(*args, **kwargs):
        raise AssertionError("standard unpickling must not be used")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    assert isinstance(stylegan.load(path), Generator)


# ---- malicious pickles ---------------------------------------------------------------------


class _Call:
    """Pickles as a call ``func(*args)`` of an arbitrary global."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _sentinel_command(tmp_path: Path) -> tuple[str, Path]:
    flag = tmp_path / "pwned"
    return f"touch {flag}", flag


@pytest.mark.parametrize("where", ["top", "nested_state", "in_a_tensor_slot"])
def test_os_system_anywhere_is_refused_before_it_runs(tmp_path, where):
    cmd, flag = _sentinel_command(tmp_path)
    G, kwargs = official_net(FIXTURES[0], "G")
    path = tmp_path / "evil.pkl"
    payload = _Call(os.system, cmd)
    if where == "top":
        write_snapshot(path, {"G_ema": (G, kwargs)}, extra={"exploit": payload})
    elif where == "nested_state":
        write_snapshot(path, {"G_ema": (G, {**kwargs, "z_dim": payload})})
    else:
        write_snapshot(path, {"G_ema": (G, kwargs)}, extra={"augment_pipe": [payload]})
    with pytest.raises(UnsafePickleError, match=r"(posix|os|nt)\.system"):
        stylegan.load(path)
    assert not flag.exists(), "the payload ran"


def test_eval_and_unknown_classes_are_refused(tmp_path):
    for payload, name in [
        (_Call(eval, "__import__('os')"), "builtins.eval"),
        (_Call(getattr, "text", "upper"), "builtins.getattr"),
        (io.BytesIO(b"x"), "_io.BytesIO"),
    ]:
        data = pickle.dumps({"G_ema": payload}, protocol=4)
        with pytest.raises(UnsafePickleError, match=name.replace(".", r"\.")):
            safe_load(io.BytesIO(data))


def test_official_network_class_by_name_is_refused():
    """A pickle naming training.networks_stylegan2.Generator would import NVIDIA's code."""
    data = (
        b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00"
        b"\x8c\x1btraining.networks_stylegan2\x94\x8c\tGenerator\x94\x93\x94)\x81\x94."
    )
    with pytest.raises(UnsafePickleError, match=r"training\.networks_stylegan2\.Generator"):
        safe_load(io.BytesIO(data))


def test_malicious_tensor_storage_is_refused(tmp_path):
    """The bytes of a storage are a pickle stream too; they go through the same allowlist."""
    cmd, flag = _sentinel_command(tmp_path)
    inner = pickle.dumps(_Call(os.system, cmd), protocol=2)
    outer = pickle.dumps({"G_ema": _Call(torch.storage._load_from_bytes, inner)}, protocol=4)
    with pytest.raises(UnsafePickleError, match=r"system"):
        safe_load(io.BytesIO(outer))
    assert not flag.exists()


def test_numpy_object_arrays_are_refused():
    data = pickle.dumps({"G_ema": np.array([1, "x"], dtype=object)}, protocol=4)
    with pytest.raises(UnsafePickleError, match="objects"):
        safe_load(io.BytesIO(data))


def test_malicious_torch_file_is_refused(tmp_path):
    cmd, flag = _sentinel_command(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"g_ema": _Call(os.system, cmd)}, path)
    with pytest.raises(UnsafePickleError, match="system"):
        stylegan.load(path)
    assert not flag.exists()


def test_plain_pickles_of_other_things_get_a_clear_error(tmp_path):
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(StyleGANError, match="not a network checkpoint"):
        stylegan.load(path)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(StyleGANError, match="cannot tell what"):
        stylegan.load(text)


# ---- exports and inspection ------------------------------------------------------------------


def test_official_export_loads_safely_and_round_trips(tmp_path):
    src = snapshot(tmp_path, "cond16_resnet_skip")
    networks = load_any(src).networks
    out = save_as(tmp_path / "official.pt", networks, to="official")
    raw = torch.load(out, weights_only=True)
    assert raw["classes"]["G_ema"] == "training.networks_stylegan2.Generator"
    G, kwargs = official_net("cond16_resnet_skip", "G")
    assert Generator(**raw["init_kwargs"]["G_ema"]).config == G.config
    assert set(raw["state_dicts"]["D"]) == set(
        official_net("cond16_resnet_skip", "D")[0].state_dict()
    )
    back = load_any(out)
    assert back.metadata["source"]["format"] == "official"
    for key in ("G", "D", "G_ema"):
        for name, value in networks[key].state_dict().items():
            assert torch.equal(back.networks[key].state_dict()[name], value), (key, name)


def test_inspect_reports_without_building_weights(tmp_path):
    path = snapshot(tmp_path, "cond16_resnet_skip")
    info = inspect(path)
    assert info["format"] == "nvidia-pytorch-pickle"
    G = info["networks"]["G_ema"]
    assert (G["img_resolution"], G["c_dim"], G["z_dim"]) == (16, 4, 24)
    assert G["params"] == sum(
        p.numel() for p in official_net("cond16_resnet_skip", "G")[0].parameters()
    )
    assert info["metadata"]["augment_pipe"]["p"] == 0.25
    ours = save_as(tmp_path / "ours", load_any(path).networks)
    info = inspect(ours)
    assert info["format"] == "stylegan" and info["networks"]["G_ema"] == G
