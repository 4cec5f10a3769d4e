"""Writing outputs so that a crash, Ctrl-C, ``kill -9`` or a full disk never loses one.

Everything is written to a hidden temporary ``.NAME.tmp-PID`` beside its destination and moved
into place in one step by :func:`stylegan.files.commit` (an existing folder is swapped; see
there). Temporaries of dead processes, and swaps they left half done, are cleaned up by
:func:`clean_stale_temporaries` when the next writer starts in that folder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from stylegan.errors import StyleGANError, format_bytes, format_free, free_bytes, is_disk_full

# The swap itself lives in the base layer, shared with the dataset tool; these names stay part
# of this module's interface (and are what its writers look up, so tests can replace them here).
from stylegan.files import (  # noqa: F401
    TEMPORARY_PATTERN,
    commit,
    exchange,
    process_alive,
    recover_interrupted_swap,
    remove_path,
    temporary_path,
)


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


def _disk_full_error(path: Path, needed_bytes: int) -> StyleGANError:
    free = free_bytes(path.parent)
    short = "" if free is None else f"free at least {format_bytes(max(needed_bytes - free, 0))} or "
    return StyleGANError(
        f"not enough disk space to write {path}: it needs about {format_bytes(needed_bytes)}, "
        f"{format_free(free)} there; {short}choose another destination (nothing was changed)"
    )


def _is_disk_full(err: BaseException, folder: Path, needed_bytes: int) -> bool:
    """Whether a write failed for lack of space: as :func:`stylegan.errors.is_disk_full` tells,
    or because less than the whole file now fits (``torch.save`` only says "file write
    failed")."""
    if is_disk_full(err):
        return True
    return isinstance(err, (OSError, RuntimeError)) and _lacks_space(folder, needed_bytes)


def _lacks_space(folder: Path, needed_bytes: int) -> bool:
    """Whether ``folder`` has measurably less free space than ``needed_bytes``."""
    free = free_bytes(folder)
    return free is not None and free < needed_bytes


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
    if _lacks_space(path.parent, needed_bytes):
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
