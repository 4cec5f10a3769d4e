"""The generate / mix / noise / video commands end to end on a tiny saved checkpoint."""

import imageio.v2 as imageio
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import stylegan
from stylegan.cli import cli
from stylegan.tools.generate import generate_images


@pytest.fixture(scope="module")
def checkpoint(saved_real):
    """A tiny real StyleGAN2 G_ema (16 px, 6 ws) saved with ``save_checkpoint``, and G itself."""
    return saved_real(noise=0.1)


def run(command, flags="", **paths):
    """``run("mix", "--rows 1,2", network=p)`` -> ``stylegan mix --rows 1,2 --network p``."""
    args = [command, *flags.split()]
    for name, value in paths.items():
        args += [f"--{name}", str(value)]
    return CliRunner().invoke(cli, args)


def assert_one_line_error(result, fragment):
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert fragment in lines[0]
    assert "Traceback" not in result.output


def test_generate(tmp_path, checkpoint):
    path, G = checkpoint
    out = tmp_path / "out"
    flags = "--seeds 0-2,7 --trunc 0.7 --grid --batch 3 --device cpu"
    result = run("generate", flags, network=path, outdir=out)
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["grid.png", "seed0000.png", "seed0001.png", "seed0002.png", "seed0007.png"]
    expected = generate_images(G, [7], truncation_psi=0.7)[0]
    got = np.asarray(Image.open(out / "seed0007.png"))
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1
    assert np.asarray(Image.open(out / "grid.png")).shape == (32, 32, 3)


def test_generate_errors(tmp_path, checkpoint):
    path, _ = checkpoint
    out = tmp_path / "out"
    missing = tmp_path / "missing"
    assert_one_line_error(run("generate", "--seeds 0", network=missing, outdir=out), "not found")
    assert_one_line_error(run("generate", "--seeds 1-x", network=path, outdir=out), "seeds")
    assert_one_line_error(
        run("generate", "--seeds 1 --class 2", network=path, outdir=out), "unconditional"
    )
    assert_one_line_error(
        run("generate", "--seeds 1 --device tpu", network=path, outdir=out), "device"
    )
    assert not out.exists()


def test_mix(tmp_path, checkpoint):
    path, _ = checkpoint
    flags = "--rows 85,100 --cols 55,821,1789 --styles coarse --cells"
    result = run("mix", flags, network=path, outdir=tmp_path)
    assert result.exit_code == 0, result.output
    assert "style layers 0,1 of 6" in result.output  # coarse, for a 6-layer network
    figure = np.asarray(Image.open(tmp_path / "mixing.png"))
    assert figure.shape == (3 * 16, 4 * 16, 3)
    assert (tmp_path / "100-1789.png").is_file() and (tmp_path / "55-55.png").is_file()
    bad = run("mix", "--rows 1 --cols 2 --styles 0-40", network=path, outdir=tmp_path)
    assert_one_line_error(bad, "style layer 40")


def test_noise(tmp_path, checkpoint):
    path, _ = checkpoint
    result = run("noise", "--seeds 0-1 --samples 3 --std-samples 6", network=path, outdir=tmp_path)
    assert result.exit_code == 0, result.output
    figure = np.asarray(Image.open(tmp_path / "noise.png"))
    assert figure.shape == (2 * 16, 4 * 16, 3)
    assert figure[:16, 48:].max() == 255  # noise is on, so the std image is not black


def test_video(tmp_path, checkpoint):
    path, _ = checkpoint
    mp4 = tmp_path / "lerp.mp4"
    flags = "--seeds 0-3 --grid 2x1 --frames-per-key 3 --kind linear --fps 6"
    result = run("video", flags, network=path, output=mp4)
    assert result.exit_code == 0, result.output
    assert str(mp4) in result.output
    frames = imageio.mimread(mp4, format="FFMPEG")
    assert len(frames) == 2 * 3 and frames[0].shape == (16, 32, 3)

    gif = tmp_path / "loop.gif"
    flags = "--seeds 0-1 --frames-per-key 2 --space z --kind slerp"
    result = run("video", flags, network=path, output=gif)
    assert result.exit_code == 0, result.output
    assert len(imageio.mimread(gif)) == 4


def test_video_errors(tmp_path, checkpoint):
    path, _ = checkpoint
    mp4 = tmp_path / "v.mp4"
    assert_one_line_error(run("video", "--seeds 0-2 --grid 2x2", network=path, output=mp4), "grid")
    assert_one_line_error(
        run("video", "--seeds 0-1 --kind slerp", network=path, output=mp4), "slerp"
    )
    assert not mp4.exists()


def test_cli_goes_through_stylegan_load(tmp_path, monkeypatch, make_standin):
    calls = []

    def fake_load(path, net="G_ema", device="cpu"):
        calls.append((str(path), net, str(device)))
        return make_standin()

    monkeypatch.setattr(stylegan, "load", fake_load)
    result = run("generate", "--seeds 0 --device cpu", network="some.pkl", outdir=tmp_path)
    assert result.exit_code == 0, result.output
    assert calls == [("some.pkl", "G_ema", "cpu")]
    assert (tmp_path / "seed0000.png").is_file()
