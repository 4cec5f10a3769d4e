"""Generation that streams (any seed count, nothing lost on interruption), refuses non-finite
output and over-large figures, and checks its output folder before any work."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from click.testing import CliRunner

from stylegan.cli import cli
from stylegan.errors import StyleGANError
from stylegan.io.checkpoint import save_checkpoint
from stylegan.tools.generate import generate_images, write_images


@pytest.fixture(scope="module")
def network(saved_real):
    return saved_real()


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(result, fragment, code=1):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [l for l in result.output.splitlines() if l.lower().startswith(("error", "usage"))]
    assert any(fragment in l for l in result.output.splitlines()), result.output
    return lines


def test_write_images_streams_and_keeps_what_was_written(tmp_path, make_real):
    G = make_real(seed=3)
    calls = {"n": 0}
    synthesis = G.synthesis.forward

    def interrupted(ws, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return synthesis(ws, **kwargs)

    G.synthesis.forward = interrupted
    with pytest.raises(KeyboardInterrupt):
        write_images(G, "0-99", tmp_path, batch_size=4)
    # two batches were written before the interruption, each image as soon as it was made
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"seed{s:04d}.png" for s in range(8)]


def test_write_images_equals_generate_images(tmp_path, make_real):
    import numpy as np
    from PIL import Image

    G = make_real(seed=3)
    written, grid = write_images(G, "3-7", tmp_path, truncation_psi=0.5, batch_size=2, grid=True)
    assert written == 5 and grid == tmp_path / "grid.png"
    expected = generate_images(G, "3-7", truncation_psi=0.5, batch_size=2)
    for seed, image in zip(range(3, 8), expected):
        assert np.array_equal(np.asarray(Image.open(tmp_path / f"seed{seed:04d}.png")), image)


def test_huge_seed_count_asks_first_and_writes_nothing_without_yes(tmp_path, network):
    path, _ = network
    out = tmp_path / "out"
    result = invoke("generate", "--network", path, "--seeds", "0-100000000", "--outdir", out)
    one_line_error(result, "pass --yes")
    assert not out.exists()


def test_huge_seed_count_streams_in_flat_memory(tmp_path, network):
    """A hundred million seeds under a 4 GiB address-space limit (the seed list alone would
    need more as Python ints): images appear at once and Ctrl-C keeps them."""
    path, _ = network
    out = tmp_path / "out"
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"
        "from stylegan.cli import main\n"
        "sys.argv = ['stylegan', 'generate', '--network', sys.argv[1], '--seeds', "
        "'0-100000000', '--yes', '--device', 'cpu', '--batch', '4', '--outdir', sys.argv[2]]\n"
        "main()\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path), str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(list(out.glob("seed*.png"))) < 12:
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "MemoryError" not in output
    names = sorted(p.name for p in out.glob("seed*.png"))
    assert len(names) >= 12 and names[:3] == ["seed0000.png", "seed0001.png", "seed0002.png"]
    assert not list(out.glob(".*tmp*"))  # no half-written image


def test_nan_weights_fail_instead_of_writing_black_images(tmp_path, make_real):
    G = make_real(seed=3)
    with torch.no_grad():
        next(G.synthesis.parameters()).fill_(float("nan"))
    path = save_checkpoint(tmp_path / "nan", networks={"G_ema": G})
    out = tmp_path / "out"
    result = invoke("generate", "--network", path, "--seeds", "0-3", "--outdir", out)
    one_line_error(result, "not finite")
    assert not out.exists() or not list(out.glob("*.png"))
    result = invoke("mix", "--network", path, "--rows", "0", "--cols", "1", "--outdir", out)
    one_line_error(result, "not finite")
    with pytest.raises(StyleGANError, match="not finite .* for 2 of 2 images"):
        G.generate([0, 1])


def test_figures_too_large_are_refused_before_work(tmp_path, network):
    path, _ = network
    out = tmp_path / "out"
    result = invoke(
        "truncation", "--network", path, "--psi=0:1:1000000", "--seeds", "0-3", "--outdir", out
    )
    one_line_error(result, "truncation figure of 4 x 1000000 images")
    result = invoke(
        "mix", "--network", path, "--rows", "0-5000", "--cols", "0-5000", "--outdir", out
    )
    one_line_error(result, "style-mixing figure")
    result = invoke(
        "generate", "--network", path, "--seeds", "0-9999999", "--grid", "--yes", "--outdir", out
    )
    one_line_error(result, "--grid of")
    assert not out.exists()


def test_outdir_is_checked_before_the_network_is_loaded(tmp_path):
    a_file = tmp_path / "file.png"
    a_file.write_bytes(b"x")
    missing = tmp_path / "missing-network"
    for outdir in (a_file, a_file / "below"):
        result = invoke("generate", "--network", missing, "--seeds", "0", "--outdir", outdir)
        assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
        assert result.output.startswith("error: --outdir") and "not found" not in result.output
    assert a_file.read_bytes() == b"x"


def test_read_only_outdir_is_refused(tmp_path, monkeypatch):
    import stylegan.io.paths as paths

    real_access = os.access  # tests run as root, who may write anywhere: deny writes alone
    monkeypatch.setattr(
        paths.os, "access", lambda p, mode, **k: not mode & os.W_OK and real_access(p, mode)
    )
    result = invoke("generate", "--network", tmp_path / "x", "--seeds", "0", "--outdir", tmp_path)
    assert result.exit_code == 1 and "not writable" in result.output, result.output


@pytest.mark.parametrize("command", ["video", "spectrum"])
def test_output_file_folder_is_checked_before_the_network_is_loaded(tmp_path, command):
    a_file = tmp_path / "file"
    a_file.write_bytes(b"x")
    missing = tmp_path / "missing-network"
    args = [command, "--network", missing, "--output", a_file / "out.gif"]
    result = invoke(*args, *(["--seeds", "0"] if command == "video" else []))
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert "--output" in result.output and "is a file" in result.output
    assert "not found" not in result.output and a_file.read_bytes() == b"x"
