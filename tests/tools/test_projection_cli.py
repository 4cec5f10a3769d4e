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
def checkpoint(saved_real):
    return saved_real(noise=0.05)


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


@pytest.fixture(scope="module")
def encoder_path(tmp_path_factory, checkpoint):
    """An encoder for the tiny checkpoint's G, trained two steps (enough to be one)."""
    from stylegan.tools.encoder import train_encoder

    _, G = checkpoint
    outdir = tmp_path_factory.mktemp("enc")
    train_encoder(G, steps=2, batch_size=2, preset="tiny", outdir=outdir, progress=False)
    return outdir / "encoder"


def test_project_with_an_encoder_writes_the_projector_outputs(tmp_path, checkpoint, encoder_path):
    import json

    from stylegan.metrics.perceptual import PixelDistance
    from stylegan.tools.encoder import invert, load_encoder
    from stylegan.tools.projection import load_target

    path, G = checkpoint
    target = tmp_path / "target.png"
    Image.fromarray(render(G, G.mapping(torch.randn([1, G.z_dim]), None))[0]).save(target)
    out = tmp_path / "out"
    result = run(
        "project", "--network", path, "--target", target, "--outdir", out, "--loss", "mse",
        "--encoder", encoder_path, "--refine-steps", 2, "--tune", "--tune-steps", 2,
        "--device", "cpu",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "PSNR" in result.output and "tuned PSNR" in result.output
    names = {p.name for p in out.iterdir()}
    assert {"target.png", "proj.png", "projected_w.npz", "projection.json"} <= names
    assert {"proj_tuned.png", "tuned"} <= names and not names & {"proj.mp4", "proj.gif"}
    summary = json.loads((out / "projection.json").read_text())
    assert summary["method"] == "encoder" and summary["refine_steps"] == 2
    assert summary["loss"] == "mse" and summary["space"] == "w+"
    assert np.isfinite(summary["final_loss"]) and summary["psnr_db"] > 0

    # The same ws as the library's inversion of the same target, refined the same way.
    pixels = load_target(target, G.img_resolution)
    images = torch.from_numpy(pixels).permute(2, 0, 1)[None]
    expected = invert(load_encoder(encoder_path), G, images, 2, perceptual=PixelDistance())
    with np.load(out / "projected_w.npz") as data:
        w = data["w"]
    assert w.dtype == np.float32 and w.shape == (1, G.num_ws, G.w_dim)
    assert np.allclose(w, expected.numpy(), atol=1e-5)
    assert np.array_equal(np.asarray(Image.open(out / "proj.png")), render(G, expected)[0])


def test_project_encoder_mistakes_are_one_line_errors(tmp_path, checkpoint, encoder_path):
    from tiny_networks import tiny_network

    path, _ = checkpoint
    target = tmp_path / "t.png"
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(target)
    base = ["project", "--network", path, "--target", target, "--outdir", tmp_path / "o"]
    base += ["--loss", "mse", "--device", "cpu"]
    other = save_checkpoint(
        tmp_path / "other", networks={"G_ema": tiny_network("stylegan2.Generator", w_dim=8)}
    )
    other_base = [other if a == path else a for a in base]
    assert_one_line_error(run(*other_base, "--encoder", encoder_path), "does not fit")
    assert_one_line_error(run(*base, "--encoder", encoder_path, "--steps", 5), "--steps")
    assert_one_line_error(run(*base, "--refine-steps", 5), "give --encoder")
