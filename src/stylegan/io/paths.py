"""Where outputs may go, checked before any work starts, so a mistake costs no time or data.

Commands call :func:`check_writable_dir` for a folder they write into (``--outdir``) and
:func:`check_new_destination` for a file or folder they create whole (a checkpoint): a file
where a folder should be, a read-only parent, the current folder or an existing destination
are refused with one line, and nothing but what the caller recognises as its own kind of output
is ever replaced.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from stylegan.errors import StyleGANError, nearest_existing


def check_writable_dir(path: str | Path, what: str = "output folder") -> Path:
    """``path`` as a Path if it is, or can be created as, a folder this user can write in."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise StyleGANError(f"{what} {path} is a file, not a folder; give a folder path")
    existing = nearest_existing(path.absolute())
    if not existing.is_dir():
        raise StyleGANError(
            f"{what} {path} cannot be created: {existing} is a file, not a folder; "
            "give another location"
        )
    if _read_only_file_system(existing):
        raise StyleGANError(
            f"{what} {path} cannot be written: {existing} is on a read-only file system; "
            "choose another location"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise StyleGANError(
            f"{what} {path} is not writable: this user cannot write in {existing}; "
            "choose another location or change its permissions"
        )
    return path


def _read_only_file_system(folder: Path) -> bool:
    """Whether ``folder`` lies on a file system mounted read-only (no permission change helps)."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # AttributeError: no statvfs (Windows)
        return False


def check_new_destination(
    path: str | Path,
    overwrite: bool = False,
    replaceable: Callable[[Path], bool] | None = None,
    kind: str = "an output of this command",
) -> Path:
    """``path`` as a Path if a file or folder may be written there whole.

    It must not be the current folder or one above it, its parent must be writable, and if it
    exists it is replaced only with ``overwrite`` and only when ``replaceable(path)`` says it
    is ``kind`` (e.g. one of our checkpoints with nothing else in it).
    """
    path = Path(path).expanduser()
    resolved = path.resolve()
    here = Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        raise StyleGANError(
            f"{path} is the current folder or one above it, never replaced by an output; "
            f"give a new name inside it, e.g. {path / 'out'}"
        )
    check_writable_dir(path.parent, what="destination folder")
    if not (path.exists() or path.is_symlink()):
        return path
    if not overwrite:
        raise StyleGANError(
            f"{path} already exists; choose a new name, or replace it with --overwrite "
            "(overwrite=True in Python)"
        )
    if path.is_symlink() or replaceable is None or not replaceable(path):
        raise StyleGANError(
            f"{path} exists and is not {kind}; refusing to replace it even with --overwrite "
            "(nothing was changed); choose a new name"
        )
    return path
