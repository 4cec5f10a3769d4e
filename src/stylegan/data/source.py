"""The source of :func:`~stylegan.data.dataset_tool.convert_dataset`: a folder or zip, listed.

Images are listed in the order NVIDIA's tool reads them, and read through
:class:`~stylegan.data.reader.FileReader`, whose guards turn hostile files into skip reasons.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from stylegan.data.dataset import is_image_name, is_junk_name
from stylegan.data.image_convert import _TRANSFORM_HINT
from stylegan.data.reader import FileReader, open_image
from stylegan.errors import StyleGANError


class _Source:
    """The images of a folder (recursive) or zip, in the order NVIDIA's tool reads them.

    Reads go through :class:`~stylegan.data.reader.FileReader`, whose guards (regular files only,
    size and zip-bomb limits) turn hostile files into skip reasons.
    """

    def __init__(self, path: Path, ignore: list):
        self.path = path
        self._files = FileReader(path)
        try:
            names = self._files.names()
        except (zipfile.BadZipFile, OSError) as err:
            raise StyleGANError(
                f"source {path} is neither a folder nor a readable .zip of images ({err})"
            ) from err
        if self._files.is_zip:
            names.sort()
            ignored = set()
        else:
            # NVIDIA's tool sorts pathlib paths, i.e. component by component.
            names.sort(key=lambda n: PurePosixPath(n).parts)
            ignored = {_relative_name(Path(p), path) for p in ignore}
        self.has_metadata = "dataset.json" in names
        self.image_names = []
        self.skipped = []
        for name in names:
            if is_junk_name(name) or name == "dataset.json" or name in ignored:
                continue
            if is_image_name(name):
                self.image_names.append(name)
            else:
                self.skipped.append((name, "not an image file"))
        if not self.image_names:
            raise StyleGANError(
                f"source {path} contains no image files; pass a folder or .zip of PNG, JPEG, "
                "... images"
            )

    def read(self, name: str) -> bytes:
        """The bytes of ``name``, or :class:`UnreadableFile` (a skip reason)."""
        return self._files.read(name)

    def open(self, name: str):
        """``name`` opened for reading its header, or :class:`UnreadableFile`."""
        return self._files.open(name)

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc) -> None:
        self._files.close()


def _relative_name(path: Path, root: Path) -> str | None:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def _require_square(src: _Source) -> None:
    """Without a transform every image must be square; say so before converting anything."""
    bad = []
    for name in src.image_names:
        try:
            with src.open(name) as f, open_image(f) as img:
                size = img.size
        except Exception:  # unreadable files are reported as skipped later
            continue
        if size[0] != size[1]:
            bad.append((name, size))
    if bad:
        name, (w, h) = bad[0]
        raise StyleGANError(
            f"{len(bad)} of {len(src.image_names)} images are not square (e.g. {name} is "
            f"{w}x{h}); choose how to make them square: {_TRANSFORM_HINT}"
        )
