"""Replacing a file or folder in one step, so that a crash, Ctrl-C or ``kill -9`` never loses it.

The base of :mod:`stylegan.io.atomic` (checkpoints) and :mod:`stylegan.data.writer`
(datasets), which may not import each other. A folder that already exists is swapped with the
new one atomically (``renameat2(RENAME_EXCHANGE)`` on Linux); where that is unavailable the old
one is first moved aside to ``.NAME.old-PID``, which :func:`recover_interrupted_swap` moves back
if the process died before the new folder took its place.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import sys
from pathlib import Path

from stylegan.errors import StyleGANError

# ``.NAME.tmp-PID`` (being written) and ``.NAME.old-PID`` (moved aside during a swap).
TEMPORARY_PATTERN = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)$")

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2


def temporary_path(path: Path, kind: str = "tmp") -> Path:
    """The hidden name this process uses beside ``path`` while writing (``tmp``) or swapping
    (``old``); :data:`TEMPORARY_PATTERN` recognises it later."""
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}")


def process_alive(pid: int) -> bool:
    """Whether ``pid`` may still be running; when unsure, yes (its files are then left alone)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":  # os.kill(pid, 0) would signal the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: alive, owned by someone else
        return True
    return True


def remove_path(path: Path) -> None:
    """Delete a file or folder tree if it exists (a symlink itself, never its target)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _renameat2(src: Path, dest: Path, flags: int) -> bool:
    """``renameat2(src, dest, flags)``; False where the system or file system lacks it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.renameat2
    except (OSError, AttributeError):  # no glibc >= 2.28 (e.g. musl)
        return False
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    call.restype = ctypes.c_int
    if call(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dest), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # e.g. a network file system without the flag
    raise OSError(code, os.strerror(code), str(src), None, str(dest))


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step; False where the system cannot."""
    return _renameat2(a, b, _RENAME_EXCHANGE)


def commit(tmp: Path, dest: Path, overwrite: bool) -> None:
    """Move finished ``tmp`` to ``dest`` so that at every instant ``dest`` is complete.

    Without ``overwrite`` an existing ``dest`` (even one that appeared while ``tmp`` was being
    written) is never replaced. An existing folder is exchanged with ``tmp`` atomically where
    possible; ``tmp`` then holds the old folder for the caller to delete.
    """
    if not overwrite:
        try:
            if _renameat2(tmp, dest, _RENAME_NOREPLACE):
                return
        except FileExistsError:
            pass
        if dest.exists() or dest.is_symlink():
            raise StyleGANError(
                f"{dest} appeared while it was being written; nothing was replaced, "
                "choose another name or pass --overwrite"
            )
        os.replace(tmp, dest)
        return
    dest_is_folder = dest.is_dir() and not dest.is_symlink()
    if not dest_is_folder and (not tmp.is_dir() or not os.path.lexists(dest)):
        os.replace(tmp, dest)  # atomic for a file, and for a folder onto nothing
        return
    # A folder onto anything, or anything onto a folder: rename cannot, a swap can.
    if exchange(tmp, dest):
        return
    # Portable fallback: between these two renames only .NAME.old-PID holds the old data;
    # recover_interrupted_swap moves it back if this process dies there.
    old = temporary_path(dest, "old")
    remove_path(old)
    os.rename(dest, old)
    try:
        os.rename(tmp, dest)
    except BaseException:
        os.rename(old, dest)
        raise
    remove_path(old)


def recover_interrupted_swap(folder: str | Path) -> list[Path]:
    """Finish swaps that dead processes left half done in ``folder``; the paths moved back.

    ``.NAME.old-PID`` whose process is gone is moved back to ``NAME`` when ``NAME`` is missing
    (the new one never arrived), and removed when ``NAME`` exists (the swap had finished).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        match = TEMPORARY_PATTERN.match(entry.name)
        if not (match and match["kind"] == "old" and entry.is_dir() and not entry.is_symlink()):
            continue
        if not process_alive(int(match["pid"])):
            found.append((entry.stat().st_mtime, entry, folder / match["name"]))
    restored = []
    for _, entry, final in sorted(found, reverse=True):  # newest first, should there be several
        if final.exists() or final.is_symlink():
            remove_path(entry)
            continue
        try:
            os.rename(entry, final)
        except FileNotFoundError:  # another process (e.g. a second rank) recovered it first
            continue
        except OSError:  # ``final`` appeared meanwhile: the swap it belonged to is over
            remove_path(entry)
            continue
        restored.append(final)
    return restored
