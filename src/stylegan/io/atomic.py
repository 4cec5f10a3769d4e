"""Writing outputs so that a crash, Ctrl-C, ``kill -9`` or a full disk never loses one.

Everything is written to a hidden temporary ``.NAME.tmp-PID`` beside its destination and moved
into place in one step. A folder that already exists is swapped with the new one atomically
(``renameat2(RENAME_EXCHANGE)`` on Linux); where that is unavailable the old folder is first
moved aside to ``.NAME.old-PID``, which :func:`recover_interrupted_swap` moves back if the
process died before the new folder took its place. Temporaries of dead processes are removed by
:func:`clean_stale_temporaries` when the next writer starts in that folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
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
    if not dest.is_dir() or dest.is_symlink():
        os.replace(tmp, dest)  # atomic for files, and for a folder onto nothing
        return
    if exchange(tmp, dest):
        return
    # Portable fallback: between these two renames only .NAME.old-PID holds the checkpoint;
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


def clean_stale_temporaries(folder: str | Path) -> list[Path]:
    """Recover interrupted swaps, then delete ``.NAME.tmp-PID`` left by dead processes.

    Each can be a whole checkpoint left by ``kill -9``; those of live processes (a writer at
    work) are never touched, nor anything whose content is not of a kind we write (another
    program may name its temporaries alike). Returns the paths removed.
    """
    folder = Path(folder)
    recover_interrupted_swap(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in folder.iterdir():
        match = TEMPORARY_PATTERN.match(entry.name)
        if not (match and match["kind"] == "tmp") or process_alive(int(match["pid"])):
            continue
        if _written_by_us(entry):
            remove_path(entry)
            removed.append(entry)
    return removed


def _written_by_us(path: Path) -> bool:
    """Whether a (possibly partial) temporary holds only data of the kinds our writers write:
    safetensors, ``torch.save`` zips, pickles, JSON; a folder only such files."""
    if path.is_symlink():
        return False
    if path.is_dir():
        return all(
            p.is_file() and not p.is_symlink() and (p.suffix == ".json" or _written_by_us(p))
            for p in path.iterdir()
        )
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        head = f.read(9)
    if not head:  # died right after creating it: nothing to lose
        return True
    from stylegan.io.formats import ZIP_MAGIC  # torch.save

    # safetensors: an 8-byte little-endian header length, then the JSON header
    safetensors = len(head) == 9 and head[8:9] == b"{"
    return safetensors or head.startswith(ZIP_MAGIC) or head[:1] == b"\x80"  # pickle >= 2


def _mib(num_bytes: float) -> str:
    return f"{num_bytes / 2**20:,.1f} MiB"


def _free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def _disk_full_error(path: Path, needed_bytes: int) -> StyleGANError:
    free = _free_bytes(path.parent)
    return StyleGANError(
        f"not enough disk space to write {path}: it needs about {_mib(needed_bytes)}, "
        f"{_mib(free)} free there; free at least {_mib(max(needed_bytes - free, 0))} or choose "
        "another destination (nothing was changed)"
    )


def _is_disk_full(err: BaseException, folder: Path, needed_bytes: int) -> bool:
    """Whether a write failed for lack of space: by errno, by the message of writers that wrap
    the OS error (safetensors), or because less than the whole file now fits (``torch.save``
    only says "file write failed")."""
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(err)
    if any(s in text for s in (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT))):
        return True
    try:
        return isinstance(err, (OSError, RuntimeError)) and _free_bytes(folder) < needed_bytes
    except OSError:
        return False


def write_atomically(
    path: str | Path,
    write: Callable[[Path], None],
    needed_bytes: int,
    overwrite: bool = False,
    folder: bool = False,
) -> Path:
    """Call ``write(tmp)`` on a temporary beside ``path`` (a new folder when ``folder``), then
    move it into place; on any failure ``path`` is as before and no temporary is left.

    ``needed_bytes`` (the data's size) is checked against the free space first, and a full
    disk during the write becomes a one-line :class:`StyleGANError`. Whether ``path`` may be
    replaced at all is the caller's decision (:func:`stylegan.io.paths.check_new_destination`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(path.parent)
    if _free_bytes(path.parent) < needed_bytes:
        raise _disk_full_error(path, needed_bytes)
    tmp = temporary_path(path)
    remove_path(tmp)
    try:
        with _disk_full_as_error(path, needed_bytes, tmp):
            if folder:
                tmp.mkdir()
            write(tmp)
        commit(tmp, path, overwrite)
    finally:
        remove_path(tmp)  # unfinished data, or the old folder an exchange left here
    return path


@contextlib.contextmanager
def _disk_full_as_error(path: Path, needed_bytes: int, tmp: Path) -> Iterator[None]:
    try:
        yield
    except Exception as err:
        if not _is_disk_full(err, path.parent, needed_bytes):
            raise
        remove_path(tmp)  # before measuring, so the message counts the space it held
        raise _disk_full_error(path, needed_bytes) from None
