"""The one exception type for user mistakes, and how an interrupted training ends.

Raise :class:`StyleGANError` when the input is wrong (a missing file, a bad flag, a checkpoint that
does not fit) with a message that says what was wrong and what to do. The CLI prints it as a single
line and exits non-zero; any other exception is a bug and keeps its traceback.
:class:`TrainingInterrupted` is neither: a run stopped by a signal, its snapshot written.
"""

import signal
from pathlib import Path


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


def raise_if_disk_full(err: OSError, path, needed_bytes: int | None = None) -> None:
    """Turn a full disk (or quota) while writing ``path`` into one line naming the path and the
    space needed; any other ``OSError`` is left to the caller."""
    import errno
    import shutil

    if err.errno not in (errno.ENOSPC, errno.EDQUOT):
        return
    folder = Path(path).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = f"{shutil.disk_usage(folder).free / 2**20:.1f} MiB free"
    except OSError:
        free = "free space unknown"
    need = f"about {needed_bytes / 2**20:.1f} MiB needed, " if needed_bytes else ""
    raise StyleGANError(
        f"disk full while writing {path} ({need}{free} on {folder}); free some space or "
        "choose another output folder"
    ) from None
