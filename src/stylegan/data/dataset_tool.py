"""Turn a folder or zip of arbitrary images into a training dataset in NVIDIA's layout.

The output (a ``.zip`` or a folder) holds ``00000/img00000000.png`` ... (1,000 images per folder)
and ``dataset.json`` with ``{"labels": [[file name, label], ...]}`` or ``{"labels": null}``, exactly
what NVIDIA's ``dataset_tool.py`` writes, so either project's training code reads it. Output images
are always 3-channel RGB PNGs: greyscale, palette and CMYK inputs are converted, transparent ones
composited onto ``background``.

Unreadable files are skipped and listed in the :class:`ConversionReport`, and so are hostile ones:
files are read through :mod:`stylegan.data.reader`, which accepts regular files only (a FIFO or a
link to ``/dev/zero`` is skipped, never read) and caps file sizes, zip-member inflation and pixel
counts. Mistakes in the request (missing source, bad resolution, non-square images without a
transform, a destination that exists, cannot be written or lies inside the source, labels that
contradict themselves) raise :class:`~stylegan.errors.StyleGANError` before anything is written.

The output appears all at once: it is built under a temporary name beside the destination
(``.NAME.partial-PID-...``) and put in place at the end by :func:`stylegan.files.commit`, which
swaps an existing dataset folder in one step; a full disk removes it and says how much space is
needed. Partial outputs of killed runs are removed by the next run for the same destination, once
their process is gone, and a dataset folder such a run had moved aside is moved back.

This module is the driver and the checks of the request; the parts live beside it:
:mod:`~stylegan.data.source` (listing and reading the source), :mod:`~stylegan.data.labels`,
:mod:`~stylegan.data.image_convert` (decode, RGB, resize, PNG) and :mod:`~stylegan.data.writer`
(the zip or folder output, partials).
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageColor
from tqdm import tqdm

from stylegan.data.image_convert import _encode_png, _load_rgb, _SkipImage, _transform
from stylegan.data.labels import _label_dim, _resolve_labels
from stylegan.data.reader import is_regular_file
from stylegan.data.source import _require_square, _Source
from stylegan.data.writer import _Writer, archive_name, remove_stale_partials
from stylegan.errors import (
    StyleGANError,
    format_bytes,
    format_free,
    free_bytes,
    is_disk_full,
    nearest_existing,
)

TRANSFORMS = ("center-crop", "center-crop-wide", "pad")
RESIZE_FILTERS = {"box": Image.Resampling.BOX, "lanczos": Image.Resampling.LANCZOS}
# 8192 is 8x the largest official StyleGAN (1024): one RGB image is 192 MiB, a batch of them does
# not fit on any GPU, and 65536 would need 12 GiB for a single image before anything trains.
MAX_RESOLUTION = 8192


@dataclass
class ConversionReport:
    """What :func:`convert_dataset` did: images written, files skipped (with why), labels."""

    dest: Path
    written: int
    skipped: list[tuple[str, str]] = field(default_factory=list)
    label_dim: int = 0
    resolution: int = 0
    class_names: list[str] | None = None

    def summary(self, max_reasons: int = 3) -> str:
        """One line for the user: counts, the first few skip reasons, the destination."""
        if self.class_names is not None:
            labels = f", {self.label_dim} classes"
        elif self.label_dim:
            labels = f", label_dim {self.label_dim}"
        else:
            labels = ", no labels"
        line = (
            f"wrote {self.written} images ({self.resolution}x{self.resolution} RGB{labels}) "
            f"to {self.dest}"
        )
        if self.skipped:
            shown = [f"{path} ({reason})" for path, reason in self.skipped[:max_reasons]]
            if len(self.skipped) > max_reasons:
                shown.append(f"and {len(self.skipped) - max_reasons} more")
            line += f"; skipped {len(self.skipped)}: " + "; ".join(shown)
        return line


def convert_dataset(
    source: str | os.PathLike,
    dest: str | os.PathLike,
    resolution: int | str | tuple[int, int],
    transform: str | None = None,
    resize_filter: str = "lanczos",
    labels: str | os.PathLike | Mapping | None = None,
    background: str | tuple[int, int, int] = (255, 255, 255),
    overwrite: bool = False,
    progress: bool = True,
    png_compression: int = 0,
) -> ConversionReport:
    """Convert the images in ``source`` (folder or zip) to a dataset ``dest`` (``.zip`` or folder).

    ``resolution``: output size N (a power of two), or ``(W, H)`` / ``"WxH"`` for
    ``transform="center-crop-wide"``. ``transform``: None (square inputs only), ``"center-crop"``,
    ``"center-crop-wide"`` or ``"pad"``. ``labels``: None (use ``dataset.json`` in the source if
    any), ``"folders"`` (top-level sub-folder = class), a UTF-8 CSV of ``file,label`` rows, or a
    mapping from file name to label; class names map to their sorted index, integer classes stay
    (negative ones, integers mixed with names, and one file given two labels are refused).
    ``png_compression`` is the zlib level 0-9 (0, NVIDIA's choice, decodes fastest; 9 is
    smallest).
    """
    width, height = _parse_resolution(resolution, transform)
    if resize_filter not in RESIZE_FILTERS:
        raise StyleGANError(
            f"unknown resize filter {resize_filter!r}; use one of {', '.join(RESIZE_FILTERS)}"
        )
    if not 0 <= png_compression <= 9:
        raise StyleGANError(f"png_compression must be 0-9, got {png_compression}")
    background = parse_color(background)
    source, dest = Path(source), Path(dest)
    dest_is_zip = dest.suffix.lower() == ".zip"
    remove_stale_partials(dest)  # first: a dataset a killed run moved aside is back in place
    _check_paths(source, dest, dest_is_zip, overwrite)

    ignore = [p for p in (dest, labels) if isinstance(p, (str, os.PathLike)) and p != "folders"]
    with _Source(source, ignore=ignore) as src:
        label_of, class_names = _resolve_labels(labels, src)
        if transform is None:
            _require_square(src)
        resample = RESIZE_FILTERS[resize_filter]
        skipped = list(src.skipped)
        written_labels = []
        writer = _Writer(dest, dest_is_zip)
        try:
            for name in tqdm(src.image_names, desc="Converting", unit="img", disable=not progress):
                try:
                    image = _load_rgb(src.read(name), background)
                    image = _transform(image, transform, width, height, resample, background)
                except _SkipImage as why:
                    skipped.append((name, str(why)))
                    continue
                target = archive_name(len(written_labels))
                writer.write(target, _encode_png(image, png_compression))
                written_labels.append([target, label_of[name] if label_of else None])
            if not written_labels:
                raise StyleGANError(
                    f"no usable images in {source}: all {len(skipped)} files were skipped, e.g. "
                    + "; ".join(f"{p} ({r})" for p, r in skipped[:3])
                )
            metadata = {"labels": written_labels if label_of else None}
            writer.write("dataset.json", json.dumps(metadata).encode("utf-8"))
            writer.commit(replace=overwrite or _is_empty_folder(dest))  # what _check_paths allowed
        except OSError as err:
            if not is_disk_full(err):
                raise
            writer.discard()  # first, so the free space below is what the user really has
            # The estimate: what was written so far, scaled to every image of the source.
            per_image = writer.bytes_written / max(len(written_labels), 1)
            needed = per_image * len(src.image_names) * 1.05 + (1 << 20)
            raise StyleGANError(
                f"disk full writing {dest}: the dataset needs about {format_bytes(needed)} free "
                f"in {dest.parent.resolve()} ({format_free(free_bytes(dest.parent))} now); "
                "free some space or choose another --dest"
            ) from err
        finally:
            writer.discard()

    return ConversionReport(
        dest=dest,
        written=len(written_labels),
        skipped=skipped,
        label_dim=_label_dim([label for _, label in written_labels]) if label_of else 0,
        resolution=width,
        class_names=class_names,
    )


# -- arguments ------------------------------------------------------------------------------------


def parse_color(color: str | tuple[int, ...] | list[int]) -> tuple[int, int, int]:
    """``"#ffffff"``, ``"white"`` or ``(255, 255, 255)`` -> an RGB tuple."""
    if isinstance(color, str):
        try:
            rgb = ImageColor.getrgb(color)
        except ValueError as err:
            raise StyleGANError(
                f"cannot read the colour {color!r}; use e.g. '#ffffff' or 'white'"
            ) from err
    else:
        rgb = tuple(int(c) for c in color)
    if len(rgb) not in (3, 4) or not all(0 <= c <= 255 for c in rgb):
        raise StyleGANError(f"a colour must be three values 0-255, got {color!r}")
    return rgb[:3]


def _parse_resolution(resolution, transform: str | None) -> tuple[int, int]:
    if transform is not None and transform not in TRANSFORMS:
        raise StyleGANError(f"unknown transform {transform!r}; use one of {', '.join(TRANSFORMS)}")
    if isinstance(resolution, str):
        match = re.fullmatch(r"\s*(\d+)\s*(?:[x,]\s*(\d+)\s*)?", resolution)
        if not match:
            raise StyleGANError(f"cannot read resolution {resolution!r}; use e.g. 256 or 512x384")
        width, height = int(match[1]), int(match[2] or match[1])
    elif isinstance(resolution, (tuple, list)):
        width, height = (int(v) for v in resolution)
    else:
        width = height = int(resolution)
    if width < 4 or width & (width - 1):
        raise StyleGANError(
            f"resolution must be a power of two of at least 4 (e.g. 64, 256, 1024), got {width}"
        )
    if width > MAX_RESOLUTION:
        raise StyleGANError(
            f"resolution {width} is over the limit of {MAX_RESOLUTION} (one {width}x{width} image "
            f"alone takes {format_bytes(3 * width * width)}); the papers train at 1024 at most"
        )
    if transform == "center-crop-wide":
        if not 0 < height < width:
            raise StyleGANError(
                "--transform center-crop-wide needs --resolution WxH with H < W (e.g. 512x384): "
                "the band of picture placed in the middle of each square image"
            )
    elif height != width:
        raise StyleGANError(
            f"resolution {width}x{height} is not square; WxH is only for "
            "--transform center-crop-wide"
        )
    return width, height


def _check_paths(source: Path, dest: Path, dest_is_zip: bool, overwrite: bool) -> None:
    """Every reason the output cannot be written, found before any work starts."""
    if not source.exists():
        raise StyleGANError(f"source {source} does not exist; pass a folder or a .zip of images")
    if not (source.is_dir() or is_regular_file(source)):
        raise StyleGANError(
            f"source {source} is neither a folder nor a regular file; pass a folder or a .zip "
            "of images"
        )
    src, dst = source.resolve(), dest.resolve()
    if dst == src or dst in src.parents:
        raise StyleGANError(f"destination {dest} would overwrite the source {source}")
    if not dest_is_zip and source.is_dir() and src in dst.parents:
        raise StyleGANError(
            f"destination folder {dest} is inside the source folder {source}; put it elsewhere"
        )
    _check_writable_parent(dest)
    if dest.exists() and not _is_empty_folder(dest):
        if not overwrite:
            raise StyleGANError(f"destination {dest} exists; pass --overwrite to replace it")
        if dest.is_dir() and not (dest / "dataset.json").is_file():
            raise StyleGANError(
                f"refusing to replace {dest}: it is a folder but not a dataset (no dataset.json)"
            )
        if not dest.is_dir() and not _is_dataset_zip(dest):
            raise StyleGANError(
                f"refusing to replace {dest}: it is a file but not a dataset zip (no "
                "dataset.json inside); choose another --dest"
            )


def _check_writable_parent(dest: Path) -> None:
    """The nearest existing folder above ``dest`` must be a folder we may create files in."""
    parent = nearest_existing(dest.absolute().parent)
    if not parent.is_dir():
        raise StyleGANError(f"cannot create {dest}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StyleGANError(
            f"cannot create {dest}: no permission to write in {parent}; choose another --dest"
        )


def _is_empty_folder(path: Path) -> bool:
    """An empty folder is a fine destination even without ``overwrite``."""
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


def _is_dataset_zip(path: Path) -> bool:
    if not is_regular_file(path):
        return False
    try:
        with zipfile.ZipFile(path) as z:
            return "dataset.json" in z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
