"""The base helpers every writer shares: the one-step replace (stylegan.files) and the one way a
full disk is recognised and worded (stylegan.errors)."""

import errno
import os
import subprocess

import pytest

from stylegan import files
from stylegan.errors import (
    StyleGANError,
    format_bytes,
    format_free,
    free_bytes,
    is_disk_full,
    nearest_existing,
    raise_if_disk_full,
)


def dead_pid() -> int:
    """The id of a process that has just exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("use_exchange", [True, False], ids=["renameat2", "two-renames"])
@pytest.mark.parametrize("old_kind", ["file", "folder"])
def test_commit_puts_a_folder_in_place_of_a_file_or_a_folder(
    tmp_path, monkeypatch, use_exchange, old_kind
):
    if not use_exchange:
        monkeypatch.setattr(files, "exchange", lambda a, b: False)
    dest = tmp_path / "out"
    if old_kind == "file":
        dest.write_bytes(b"old")
    else:
        dest.mkdir()
        (dest / "old.txt").write_bytes(b"old")
    tmp = files.temporary_path(dest)
    tmp.mkdir()
    (tmp / "new.txt").write_bytes(b"new")
    files.commit(tmp, dest, overwrite=True)
    files.remove_path(tmp)  # what the caller does: the old data, where a swap left it
    assert [p.name for p in dest.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_commit_without_overwrite_never_replaces(tmp_path):
    dest = tmp_path / "out.zip"
    dest.write_bytes(b"old")
    tmp = files.temporary_path(dest)
    tmp.write_bytes(b"new")
    with pytest.raises(StyleGANError, match="appeared while it was being written"):
        files.commit(tmp, dest, overwrite=False)
    assert dest.read_bytes() == b"old"


def test_process_alive_tells_the_living_from_the_dead():
    assert files.process_alive(os.getpid())
    assert not files.process_alive(dead_pid())


def test_disk_full_is_recognised_by_errno_or_by_the_message():
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert is_disk_full(RuntimeError(f"write failed: {os.strerror(errno.ENOSPC)}"))  # safetensors
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(RuntimeError("file write failed"))


def test_free_space_is_measured_where_the_folders_will_be(tmp_path):
    assert nearest_existing(tmp_path / "not" / "yet" / "made.png") == tmp_path
    assert nearest_existing(tmp_path) == tmp_path
    assert free_bytes(tmp_path) > 0
    assert free_bytes(tmp_path / "missing") is None
    assert format_bytes(1536 * 2**20) == "1,536.0 MiB"
    assert format_bytes(12_800) == "12.5 KiB"  # small files read as what they are, not 0.0 MiB
    assert format_free(None) == "free space unknown"
    assert format_free(2**20) == "1.0 MiB free"


def test_raise_if_disk_full_names_path_need_and_free_space(tmp_path):
    target = tmp_path / "a" / "b.png"
    with pytest.raises(StyleGANError, match=r"b\.png \(about 2\.0 MiB needed, .* MiB free on "):
        raise_if_disk_full(OSError(errno.ENOSPC, "full"), target, needed_bytes=2 * 2**20)
    raise_if_disk_full(OSError(errno.EACCES, "denied"), target)  # not ours: left to the caller
