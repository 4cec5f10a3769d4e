"""``stylegan edit`` end to end on a tiny saved checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from stylegan.cli import cli
from stylegan.cli.edit import split_direction_spec
from stylegan.io.checkpoint import save_checkpoint
from stylegan.tools.direction_set import DirectionSet
from stylegan.tools.generate import generate_images


@pytest.fixture(scope="module")
def setup(tmp_path_factory, make_tiny_network):
    root = tmp_path_factory.mktemp("edit")
    G = make_tiny_network("stylegan2.Generator").eval()
    network = save_checkpoint(root / "tiny", networks={"G_ema": G})
    vectors = np.random.default_rng(0).standard_normal((2, G.w_dim))
    directions = DirectionSet(vectors, "sefa", names=["first", "second"], num_ws=G.num_ws)
    return G, network, directions.save(root / "sefa.npz"), root


def run(*args):
    return CliRunner().invoke(cli, ["edit", *map(str, args)])


def one_error_line(result, code=1):
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_edit_writes_a_rows_by_strengths_grid(setup, tmp_path):
    G, network, directions, _ = setup
    out = tmp_path / "out"
    result = run("--network", network, "--seeds", "0-2", "--direction", f"{directions}:second",
                 "--strength=-2:2:5", "--outdir", out, "--cells", "--device", "cpu")  # fmt: skip
    assert result.exit_code == 0, result.output
    grid = np.asarray(Image.open(out / "edit.png"))
    res = G.img_resolution
    assert grid.shape == (3 * res, 5 * res, 3)
    # The strength-0 column is the image `stylegan generate` makes for that seed.
    assert np.array_equal(grid[:res, 2 * res : 3 * res], generate_images(G, [0])[0])
    assert np.array_equal(np.asarray(Image.open(out / "seed0001-strength2.png")),
                          grid[res : 2 * res, 4 * res :])  # fmt: skip


def test_edit_projected_w_and_video(setup, tmp_path):
    G, network, directions, root = setup
    from stylegan.tools.generate import seeds_to_ws

    np.savez(root / "projected_w.npz", w=seeds_to_ws(G, [5]).numpy())
    out = tmp_path / "out"
    result = run("--network", network, "--projected-w", root / "projected_w.npz",
                 "--direction", directions, "--strength", "-1,1", "--outdir", out,
                 "--video", "--frames", "4")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert np.asarray(Image.open(out / "edit.png")).shape[:2] == (G.img_resolution, 2 * 16)
    assert (out / "edit.mp4").is_file() or (out / "edit.gif").is_file()


def test_edit_errors_are_one_line(setup, tmp_path, make_tiny_network):
    G, network, directions, root = setup
    common = ["--network", network, "--outdir", tmp_path / "o"]
    wrong = DirectionSet(np.ones((1, G.w_dim + 3)), "sefa").save(root / "wrong.npz")
    np.savez(root / "bad_w.npz", w=np.zeros((1, 3, G.w_dim), np.float32))
    cases = [
        (["--seeds", "0", "--direction", wrong], "w_dim"),
        (["--seeds", "0", "--direction", directions, "--strength", "1:2"], "START:STOP:COUNT"),
        (["--direction", directions], "exactly one of --seeds and --projected-w"),
        (["--seeds", "0", "--projected-w", root / "bad_w.npz", "--direction", directions],
         "exactly one"),
        (["--projected-w", root / "bad_w.npz", "--direction", directions], "shape"),
        (["--seeds", "0", "--direction", f"{directions}:nope"], "no direction named"),
    ]  # fmt: skip
    for args, fragment in cases:
        assert fragment in one_error_line(run(*common, *args)), args


def test_direction_spec_splits_on_the_last_colon(tmp_path):
    assert split_direction_spec("a/b.npz:3") == (tmp_path.__class__("a/b.npz"), "3")
    assert split_direction_spec("a/b.npz")[1] == "0"
    odd = tmp_path / "x:y.npz"
    odd.write_bytes(b"")
    assert split_direction_spec(str(odd)) == (odd, "0")
