"""Reading the files of a folder or zip with limits, so hostile input can neither hang nor exhaust
memory.

Both the dataset tool (converting arbitrary images) and :class:`~stylegan.data.ImageDataset`
(training) read through :class:`FileReader`, so every guard lives here once: only regular files
are read (a FIFO named ``x.png`` would block forever, a link to ``/dev/zero`` never ends), a file
or zip member larger than :data:`MAX_FILE_BYTES` (or a zip member that inflates more than
:data:`MAX_COMPRESSION_RATIO` times past :data:`RATIO_FREE_BYTES`) is refused before it is
decompressed, and :func:`open_image` refuses pictures over :data:`MAX_IMAGE_PIXELS` before
decoding them.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import warnings
import zipfile
from pathlib import Path
from typing import BinaryIO

from PIL import Image

# 256 MiB: an uncompressed 8192x8192 RGBA image (the largest that :data:`MAX_IMAGE_PIXELS` lets
# through) with room to spare; nothing a dataset needs comes near it.
MAX_FILE_BYTES = 256 << 20
# Images are stored compressed already, so a member that inflates 100-fold is a zip bomb ...
MAX_COMPRESSION_RATIO = 100
# ... unless it is small: a flat-colour BMP or a dataset.json legitimately inflates a lot.
RATIO_FREE_BYTES = 16 << 20
# 8192x8192 = 2**26 pixels, the largest --resolution. Decoding converts through float32 and RGBA
# copies (about 16 bytes a pixel at the peak), so this bounds one image at about 1 GiB. It is
# below Pillow's own decompression-bomb limit (~89 Mpx), which stays as a second guard.
MAX_IMAGE_PIXELS = 1 << 26

_ZIP_ERRORS = (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError)
_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


class UnreadableFile(Exception):
    """This file cannot be read safely or at all; the message says why (for a skip list)."""


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


def is_regular_file(path: Path) -> bool:
    """True if ``path`` (following links) is a regular file, never blocking on FIFOs."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def open_regular_file(path: Path, limit: int = MAX_FILE_BYTES) -> BinaryIO:
    """``path`` opened for reading if it is a regular file of at most ``limit`` bytes, else
    :class:`UnreadableFile`.

    A link to a regular file is fine; a link to a device or FIFO is not. The type is checked
    before opening (opening some devices has effects) and again on the open descriptor, which is
    opened non-blocking so a FIFO swapped in between cannot hang the read.
    """
    try:
        _require_regular(os.stat(path).st_mode)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError as err:
        raise UnreadableFile("missing or a broken link") from err
    except PermissionError as err:
        raise UnreadableFile("permission denied") from err
    except OSError as err:
        raise UnreadableFile(f"cannot open: {err.strerror or err}") from err
    f = os.fdopen(fd, "rb")
    try:
        info = os.fstat(f.fileno())
        _require_regular(info.st_mode)
        if info.st_size > limit:
            raise UnreadableFile(f"file of {_mib(info.st_size)} is over the {_mib(limit)} limit")
    except BaseException:
        f.close()
        raise
    return f


def read_regular_file(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path`` through :func:`open_regular_file`'s guards."""
    with open_regular_file(path, limit) as f:
        return _read_at_most(f, limit)


def _read_at_most(f: BinaryIO, limit: int) -> bytes:
    data = f.read(limit + 1)  # a file growing, or a zip header lying, is still bounded
    if len(data) > limit:
        raise UnreadableFile(f"over the {_mib(limit)} limit")
    return data


def _require_regular(mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "special")
        raise UnreadableFile(f"not a regular file ({kind})")


def check_zip_member(info: zipfile.ZipInfo, limit: int = MAX_FILE_BYTES) -> None:
    """Refuse a member whose declared size is too large or that inflates like a zip bomb."""
    if info.file_size > limit:
        raise UnreadableFile(
            f"zip member of {_mib(info.file_size)} is over the {_mib(limit)} limit"
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_FREE_BYTES and ratio > MAX_COMPRESSION_RATIO:
        raise UnreadableFile(
            f"zip member inflates {ratio:.0f}-fold (over {MAX_COMPRESSION_RATIO}x), a zip bomb"
        )


class FileReader:
    """The files of a folder (recursive) or a zip, each read through the guards above.

    The zip handle is opened per process on first use: one inherited through ``fork`` shares its
    file offset with the parent, so DataLoader workers must not reuse it. Pickling drops it.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.is_zip = not self.path.is_dir()
        self._zip: zipfile.ZipFile | None = None
        self._zip_pid: int | None = None

    def _get_zip(self) -> zipfile.ZipFile:
        pid = os.getpid()
        if self._zip is None or self._zip_pid != pid:
            # A FIFO or device as the source would block or never end inside ZipFile.
            if not is_regular_file(self.path):
                raise zipfile.BadZipFile("not a regular file")
            self._zip = zipfile.ZipFile(self.path)
            self._zip_pid = pid
        return self._zip

    def names(self) -> list[str]:
        """Every file (not folder) as a relative POSIX path, unsorted.

        Raises ``zipfile.BadZipFile`` or ``OSError`` for a source that is no readable zip.
        """
        if self.is_zip:
            return [n for n in self._get_zip().namelist() if not n.endswith("/")]
        names = []
        for folder, _dirs, files in os.walk(self.path):
            rel = Path(folder).relative_to(self.path)
            names.extend((rel / f).as_posix() for f in files)
        return names

    def open(self, name: str, limit: int = MAX_FILE_BYTES) -> BinaryIO:
        """File ``name`` opened for reading (e.g. just its header), or :class:`UnreadableFile`."""
        if not self.is_zip:
            return open_regular_file(self.path / name, limit)
        archive = self._get_zip()
        try:
            info = archive.getinfo(name)
        except KeyError as err:
            raise UnreadableFile("missing from the zip") from err
        check_zip_member(info, limit)
        try:
            return archive.open(info)
        except _ZIP_ERRORS as err:
            raise UnreadableFile(f"damaged zip member: {err}") from err

    def read(self, name: str, limit: int = MAX_FILE_BYTES) -> bytes:
        """The bytes of file ``name``, or :class:`UnreadableFile` saying why not."""
        try:
            with self.open(name, limit) as f:
                return _read_at_most(f, limit)
        except _ZIP_ERRORS as err:
            raise UnreadableFile(f"damaged file: {err}") from err

    def close(self) -> None:
        """Close the zip handle of this process (it reopens on the next read)."""
        if self._zip is not None:
            with contextlib.suppress(Exception):
                self._zip.close()
        self._zip, self._zip_pid = None, None

    def __getstate__(self) -> dict:
        return dict(self.__dict__, _zip=None, _zip_pid=None)

    def __enter__(self) -> FileReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_image(data: bytes | BinaryIO) -> Image.Image:
    """Open (not decode) an image, refusing one over :data:`MAX_IMAGE_PIXELS`.

    Raises :class:`UnreadableFile` for data Pillow cannot identify or that is too large; the
    header alone gives the size, so nothing big is allocated before the check.
    """
    try:
        with warnings.catch_warnings():
            # Our limit is below Pillow's warning threshold, so its warning would only repeat it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
    except Image.DecompressionBombError as err:
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)  # where Pillow's warning becomes an error
        raise UnreadableFile(
            f"too many pixels: over Pillow's decompression-bomb limit of {limit:,}"
        ) from err
    except Exception as err:  # Pillow reports damaged headers with many exception types
        raise UnreadableFile("not a readable image") from err
    width, height = img.size
    if width * height > MAX_IMAGE_PIXELS:
        img.close()
        raise UnreadableFile(
            f"{width}x{height} is over the {MAX_IMAGE_PIXELS:,}-pixel limit (8192x8192); "
            "downscale it first"
        )
    return img
