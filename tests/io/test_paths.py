"""Output locations are checked before any work: files where folders go, read-only parents, the
current folder, existing destinations."""

import os

import pytest

from stylegan.errors import StyleGANError
from stylegan.io import paths
from stylegan.io.paths import check_new_destination, check_writable_dir


def test_writable_dir_accepts_new_and_existing_folders(tmp_path):
    assert check_writable_dir(tmp_path) == tmp_path
    assert check_writable_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"  # mkdir -p later


def test_outdir_that_is_a_file_or_lies_under_one_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(StyleGANError, match=r"--outdir .*notes.txt is a file, not a folder"):
        check_writable_dir(tmp_path / "notes.txt", what="--outdir")
    with pytest.raises(StyleGANError, match=r"cannot be created: .*notes.txt is a file"):
        check_writable_dir(tmp_path / "notes.txt" / "run", what="--outdir")


def test_read_only_folder_is_refused(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    real_access = os.access
    # Root (as in CI containers) ignores permission bits; answer as for a regular user.
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if os.fspath(p) == str(locked) else real_access(p, mode)
    )
    try:
        with pytest.raises(StyleGANError, match=r"not writable: this user cannot write in"):
            check_writable_dir(locked / "run", what="--outdir")
        with pytest.raises(StyleGANError, match="destination folder .* not writable"):
            check_new_destination(locked / "net")
    finally:
        locked.chmod(0o755)


def test_current_folder_and_its_parents_are_never_destinations(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for path in (".", "..", str(work), "./"):
        with pytest.raises(StyleGANError, match="current folder or one above it"):
            check_new_destination(path, overwrite=True, replaceable=lambda p: True)
    assert check_new_destination("net") == work.joinpath("net").relative_to(work)


def test_existing_destination_needs_overwrite_and_a_replaceable_kind(tmp_path):
    target = tmp_path / "out.pt"
    target.write_text("x")
    with pytest.raises(
        StyleGANError, match="already exists; choose a new name, or replace it with --overwrite"
    ):
        check_new_destination(target, replaceable=lambda p: True)
    with pytest.raises(StyleGANError, match="is not a torch file; refusing to replace it"):
        check_new_destination(target, True, replaceable=lambda p: False, kind="a torch file")
    assert check_new_destination(target, True, replaceable=lambda p: True) == target
    link = tmp_path / "link.pt"
    link.symlink_to(target)
    with pytest.raises(StyleGANError, match="refusing to replace"):
        check_new_destination(link, True, replaceable=lambda p: True)


def test_read_only_file_system_is_named_as_such(tmp_path, monkeypatch):
    real = os.statvfs

    class ReadOnly:
        def __init__(self, result):
            self._result = result
            self.f_flag = result.f_flag | os.ST_RDONLY

        def __getattr__(self, name):
            return getattr(self._result, name)

    monkeypatch.setattr(paths.os, "statvfs", lambda p: ReadOnly(real(p)))
    with pytest.raises(StyleGANError, match="on a read-only file system; choose another"):
        paths.check_writable_dir(tmp_path / "out", what="--outdir")
