"""``stylegan project`` and ``stylegan generate --projected-w`` end to end on a tiny checkpoint."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from stylegan.cli import cli
from stylegan.io.checkpoint import save_checkpoint
from stylegan.tools.projection import render, save_projected_w


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, make_real, noise_strength):
    G = make_real(seed=3)
    noise_strength(G, 0.05)
    path = save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", networks={"G_ema": G})
    return path, G


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_one_line_error(result, fragment):
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and fragment in lines[0], result.output
    assert "Traceback" not in result.output


def test_project_then_generate_projected_w(tmp_path, checkpoint):
    path, G = checkpoint
    target = tmp_path / "target.jpg"
    Image.fromarray(render(G, G.mapping(torch.randn([1, G.z_dim]), None))[0]).save(target)
    out = tmp_path / "out"
    result = run(
        "project", "--network", path, "--target", target, "--outdir", out, "--steps", 3,
        "--loss", "mse", "--space", "w+", "--device", "cpu",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "loss: mse" in result.output and "PSNR" in result.output
    names = {p.name for p in out.iterdir()}
    assert {"target.png", "proj.png", "projected_w.npz", "projection.json"} <= names
    assert names & {"proj.mp4", "proj.gif"}  # the video (a GIF where ffmpeg is missing)

    rendered = tmp_path / "rendered"
    result = run(
        "generate", "--network", path, "--projected-w", out / "projected_w.npz",
        "--outdir", rendered, "--device", "cpu",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with np.load(out / "projected_w.npz") as data:
        expected = render(G, torch.from_numpy(data["w"]))[0]
    got = np.asarray(Image.open(rendered / "proj00.png"))
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1
    assert np.array_equal(got, np.asarray(Image.open(out / "proj.png")))


def test_generate_projected_w_errors(tmp_path, checkpoint):
    path, G = checkpoint
    good = save_projected_w(tmp_path / "good.npz", torch.zeros(1, G.num_ws, G.w_dim))
    wrong = save_projected_w(tmp_path / "wrong.npz", torch.zeros(1, G.num_ws, G.w_dim + 1))
    out = tmp_path / "out"
    base = ["generate", "--network", path, "--outdir", out, "--device", "cpu"]
    assert_one_line_error(run(*base, "--projected-w", good, "--seeds", "0"), "not both")
    assert_one_line_error(run(*base), "--seeds or --projected-w")
    assert_one_line_error(run(*base, "--projected-w", wrong), f"w_dim {G.w_dim + 1}")


def test_project_unreadable_target(tmp_path, checkpoint):
    path, _ = checkpoint
    bad = tmp_path / "bad.png"
    bad.write_text("no image")
    result = run("project", "--network", path, "--target", bad, "--outdir", tmp_path / "o")
    assert_one_line_error(result, "cannot read target image")
