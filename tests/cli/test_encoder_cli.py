"""``stylegan encoder train`` and ``stylegan encoder invert`` end to end on a tiny network."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import stylegan
from stylegan.cli import cli
from tiny_networks import tiny_network

pytestmark = pytest.mark.usefixtures("one_thread_module")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_train_resume_and_invert(tmp_path):
    net = stylegan.save(tmp_path / "net", G_ema=tiny_network("stylegan2.Generator"))
    common = ["--network", net, "--batch", 4, "--preset", "tiny", "--perceptual", "none"]
    common += ["--device", "cpu", "--outdir", tmp_path / "enc"]
    first = run("encoder", "train", *common, "--steps", 3)
    assert first.exit_code == 0, first.output
    assert "encoder trained to step 3" in first.output
    more = run("encoder", "train", *common, "--steps", 5, "--resume", tmp_path / "enc" / "encoder")
    assert more.exit_code == 0 and "to step 5" in more.output, more.output

    targets = tmp_path / "targets"
    targets.mkdir()
    for name in ("a", "b"):
        Image.fromarray(np.full((20, 24, 3), 128, np.uint8)).save(targets / f"{name}.png")
    done = run(
        "encoder", "invert", "--encoder", tmp_path / "enc" / "encoder", "--network", net,
        "--target", targets, "--outdir", tmp_path / "out", "--refine-steps", 2,
        "--perceptual", "none", "--device", "cpu",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "inverted 2 image(s)" in done.output
    for name in ("a", "b"):
        assert {p.name for p in (tmp_path / "out" / name).iterdir()} == {
            "target.png", "proj.png", "projected_w.npz"
        }  # fmt: skip
        assert np.load(tmp_path / "out" / name / "projected_w.npz")["w"].shape == (1, 6, 16)


def test_mistakes_are_one_line_errors(tmp_path):
    net = stylegan.save(tmp_path / "net", G_ema=tiny_network("stylegan2.Generator"))
    result = run(
        "encoder", "invert", "--encoder", tmp_path / "missing", "--network", net,
        "--target", tmp_path / "none.png", "--outdir", tmp_path / "out",
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.output.startswith("error: target not found") and result.output.count("\n") == 1
    result = run("encoder", "train", "--network", net, "--outdir", tmp_path / "o", "--resume", net)
    assert result.exit_code == 1 and "holds no network 'encoder'" in result.output
