"""The output of :func:`~stylegan.data.dataset_tool.convert_dataset`: a zip or folder, at once.

The dataset is built under a temporary name beside the destination (``.NAME.partial-PID-...``)
and put in place at the end by :func:`stylegan.files.commit`. Partial outputs of killed runs are
removed by the next run for the same destination, once their process is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import zipfile
from pathlib import Path

from stylegan.files import commit, process_alive, recover_interrupted_swap, remove_path

IMAGES_PER_FOLDER = 1000
# A fixed timestamp makes the same input always give a byte-identical zip.
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


def archive_name(index: int) -> str:
    """NVIDIA's name for the ``index``-th image: ``00001/img00001234.png``."""
    return f"{index // IMAGES_PER_FOLDER:05d}/img{index:08d}.png"


def _partial_prefix(dest: Path) -> str:
    # The writer's pid is in the name, so a later run can tell a dead run's leftovers from a
    # conversion still going on in another process.
    return f".{dest.name}.partial-{os.getpid()}-"


def remove_stale_partials(dest: Path) -> list[Path]:
    """Remove the temporary outputs that killed runs for ``dest`` left behind; return them.

    Only names carrying the pid of a process that no longer exists are removed: a live
    process's partial output (another conversion to the same place) is never touched. A dataset
    folder that a killed run had moved aside (``.NAME.old-PID``) is first moved back.
    """
    parent = dest.absolute().parent
    recover_interrupted_swap(parent)
    # ``.NAME.old-PID-HEX``: what runs before the shared swap moved aside.
    pattern = re.compile(rf"\.{re.escape(dest.name)}\.(?:partial|old)-(\d+)-[^/]*")
    removed = []
    with contextlib.suppress(OSError):
        for entry in parent.iterdir():
            match = pattern.fullmatch(entry.name)
            if match and not process_alive(int(match[1])):
                remove_path(entry)
                removed.append(entry)
    return removed


class _Writer:
    """Writes the dataset under a temporary name beside ``dest``; ``commit`` renames it."""

    def __init__(self, dest: Path, as_zip: bool):
        self.dest = dest
        self.bytes_written = 0
        dest.parent.mkdir(parents=True, exist_ok=True)
        prefix = _partial_prefix(dest)
        umask = _current_umask()
        if as_zip:
            fd, temp = tempfile.mkstemp(prefix=prefix, dir=dest.parent)
            os.close(fd)
            os.chmod(temp, 0o666 & ~umask)
            self.temp = Path(temp)
            self._zip = zipfile.ZipFile(self.temp, "w", compression=zipfile.ZIP_STORED)
        else:
            self.temp = Path(tempfile.mkdtemp(prefix=prefix, dir=dest.parent))
            os.chmod(self.temp, 0o777 & ~umask)
            self._zip = None

    def write(self, name: str, data: bytes) -> None:
        self.bytes_written += len(data)
        if self._zip is not None:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE_TIME)
            info.external_attr = 0o644 << 16
            self._zip.writestr(info, data, compress_type=zipfile.ZIP_STORED)
        else:
            path = self.temp / name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)

    def commit(self, replace: bool) -> None:
        """Put the finished output in ``dest``'s place in one step; an existing ``dest`` only
        when ``replace`` (then an old dataset folder is swapped with it where the system can)."""
        if self._zip is not None:
            self._zip.close()
            self._zip = None
        commit(self.temp, self.dest, overwrite=replace)
        remove_path(self.temp)  # the old dataset, where a swap left it here
        self.temp = None

    def discard(self) -> None:
        """Remove the temporary output if it was not committed (error or Ctrl-C)."""
        if self._zip is not None:
            with contextlib.suppress(Exception):
                self._zip.close()
            self._zip = None
        if self.temp is not None:
            remove_path(self.temp)
            self.temp = None


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
