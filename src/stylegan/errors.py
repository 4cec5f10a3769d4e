"""The one exception type for user mistakes.

Raise :class:`StyleGANError` when the input is wrong (a missing file, a bad flag, a checkpoint that
does not fit) with a message that says what was wrong and what to do. The CLI prints it as a single
line and exits non-zero; any other exception is a bug and keeps its traceback.
"""


class StyleGANError(Exception):
    """A user-facing error: the message says what was wrong and what to do about it."""


def raise_if_disk_full(err: OSError, path, needed_bytes: int | None = None) -> None:
    """Turn a full disk (or quota) while writing ``path`` into one line naming the path and the
    space needed; any other ``OSError`` is left to the caller."""
    import errno
    import shutil
    from pathlib import Path

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
