"""The command line end to end on a tiny model: dataset, train, generate, mix, noise, video."""

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import stylegan
from stylegan.cli import cli
from stylegan.io.checkpoint import load_checkpoint
from stylegan.training import find_latest_snapshot


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_dataset_train_and_every_tool(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    rnd = np.random.RandomState(0)
    for i in range(12):
        img = np.full((20, 24, 3), 255, np.uint8)
        img[4:16, 6:18] = rnd.randint(0, 255, size=3)
        Image.fromarray(img).save(src / f"{i}.png")
    data = tmp_path / "data.zip"
    assert "12" in _run(
        "dataset", "--source", src, "--dest", data, "--resolution", 16, "--transform", "center-crop"
    )

    runs = tmp_path / "runs"
    _run("train", "--outdir", runs, "--data", data, "--cfg", "tiny", "--kimg", 0.02,
         "--device", "cpu", "--no-progress")  # fmt: skip
    snapshot = find_latest_snapshot(runs)
    options = json.loads((snapshot.parent / "training_options.json").read_text())
    assert options["preset"] == "tiny" and options["total_kimg"] == 0.02

    out = tmp_path / "out"
    _run("generate", "--network", snapshot, "--seeds", "0-3", "--trunc", 0.7, "--outdir", out,
         "--grid")  # fmt: skip
    seed_image = np.asarray(Image.open(out / "seed0002.png"))
    assert seed_image.shape == (16, 16, 3)
    expected = stylegan.load(snapshot).generate(seeds=[2], truncation_psi=0.7)[0].numpy()
    assert np.array_equal(seed_image, expected)
    assert Image.open(out / "grid.png").size == (32, 32)

    _run("mix", "--network", snapshot, "--rows", "1,2", "--cols", "3,4,5", "--styles", "coarse",
         "--outdir", out)  # fmt: skip
    assert Image.open(out / "mixing.png").size == (4 * 16, 3 * 16)

    _run("noise", "--network", snapshot, "--seeds", "0-1", "--samples", 2, "--std-samples", 4,
         "--outdir", out)  # fmt: skip
    assert (out / "noise.png").is_file()

    video = _run("video", "--network", snapshot, "--seeds", "0-3", "--grid", "1x2",
                 "--frames-per-key", 3, "--format", "gif",
                 "--output", out / "lerp.gif")  # fmt: skip
    assert "lerp.gif" in video
    frames = iio.imread(out / "lerp.gif", index=None)
    assert frames.shape[1:3] == (32, 16)  # --grid is columns x rows, as in gen_video.py

    resumed = _run("train", "--outdir", runs, "--resume", "latest", "--kimg", 0.04,
                   "--no-progress")  # fmt: skip
    assert "Resuming" in resumed
    state = load_checkpoint(find_latest_snapshot(runs)).training_state
    assert state["cur_nimg"] >= 40


def test_demo_runs_on_the_bundled_sample(tmp_path):
    output = _run("demo", "--outdir", tmp_path, "--minutes", 0.1, "--preset", "tiny",
                  "--device", "cpu")  # fmt: skip
    for label in ("Samples", "Style mixing", "Noise variation", "Interpolation"):
        line = next(line for line in output.splitlines() if line.startswith(label))
        assert Path(line.split(":", 1)[1].strip()).exists(), line
    figures = tmp_path / "figures"
    assert Image.open(figures / "samples" / "grid.png").size == (8 * 32, 8 * 32)
    assert (figures / "mixing.png").is_file() and (figures / "noise.png").is_file()
    assert list(figures.glob("interpolation.*"))

    # Before training: the bundled network's samples, mixing and a SeFa edit (7 strengths).
    zoo = tmp_path / "zoo" / "twemoji-32"
    assert output.index("A trained network") < output.index("Now training")
    assert Image.open(zoo / "samples" / "grid.png").size == (8 * 32, 8 * 32)
    assert (zoo / "mixing.png").is_file()
    edit = np.asarray(Image.open(zoo / "edit-sefa0" / "edit.png"))
    assert edit.shape[:2] == (6 * 32, 7 * 32)
    middle = edit[:, 3 * 32 : 4 * 32]  # strength 0: the unedited images
    assert np.abs(middle.astype(int) - edit[:, :32].astype(int)).mean() > 1  # the edit moves
