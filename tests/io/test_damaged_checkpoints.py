"""Damaged checkpoints: one line naming the file and what is wrong, never a traceback.

Our format is checked from headers and sizes (:func:`verify_checkpoint`), so ``inspect`` says a
truncated snapshot is damaged instead of "resumable", and every loader stops with one line.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from nvidia_pickle_writer import write_snapshot

import stylegan
from stylegan.cli import cli
from stylegan.errors import StyleGANError
from stylegan.io import checkpoint as ckpt
from stylegan.io.formats import inspect
from stylegan.networks.stylegan2 import Generator
from tiny_networks import TINY_KWARGS

TINY_G = TINY_KWARGS["stylegan2.Generator"]


@pytest.fixture
def snapshot(tmp_path) -> Path:
    torch.manual_seed(0)
    G = Generator(**TINY_G).eval()
    state = {"cur_nimg": 10, "x": torch.ones(3), "opt": {"m": torch.zeros(4)}}
    return ckpt.save_checkpoint(tmp_path / "snap", {"G": G, "G_ema": G}, training_state=state)


def truncate(file: Path, keep: float = 0.5) -> None:
    data = file.read_bytes()
    file.write_bytes(data[: int(len(data) * keep)])


def rewrite_header(file: Path, change) -> None:
    """Edit a safetensors header in place, keeping the tensor bytes."""
    data = file.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    change(header)
    raw = json.dumps(header).encode()
    file.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + length :])


def _first_tensor(header: dict) -> dict:
    return header[next(k for k in header if k != "__metadata__")]


DAMAGE = {
    "model truncated": ("model.safetensors", lambda f: truncate(f), "truncated"),
    "model cut to 4 bytes": ("model.safetensors", lambda f: truncate(f, 0.0001), "truncated"),
    "model missing": ("model.safetensors", lambda f: f.unlink(), "missing"),
    "header length absurd": (
        "model.safetensors",
        lambda f: f.write_bytes(struct.pack("<Q", 2**60) + f.read_bytes()[8:]),
        "header declares",
    ),
    "shape does not fit bytes": (
        "model.safetensors",
        lambda f: rewrite_header(f, lambda h: _first_tensor(h).update(shape=[10**6])),
        "does not fit its",
    ),
    "offsets past the end": (
        "model.safetensors",
        lambda f: rewrite_header(f, lambda h: _first_tensor(h).update(data_offsets=[0, 10**9])),
        "truncated",
    ),
    "config not JSON": ("config.json", lambda f: f.write_text('{"format": '), "not valid JSON"),
    "config missing": ("config.json", lambda f: f.unlink(), "config.json"),
    "state tensors truncated": ("training_state.safetensors", lambda f: truncate(f), "truncated"),
    "state tensors missing": ("training_state.safetensors", lambda f: f.unlink(), "missing"),
    "state JSON broken": ("training_state.json", lambda f: truncate(f), "not valid JSON"),
    "state refers to a missing tensor": (
        "training_state.json",
        lambda f: f.write_text(json.dumps({"x": {"__tensor__": "t99"}})),
        "lacks",
    ),
}


def test_an_intact_snapshot_has_no_problems(snapshot):
    assert ckpt.verify_checkpoint(snapshot) == []
    single = ckpt.save_checkpoint(snapshot.parent / "G.safetensors", {"G": Generator(**TINY_G)})
    assert ckpt.verify_checkpoint(single) == []
    assert inspect(snapshot)["training_state"] is True
    assert "damaged" not in inspect(snapshot)


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damage_is_found_cheaply_and_every_loader_says_one_line(snapshot, case, monkeypatch):
    name, damage, words = DAMAGE[case]
    damage(snapshot / name)
    problems = ckpt.verify_checkpoint(snapshot)
    assert problems and any(words in p and name in p for p in problems), problems

    # The check reads headers and sizes only: never the tensor data.
    def no_tensor_reads(*args, **kwargs):
        raise AssertionError("verify_checkpoint must not load tensors")

    with monkeypatch.context() as m:
        m.setattr(ckpt, "load_file", no_tensor_reads)
        assert ckpt.verify_checkpoint(snapshot) == problems

    state_only = name.startswith("training_state")
    if not state_only:  # generating needs the networks; damaged state only stops a resume
        with pytest.raises(StyleGANError) as err:
            stylegan.load(snapshot)
        assert name in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(StyleGANError) as err:  # what a resume does
        ckpt.load_checkpoint(snapshot)
    assert name in str(err.value) and "\n" not in str(err.value)

    result = CliRunner().invoke(cli, ["inspect", str(snapshot)])
    assert result.exit_code == 1, result.output
    assert "resumable" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert name in result.output
    if state_only:  # the networks are readable: inspect shows them and says what is damaged
        assert "G_ema: stylegan2.Generator" in result.output
        assert f"damaged: {snapshot / name}" in result.output
    result = CliRunner().invoke(cli, ["inspect", "--json", str(snapshot)])
    assert result.exit_code == 1


def test_generate_on_a_truncated_snapshot_prints_one_line(snapshot, tmp_path):
    truncate(snapshot / "model.safetensors")
    args = ["generate", "--network", str(snapshot), "--seeds", "0", "--outdir", str(tmp_path / "o")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert "model.safetensors" in result.output and "truncated" in result.output


def test_single_file_checkpoints_are_checked_too(tmp_path):
    path = ckpt.save_checkpoint(tmp_path / "G.safetensors", {"G_ema": Generator(**TINY_G)})
    truncate(path)
    assert any("truncated" in p for p in ckpt.verify_checkpoint(path))
    with pytest.raises(StyleGANError, match=r"G\.safetensors.*truncated"):
        stylegan.load(path)
    path.unlink()  # a damaged file is not recognised as ours, so it is never overwritten
    ckpt.save_checkpoint(path, {"G_ema": Generator(**TINY_G)})
    rewrite_header(path, lambda h: h["__metadata__"].update(config="{not json"))
    with pytest.raises(StyleGANError, match="not valid JSON"):
        stylegan.load(path)


def test_object_arrays_in_a_training_state_are_refused(snapshot):
    obj = {"__ndarray__": {"dtype": "|O", "shape": [1], "data": base64.b64encode(b"x").decode()}}
    (snapshot / "training_state.json").write_text(json.dumps({"a": obj}))
    with pytest.raises(StyleGANError, match="numpy object array"):
        ckpt.load_checkpoint(snapshot)


@pytest.mark.parametrize("keep", [0.02, 0.3, 0.7, 0.99])
def test_truncated_nvidia_pickles_and_torch_files_give_one_line(tmp_path, keep):
    G = Generator(**TINY_G).eval()
    pkl = write_snapshot(tmp_path / "net.pkl", {"G_ema": (G, G.init_kwargs)})
    pt = tmp_path / "ros.pt"
    torch.save({"g_ema": {"style.1.weight": torch.ones(8, 8)}, "latent_avg": torch.ones(8)}, pt)
    for path in (pkl, pt):
        truncate(path, keep)
        for read in (stylegan.load, inspect):
            with pytest.raises(StyleGANError) as err:
                read(path)
            message = str(err.value)
            assert str(path) in message and "\n" not in message, message
