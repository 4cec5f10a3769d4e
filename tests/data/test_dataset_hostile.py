"""`stylegan dataset` on hostile input, run as a real process with its address space capped.

Every case would hang or exhaust memory without the reader's guards: the cap (``RLIMIT_AS``)
turns exhaustion into a quick failure and the timeout turns a hang into one.
"""

import os
import resource
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hostile_files import png_bytes, write_zip_bomb

from stylegan.cli import cli
from stylegan.data import ImageDataset, convert_dataset
from stylegan.errors import StyleGANError

# Python with torch imported maps ~0.7 GiB; 3 GiB leaves room for work but not for a 6 GiB member,
# a never-ending /dev/zero or a 65536x65536 image (12 GiB).
ADDRESS_SPACE_LIMIT = 3 << 30


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def run_limited(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m stylegan ARGS`` (or ``python -c`` for ``-c``) under the memory cap."""
    command = [sys.executable, *args] if args[0] == "-c" else [sys.executable, "-m", "stylegan"]
    if args[0] != "-c":
        command += args
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, preexec_fn=_cap_memory
    )


def snapshot(root: Path, leave_out: Path) -> dict:
    """Type, size and modification time of everything under ``root`` except ``leave_out``."""
    entries = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            if path == leave_out or leave_out in path.parents:
                continue
            info = os.lstat(path)
            key = path.relative_to(root).as_posix()
            entries[key] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return entries


def test_fifo_and_device_links_are_skipped_not_read(tmp_path, make_image):
    src = tmp_path / "src"
    make_image(src / "a.png")
    (src / "link.png").symlink_to(src / "a.png")  # a link to a regular file is fine
    (src / "zero.png").symlink_to("/dev/zero")
    os.mkfifo(src / "x.png")
    dest = tmp_path / "out.zip"
    before = snapshot(tmp_path, dest)
    result = run_limited("dataset", "--source", str(src), "--dest", str(dest), "--resolution", "8")
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip()
    assert summary.startswith("wrote 2 images")
    assert "x.png (not a regular file (a FIFO))" in summary
    assert "zero.png (not a regular file (a character device))" in summary
    assert len(ImageDataset(dest)) == 2
    assert snapshot(tmp_path, dest) == before


def test_a_6_gib_zip_member_is_skipped_with_its_reason(tmp_path, make_image):
    make_image(tmp_path / "a.png")
    bomb = tmp_path / "bomb.zip"
    write_zip_bomb(bomb, "b.png", 6 << 30, {"a.png": (tmp_path / "a.png").read_bytes()})
    dest = tmp_path / "out.zip"
    before = snapshot(tmp_path, dest)
    result = run_limited("dataset", "--source", str(bomb), "--dest", str(dest), "--resolution", "8")
    assert result.returncode == 0, result.stderr
    assert "skipped 1: b.png (zip member of 6144 MiB is over the 256 MiB limit)" in result.stdout
    assert len(ImageDataset(dest)) == 1
    assert snapshot(tmp_path, dest) == before


def test_a_6_gib_member_in_a_training_zip_is_a_one_line_error(tmp_path, make_image):
    src = tmp_path / "src"
    make_image(src / "a.png")
    convert_dataset(src, tmp_path / "good.zip", 8, progress=False)
    with zipfile.ZipFile(tmp_path / "good.zip") as z:
        members = {n: z.read(n) for n in z.namelist()}
    write_zip_bomb(tmp_path / "bomb.zip", "00000/img00000001.png", 6 << 30, members)
    code = (
        "import sys; from stylegan.data import ImageDataset; from stylegan.errors import "
        "StyleGANError\ntry:\n ImageDataset(sys.argv[1])\nexcept StyleGANError as e:\n"
        " print(e); sys.exit(1)"
    )
    result = run_limited("-c", code, str(tmp_path / "bomb.zip"))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and "00000/img00000001.png" in lines[0] and "6144 MiB" in lines[0]


@pytest.mark.parametrize(
    ("side", "reason"),
    [
        (9000, "9000x9000 is over the 67,108,864-pixel limit"),  # under Pillow's own limit
        (60_000, "too many pixels"),  # over it: Pillow's error, listed as a skip like ours
    ],
)
def test_a_pixel_bomb_is_skipped(tmp_path, make_image, side, reason):
    # Refused from the header before any allocation, so it runs in this process.
    src = tmp_path / "src"
    make_image(src / "a.png")
    (src / "huge.png").write_bytes(png_bytes(side, side))
    dest = tmp_path / "out"
    before = snapshot(tmp_path, dest)
    result = CliRunner().invoke(
        cli, ["dataset", "--source", str(src), "--dest", str(dest), "--resolution", "8"]
    )
    assert result.exit_code == 0, result.output
    assert f"skipped 1: huge.png ({reason}" in result.stdout
    assert len(ImageDataset(dest)) == 1
    assert snapshot(tmp_path, dest) == before


def test_a_huge_resolution_is_refused_before_any_work(tmp_path, make_image):
    src = tmp_path / "src"
    make_image(src / "a.png")
    dest = tmp_path / "out.zip"
    before = snapshot(tmp_path, dest)
    result = run_limited(
        "dataset", "--source", str(src), "--dest", str(dest), "--resolution", "65536"
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: resolution 65536 is over the limit")
    assert "8192" in lines[0]
    assert not dest.exists() and snapshot(tmp_path, dest) == before


def test_a_killed_run_leaves_a_partial_that_the_next_run_removes(tmp_path, make_image):
    src = tmp_path / "src"
    for i in range(40):
        make_image(src / f"{i:02d}.png", seed=i)
    dest = tmp_path / "out.zip"
    # Slow the conversion down so it is surely killed half-way.
    code = (
        "import sys, time\nfrom stylegan.data import dataset_tool as t\nencode = t._encode_png\n"
        "t._encode_png = lambda *a: (time.sleep(0.25), encode(*a))[1]\n"
        "t.convert_dataset(sys.argv[1], sys.argv[2], 8, progress=False)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(src), str(dest)], preexec_fn=_cap_memory
    )
    pattern = f".out.zip.partial-{child.pid}-*"
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(pattern)) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert len(list(tmp_path.glob(pattern))) == 1  # the orphan
    assert not dest.exists()

    report = convert_dataset(src, dest, 8, progress=False)
    assert report.written == 40
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zip", "src"]


@pytest.mark.parametrize("live", [False, True])
def test_only_dead_processes_partials_are_removed(tmp_path, make_image, live):
    src = tmp_path / "src"
    make_image(src / "a.png")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        if not live:
            sleeper.kill()
            sleeper.wait()
        pid = sleeper.pid
        (tmp_path / f".out.zip.partial-{pid}-abc123").write_bytes(b"half a zip")
        (tmp_path / f".out.zip.partial-{pid}-def456").mkdir()  # partial outputs can be folders
        (tmp_path / f".out.partial-{pid}-x").mkdir()  # another destination's
        (tmp_path / f".out.zip.old-{pid}-0a1b2c3d").write_bytes(b"an old dataset")
        (tmp_path / f".other.zip.partial-{pid}-x").write_bytes(b"not ours to judge")
        (tmp_path / ".out.zip.partial-notapid").write_bytes(b"no pid in the name")
        convert_dataset(src, tmp_path / "out.zip", 8, progress=False)
        left = sorted(p.name for p in tmp_path.iterdir())
    finally:
        sleeper.kill()
        sleeper.wait()
    kept = [f".other.zip.partial-{pid}-x", f".out.partial-{pid}-x", ".out.zip.partial-notapid"]
    if live:
        kept += [f".out.zip.partial-{pid}-{s}" for s in ("abc123", "def456")]
        kept += [f".out.zip.old-{pid}-0a1b2c3d"]
    assert left == sorted([*kept, "out.zip", "src"])


def test_a_dataset_folder_a_killed_run_moved_aside_is_moved_back(tmp_path, make_image):
    # A run killed between the two renames of a swap (where renameat2 cannot exchange) leaves
    # the old dataset only under .NAME.old-PID; the next run must put it back, never delete it.
    src = tmp_path / "src"
    make_image(src / "a.png")
    dest = tmp_path / "out"
    convert_dataset(src, dest, 8, progress=False)
    before = sorted(p.relative_to(dest) for p in dest.rglob("*"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    dest.rename(tmp_path / f".out.old-{dead.pid}")
    with pytest.raises(StyleGANError, match="exists; pass --overwrite"):
        convert_dataset(src, dest, 8, progress=False)
    assert sorted(p.relative_to(dest) for p in dest.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]
