"""``stylegan clip``: captions, train, export, retrieval from the command line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from clip_shapes import write_manifest

from stylegan.cli import cli
from stylegan.clip import load_clip

pytestmark = pytest.mark.usefixtures("one_thread_module")


def _run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def test_train_export_and_measure_from_the_command_line(shapes_data, tmp_path):
    data, captions = shapes_data
    code, out = _run(
        "clip", "train", "--data", data, "--captions", captions, "--out", tmp_path / "run",
        "--steps", 20, "--batch", 8, "--views", 2, "--image-size", 64, "--holdout", 0.25,
        "--device", "cpu",
    )  # fmt: skip
    assert code == 0, out
    assert "trained to step 20" in out and "held-out retrieval: top-1" in out
    code, out = _run(
        "clip",
        "export",
        "--checkpoint",
        tmp_path / "run" / "clip",
        "--out",
        tmp_path / "s.safetensors",
    )
    assert code == 0 and "s: " in out and (tmp_path / "s.safetensors").is_file()
    model = load_clip(tmp_path / "s.safetensors")
    assert model.name == "s" and model.image_size == 64 and len(model.info["heldout"]) == 3
    code, out = _run("clip", "retrieval", "--clip", tmp_path / "s.safetensors", "--data", data)
    assert code == 0 and "s, 3 held-out images: top-1" in out, out
    code, out = _run(
        "clip", "retrieval", "--clip", tmp_path / "s.safetensors", "--data", data,
        "--captions", captions,
    )  # fmt: skip
    assert code == 0 and "12 captioned images" in out, out


def test_captions_from_a_manifest_and_one_line_errors(tmp_path):
    manifest = write_manifest(
        tmp_path / "manifest.csv", [("00000/img00000000.png", "hash key", "Symbols")]
    )
    code, out = _run("clip", "captions", "--manifest", manifest, "--out", tmp_path / "c.csv")
    assert code == 0 and "1 captions" in out
    code, out = _run("clip", "retrieval", "--clip", "no-such-clip")
    assert code == 1 and out.startswith("error: unknown CLIP") and out.count("\n") == 1
    code, out = _run("clip", "train", "--data", tmp_path, "--out", tmp_path / "x")
    assert code == 2 and "--captions is needed with --data" in out
