"""The one exception type for user mistakes, how an interrupted training ends, and the one way
a full disk becomes a user mistake.

Raise :class:`StyleGANError` when the input is wrong (a missing file, a bad flag, a checkpoint that
does not fit) with a message that says what was wrong and what to do. The CLI prints it as a single
line and exits non-zero; any other exception is a bug and keeps its traceback.

A full disk is the user's to fix too: :func:`is_disk_full`, :func:`free_bytes` and
:func:`format_bytes` are what every writer (images, checkpoints, datasets) words it with.
:class:`TrainingInterrupted` is neither: a run stopped by a signal, its snapshot written.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
from pathlib import Path

# A full disk, or a full quota: the same remedy.
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class StyleGANError(Exception):
    """A user-facing error: the message says what was wrong and what to do about it."""


class TrainingInterrupted(Exception):
    """``train()`` stopped by a signal after writing a resumable snapshot and closing its log.

    The CLI exits with :attr:`exit_code`, as a shell does for a process the signal ended.
    """

    def __init__(self, run_dir: Path, snapshot: Path | None, signal_name: str):
        self.run_dir, self.snapshot, self.signal_name = Path(run_dir), snapshot, signal_name
        self.exit_code = 128 + int(signal.Signals[signal_name])
        super().__init__(
            f"training stopped by {signal_name} (exit status {self.exit_code}); resumable "
            f"snapshot: {snapshot}; continue with: stylegan train --outdir {self.run_dir} "
            "--resume latest"
        )


class ToolTrainingInterrupted(TrainingInterrupted):
    """A tool's training (an encoder, a text mapper, ...) stopped by a signal after writing its
    resumable checkpoint; the message says how to continue."""

    what = "training"

    def __init__(self, outdir: Path | None, snapshot: Path | None, signal_name: str):
        super().__init__(outdir or Path("."), snapshot, signal_name)
        resume = f"; continue with --resume {snapshot}" if snapshot else " (no --outdir: not saved)"
        self.args = (
            f"{self.what} stopped by {signal_name} (exit status {self.exit_code}); "
            f"checkpoint: {snapshot}{resume}",
        )

    def __str__(self) -> str:
        return self.args[0]


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` reports a full disk or quota: by errno, or by the message of writers that
    wrap the OS error in their own exception (safetensors)."""
    if isinstance(err, OSError) and err.errno in _DISK_FULL_ERRNOS:
        return True
    text = str(err)
    return any(os.strerror(code) in text for code in _DISK_FULL_ERRNOS)


def nearest_existing(path: str | os.PathLike) -> Path:
    """``path`` if it exists, else its nearest ancestor that does: where ``mkdir(parents=True)``
    would start, so where permissions and free space are measured before folders are made."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(folder: str | os.PathLike) -> int | None:
    """Free bytes on the file system of ``folder``; None when it cannot be measured."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def format_bytes(num_bytes: float) -> str:
    """A size as people read it in a message: ``1,234.5 MiB``, or ``12.5 KiB`` below a MiB
    (a PNG or a small snapshot would otherwise read "0.0 MiB")."""
    if num_bytes < 2**20:
        return f"{num_bytes / 2**10:,.1f} KiB"
    return f"{num_bytes / 2**20:,.1f} MiB"


def format_free(free: int | None) -> str:
    """``free`` bytes (from :func:`free_bytes`) as ``12.0 MiB free``, or that it is unknown."""
    return "free space unknown" if free is None else f"{format_bytes(free)} free"


def raise_if_disk_full(err: OSError, path, needed_bytes: int | None = None) -> None:
    """Turn a full disk (or quota) while writing ``path`` into one line naming the path and the
    space needed; any other ``OSError`` is left to the caller."""
    if not is_disk_full(err):
        return
    folder = nearest_existing(Path(path).parent)
    need = f"about {format_bytes(needed_bytes)} needed, " if needed_bytes else ""
    raise StyleGANError(
        f"disk full while writing {path} ({need}{format_free(free_bytes(folder))} on {folder}); "
        "free some space or choose another output folder"
    ) from None
