"""``stylegan edit --text`` (StyleCLIP's global, optimize and mapper methods) and ``stylegan clip
mapper`` end to end: a tiny saved generator steered by the bundled twemoji-clip."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from stylegan.cli import cli
from stylegan.io.checkpoint import save_checkpoint
from stylegan.tools.direction_set import load_directions
from stylegan.tools.generate import generate_images, synthesize

pytestmark = pytest.mark.usefixtures("one_thread_module")


@pytest.fixture(scope="module")
def setup(tmp_path_factory, make_tiny_network):
    root = tmp_path_factory.mktemp("text-edit")
    G = make_tiny_network("stylegan2.Generator").eval()
    return G, save_checkpoint(root / "tiny", networks={"G_ema": G}), root


def run(*args, cache=None):
    env = {"STYLEGAN_CACHE": str(cache)} if cache else None
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def grid_cells(path, res):
    grid = np.asarray(Image.open(path))
    rows, cols = grid.shape[0] // res, grid.shape[1] // res
    return grid.reshape(rows, res, cols, res, 3).transpose(0, 2, 1, 3, 4)


def test_global_text_edit_caches_relevance_and_saves_a_direction(setup, tmp_path):
    G, network, root = setup
    res, cache = G.img_resolution, tmp_path / "cache"
    common = ["edit", "--network", network, "--seeds", "0-1", "--text", "red", "--neutral",
              "emoji", "--relevance-images", 2, "--device", "cpu"]  # fmt: skip
    result = run(*common, "--outdir", tmp_path / "a", "--save-direction", tmp_path / "red.npz",
                 cache=cache)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "global direction 'red' - 'emoji'" in result.output
    assert "twemoji-clip similarity to 'red' by strength" in result.output
    cells = grid_cells(tmp_path / "a" / "edit.png", res)
    assert cells.shape[:2] == (2, 5)  # the text default strengths 0:2:5
    assert np.array_equal(cells[:, 0], generate_images(G, [0, 1]))  # strength 0 = the source
    assert not np.array_equal(cells[:, 2], cells[:, 0])
    cached = sorted(p.name for p in cache.rglob("*.npy"))
    assert len(cached) == 2 and any(n.startswith("relevance-") for n in cached)
    stamps = [p.stat().st_mtime_ns for p in sorted(cache.rglob("*.npy"))]

    direction = load_directions(tmp_path / "red.npz")
    assert direction.space == "s" and direction.method == "styleclip-global"
    assert direction.names == ["red"] and float(direction.unit[0]) == pytest.approx(4.1)
    # The saved file is an ordinary direction: `edit --direction` draws the same columns.
    saved = ["--direction", tmp_path / "red.npz", "--strength", "0,1,2"]
    result = run("edit", "--network", network, "--seeds", "0-1", *saved, "--outdir", tmp_path / "b")
    assert result.exit_code == 0, result.output
    again = grid_cells(tmp_path / "b" / "edit.png", res)
    assert np.array_equal(again, cells[:, [0, 2, 4]])

    # A second prompt reuses the cached relevance (the files are not rewritten).
    result = run(*common[:-6], "--text", "blue", "--neutral", "emoji", "--relevance-images", 2,
                 "--outdir", tmp_path / "c", "--strength", "0,1", cache=cache)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [p.stat().st_mtime_ns for p in sorted(cache.rglob("*.npy"))] == stamps


def test_optimize_writes_the_edited_ws(setup, tmp_path):
    G, network, _ = setup
    res, out = G.img_resolution, tmp_path / "o"
    result = run("edit", "--network", network, "--seeds", "3", "--text", "red heart",
                 "--method", "optimize", "--steps", 3, "--strength", "0,1", "--outdir", out,
                 "--video", "--frames", 3)  # fmt: skip
    assert result.exit_code == 0, result.output
    cells = grid_cells(out / "edit.png", res)
    assert np.array_equal(cells[0, 0], generate_images(G, [3])[0])
    import torch

    saved = np.load(out / "edited_w.npz")
    edited, strengths = saved["w"], saved["strengths"]
    assert edited.shape == (2, G.num_ws, G.w_dim) and strengths.tolist() == [0.0, 1.0]
    assert np.array_equal(cells[0, 1], synthesize(G, torch.from_numpy(edited[1:]), "const", 1)[0])
    assert (out / "edit.mp4").is_file() or (out / "edit.gif").is_file()


def test_mapper_trains_resumes_and_edits(setup, tmp_path):
    G, network, _ = setup
    res, run_dir = G.img_resolution, tmp_path / "m"
    result = run("clip", "mapper", "--text", "blue", "--network", network, "--out", run_dir,
                 "--steps", 2, "--device", "cpu")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "trained to step 2" in result.output and (run_dir / "mapper").exists()
    result = run("clip", "mapper", "--text", "blue", "--network", network, "--out", run_dir,
                 "--steps", 4, "--resume", run_dir / "mapper")  # fmt: skip
    assert result.exit_code == 0 and "trained to step 4" in result.output, result.output
    out = tmp_path / "e"
    result = run("edit", "--network", network, "--seeds", "0-2", "--mapper", run_dir / "mapper",
                 "--strength", "0,1,2", "--outdir", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "trained for 'blue'" in result.output and "similarity to 'blue'" in result.output
    cells = grid_cells(out / "edit.png", res)
    assert cells.shape[:2] == (3, 3)
    assert np.array_equal(cells[:, 0], generate_images(G, [0, 1, 2]))
    assert not np.array_equal(cells[:, 2], cells[:, 0])


def test_text_edit_errors_are_one_line(setup, tmp_path):
    G, network, root = setup
    common = ["edit", "--network", network, "--seeds", "0", "--outdir", tmp_path / "x"]
    cases = [
        ([], "give --direction FILE, or --text"),
        (["--text", "red", "--direction", root / "none.npz"], "give --direction FILE, or --text"),
        (["--text", "red"], "needs --neutral"),
        (["--text", "red", "--method", "mapper"], "needs --mapper FILE"),
        (["--text", "red", "--method", "optimize", "--save-direction", tmp_path / "d.npz"],
         "--save-direction needs --method global"),
        (["--text", "red", "--method", "optimize", "--layers", "coarse"], "--layers applies"),
        (["--text", " ", "--neutral", "emoji"], "non-empty text prompt"),
        (["--text", "red", "--neutral", "emoji", "--clip", root / "nope"], "nope"),
    ]  # fmt: skip
    for args, fragment in cases:
        result = run(*common, *args)
        lines = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert result.exit_code != 0 and len(lines) == 1, (args, result.output)
        assert fragment in lines[0], (args, lines[0])
