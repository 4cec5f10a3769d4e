"""StyleGAN3 through the command line: training presets, generate --translate/--rotate, motion
videos (also side by side with StyleGAN2), spectra, equivariance metrics and NVIDIA pickles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import stylegan
from stylegan.cli import cli
from stylegan.networks.stylegan3 import Generator
from tiny_networks import tiny_network

RES = 16
TINY = dict(
    z_dim=16, c_dim=0, w_dim=16, img_resolution=RES, img_channels=3, channel_base=1024,
    channel_max=32, mapping_kwargs={"num_layers": 2}, num_layers=6, margin_size=4,
)  # fmt: skip


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def sg3(tmp_path_factory) -> Path:
    G = tiny_network("stylegan3.Generator", num_critical=2, **TINY).eval()
    return stylegan.save(tmp_path_factory.mktemp("nets") / "sg3", G_ema=G)


@pytest.fixture(scope="module")
def sg2(tmp_path_factory) -> Path:
    G = tiny_network("stylegan2.Generator", img_resolution=RES).eval()
    return stylegan.save(tmp_path_factory.mktemp("nets") / "sg2", G_ema=G)


def pngs(folder: Path) -> dict[str, np.ndarray]:
    return {
        p.name: np.asarray(Image.open(p)).astype(np.int16) for p in sorted(folder.glob("*.png"))
    }


def test_generate_translate_moves_the_picture(sg3, tmp_path):
    base, moved = tmp_path / "base", tmp_path / "moved"
    assert run("generate", "--network", sg3, "--seeds", "0-1", "--outdir", base).exit_code == 0
    # One pixel to the right: translate is in image widths, as NVIDIA's gen_images.py.
    result = run(
        "generate", "--network", sg3, "--seeds", "0-1", "--outdir", moved,
        "--translate", f"{1 / RES},0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    a, b = pngs(base)["seed0000.png"], pngs(moved)["seed0000.png"]
    shifted = np.abs(b[2:-2, 3:-1] - a[2:-2, 2:-2]).mean()
    unshifted = np.abs(b[2:-2, 2:-2] - a[2:-2, 2:-2]).mean()
    assert shifted < unshifted / 2, (shifted, unshifted)
    rotated = tmp_path / "rot"
    assert (
        run(
            "generate", "--network", sg3, "--seeds", "0", "--outdir", rotated, "--rotate", "90"
        ).exit_code
        == 0
    )


def test_motion_video_side_by_side_with_stylegan2(sg3, sg2, tmp_path):
    out = tmp_path / "motion.gif"
    result = run(
        "video", "--network", sg3, "--seeds", "0", "--motion", "circle+rotate",
        "--frames", "4", "--fps", "4", "--compare", sg2, "--output", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with Image.open(out) as gif:
        assert gif.n_frames == 4 and gif.size == (2 * RES, RES)


def test_spectrum_figure(sg3, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rnd = np.random.RandomState(0)
    for i in range(8):
        Image.fromarray(rnd.randint(0, 255, (RES, RES, 3), dtype=np.uint8)).save(data / f"{i}.png")
    out = tmp_path / "spectrum.png"
    result = run(
        "spectrum", "--network", sg3, "--data", data, "--num", "8", "--output", out,
        "--save-npz", tmp_path / "npz",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.is_file() and len(list((tmp_path / "npz").glob("*.npz"))) == 2


def test_equivariance_metrics_from_the_cli(sg3, sg2, tmp_path):
    scores = {}
    for name, net in (("sg3", sg3), ("sg2", sg2)):
        result = run(
            "metrics", "--network", net, "--metrics", "eqt50k_int", "--num", "8",
            "--outdir", tmp_path / name,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        written = tmp_path / name / "metric-eqt50k_int.jsonl"
        assert f"results appended to {written}" in result.output  # the real file name
        record = json.loads(written.read_text())
        scores[name] = record["results"]["eqt50k_int"]
    assert scores["sg3"] > scores["sg2"] + 10, scores


@pytest.mark.parametrize("preset", ["stylegan3-t", "stylegan3-r"])
def test_stylegan3_presets_train_and_resume(preset, tmp_path):
    from stylegan.training import make_config, train

    data = tmp_path / "squares"
    data.mkdir()
    rnd = np.random.RandomState(1)
    for i in range(8):
        img = np.full((RES, RES, 3), 255, np.uint8)
        img[3:12, 3:12] = rnd.randint(0, 200, 3)
        Image.fromarray(img).save(data / f"{i}.png")
    config = make_config(
        preset, data=str(data), batch_size=4, channel_base=256, channel_max=8, z_dim=8, w_dim=8,
        total_kimg=0.004, kimg_per_tick=0.004, snapshot_ticks=1, grid_size=(2, 2),
        num_fp16_res=0, conv_clamp=None, device="cpu",
    )  # fmt: skip
    run_dir = train(config, outdir=tmp_path / "runs", progress=False)
    options = json.loads((run_dir / "training_options.json").read_text())
    assert options["generator"] == preset and options["pl_weight"] == 0
    G = stylegan.load(run_dir / "network-snapshot-000000", net="G")
    assert isinstance(G, Generator)
    assert G.config.use_radial_filters == (preset == "stylegan3-r")
    assert G.config.conv_kernel == (1 if preset == "stylegan3-r" else 3)
    assert G.config.channel_max == (16 if preset == "stylegan3-r" else 8)  # R doubles widths
    assert G.config.magnitude_ema_beta == pytest.approx(0.5 ** (4 / 20000))
    train(config.replace(total_kimg=0.008), outdir=run_dir, resume="latest", progress=False)
    assert "Resuming:" in (run_dir / "log.txt").read_text()
