"""Checkpoint format: bit-exact round trips, atomic writes, clear errors, no pickle anywhere."""

import json
import pickle
import random

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import stylegan
from stylegan.errors import StyleGANError
from stylegan.io import checkpoint as ckpt
from stylegan.networks.stylegan2_discriminator import Discriminator
from tiny_networks import tiny_network

TINY_D = dict(c_dim=0, img_resolution=16, img_channels=3, channel_base=256, channel_max=32)


def _randomise(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Give every tensor a distinct non-default value so a round trip cannot pass by accident."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in list(net.parameters()) + list(net.buffers()):
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=gen))
    return net


@pytest.fixture
def nets():
    torch.manual_seed(0)
    return {
        "G": _randomise(tiny_network("stylegan2.Generator", None), 1),
        "D": _randomise(Discriminator(**TINY_D), 2),
        "G_ema": _randomise(tiny_network("stylegan2.Generator", None), 3),
    }


def _assert_same_state(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k].dtype == sb[k].dtype, k
        assert torch.equal(sa[k], sb[k]), k


def test_folder_round_trip_is_bit_exact(tmp_path, nets):
    path = ckpt.save_checkpoint(tmp_path / "snap", nets, metadata={"kimg": 12})
    loaded = ckpt.load_checkpoint(path)
    assert set(loaded.networks) == {"G", "D", "G_ema"}
    assert loaded.metadata == {"kimg": 12}
    assert loaded.training_state is None
    for key, net in nets.items():
        assert type(loaded.networks[key]) is type(net)
        _assert_same_state(net, loaded.networks[key])
    z = torch.randn(2, 16)
    c = torch.zeros(2, 0)
    a = nets["G_ema"](z, c, noise_mode="const")
    b = loaded.networks["G_ema"](z, c, noise_mode="const")
    assert torch.equal(a, b)
    config = json.loads((path / "config.json").read_text())
    assert config["networks"]["D"]["class"] == "stylegan2.Discriminator"


def test_single_file_and_public_load(tmp_path, nets):
    path = ckpt.save_checkpoint(tmp_path / "g.safetensors", {"G_ema": nets["G_ema"]})
    assert path.is_file()
    G = stylegan.load(path)
    assert not G.training
    _assert_same_state(nets["G_ema"], G)
    folder = stylegan.save(tmp_path / "folder", G_ema=nets["G_ema"], D=nets["D"])
    _assert_same_state(nets["D"], stylegan.load(folder, net="D"))
    with pytest.raises(ValueError, match="networks only"):
        ckpt.save_checkpoint(tmp_path / "x.safetensors", nets, training_state={"a": 1})


def test_training_state_round_trip(tmp_path, nets):
    G = nets["G"]
    opt = torch.optim.Adam(G.parameters(), lr=0.01, betas=(0.0, 0.99))
    G(torch.randn(2, 16), torch.zeros(2, 0)).square().mean().backward()
    opt.step()
    np_rng = np.random.RandomState(5)
    np_rng.randn(3)
    state = {
        "cur_nimg": 1234,
        "pl_mean": torch.tensor(0.25),
        "augment_p": 0.0,
        "best": float("inf"),
        "worst": float("-inf"),
        "maybe": None,
        "flag": True,
        "G_opt": opt.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": np_rng.get_state(),
        "python_rng": random.Random(3).getstate(),
        "by_int": {0: "a", 7: [1, 2.5, "x"]},
        "__odd": {"__tensor__": "not a reference"},
    }
    path = ckpt.save_checkpoint(tmp_path / "snap", nets, training_state=state)
    back = ckpt.load_checkpoint(path).training_state

    assert back["cur_nimg"] == 1234 and back["flag"] is True and back["maybe"] is None
    assert back["best"] == float("inf") and back["worst"] == float("-inf")
    assert torch.equal(back["pl_mean"], state["pl_mean"])
    assert torch.equal(back["torch_rng"], state["torch_rng"])
    assert back["by_int"] == {0: "a", 7: [1, 2.5, "x"]}
    assert back["__odd"] == {"__tensor__": "not a reference"}
    assert back["python_rng"] == state["python_rng"]
    restored = np.random.RandomState()
    restored.set_state(back["numpy_rng"])
    assert np.array_equal(restored.randn(4), np_rng.randn(4))

    # The optimizer state loads into a fresh optimizer and continues identically.
    opt2 = torch.optim.Adam(nets["G_ema"].parameters(), lr=0.5)
    opt2.load_state_dict(back["G_opt"])
    assert opt2.param_groups[0]["lr"] == 0.01 and opt2.param_groups[0]["betas"] == (0.0, 0.99)
    for k, s in opt.state_dict()["state"].items():
        for name, value in s.items():
            assert torch.equal(opt2.state_dict()["state"][k][name], value)


def test_overwrite_replaces_and_crash_leaves_old_checkpoint(tmp_path, nets, monkeypatch):
    path = tmp_path / "snap"
    ckpt.save_checkpoint(path, {"G": nets["G"]})
    with pytest.raises(StyleGANError, match="already exists.*--overwrite"):
        ckpt.save_checkpoint(path, {"D": nets["D"]})
    assert set(ckpt.read_config(path)["networks"]) == {"G"}
    ckpt.save_checkpoint(path, {"D": nets["D"]}, overwrite=True)
    assert set(ckpt.read_config(path)["networks"]) == {"D"}

    def broken_save(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt, "save_file", broken_save)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(path, {"G": nets["G"]}, overwrite=True)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(tmp_path / "new", {"G": nets["G"]})
    assert set(ckpt.read_config(path)["networks"]) == {"D"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]


def test_loading_never_unpickles(tmp_path, nets, monkeypatch):
    path = ckpt.save_checkpoint(tmp_path / "snap", nets, training_state={"x": torch.ones(2)})

    def forbidden(*args, **kwargs):
        raise AssertionError("something tried to unpickle")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    loaded = ckpt.load_checkpoint(path)
    assert torch.equal(loaded.training_state["x"], torch.ones(2))


def test_bad_inputs_give_clear_errors(tmp_path, nets):
    with pytest.raises(StyleGANError, match="not found"):
        stylegan.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StyleGANError, match="not a stylegan checkpoint"):
        stylegan.load(tmp_path / "empty")
    save_file({"w": torch.ones(2)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(StyleGANError, match="without a stylegan config"):
        stylegan.load(tmp_path / "foreign.safetensors")
    (tmp_path / "weights.bin").write_bytes(b"\0" * 10)
    with pytest.raises(StyleGANError, match="cannot tell what .*weights.bin is"):
        stylegan.load(tmp_path / "weights.bin")

    path = ckpt.save_checkpoint(tmp_path / "snap", {"G": nets["G"]})
    with pytest.raises(StyleGANError, match="no network 'G_ema'; it has G"):
        stylegan.load(path)

    config = json.loads((path / "config.json").read_text())
    config["networks"]["G"]["config"]["img_resolution"] = 32
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(StyleGANError, match="do not fit its config"):
        stylegan.load(path, net="G")

    config["format_version"] = 99
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(StyleGANError, match="upgrade stylegan"):
        stylegan.load(path, net="G")


def test_unstorable_state_is_refused(tmp_path, nets):
    with pytest.raises(TypeError, match="cannot store a object"):
        ckpt.save_checkpoint(tmp_path / "s", nets, training_state={"x": object()})
    assert not (tmp_path / "s").exists()
