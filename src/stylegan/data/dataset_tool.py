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
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageColor, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from stylegan.data.dataset import is_image_name, is_junk_name
from stylegan.data.reader import (
    FileReader,
    UnreadableFile,
    is_regular_file,
    open_image,
    read_regular_file,
)
from stylegan.errors import (
    StyleGANError,
    format_bytes,
    format_free,
    free_bytes,
    is_disk_full,
    nearest_existing,
)
from stylegan.files import commit, process_alive, recover_interrupted_swap, remove_path

TRANSFORMS = ("center-crop", "center-crop-wide", "pad")
RESIZE_FILTERS = {"box": Image.Resampling.BOX, "lanczos": Image.Resampling.LANCZOS}
IMAGES_PER_FOLDER = 1000
# 8192 is 8x the largest official StyleGAN (1024): one RGB image is 192 MiB, a batch of them does
# not fit on any GPU, and 65536 would need 12 GiB for a single image before anything trains.
MAX_RESOLUTION = 8192
_TRANSFORM_HINT = (
    "--transform center-crop (keep the middle square), pad (add borders of the --background "
    "colour) or center-crop-wide (with --resolution WxH)"
)
# A fixed timestamp makes the same input always give a byte-identical zip.
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


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


# This input cannot become a dataset image; the message says why (one exception for the reader's
# guards and ours, so both land in the skip list the same way).
_SkipImage = UnreadableFile


def archive_name(index: int) -> str:
    """NVIDIA's name for the ``index``-th image: ``00001/img00001234.png``."""
    return f"{index // IMAGES_PER_FOLDER:05d}/img{index:08d}.png"


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


# -- reading the source ---------------------------------------------------------------------------


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


# -- labels ---------------------------------------------------------------------------------------


def _resolve_labels(labels, src: _Source) -> tuple[dict | None, list[str] | None]:
    """File name -> label for every source image (or None), and the class names if named."""
    if labels is None:
        if not src.has_metadata:
            return None, None
        origin = f"dataset.json in {src.path}"
        try:
            entries = json.loads(src.read("dataset.json"))["labels"]
            rows = None if entries is None else [(f, v, json.dumps([f, v])) for f, v in entries]
        except (ValueError, KeyError, TypeError, UnreadableFile) as err:
            raise StyleGANError(
                f"{origin} is not valid (expected {{'labels': [...]}}): {err}"
            ) from err
        if rows is None:
            return None, None
        raw = _label_table(rows, origin, "entry")
        _require_all(raw, src, origin)
        labels, _ = _index_labels({n: raw[n] for n in src.image_names}, origin)
        return labels, None

    if isinstance(labels, Mapping):
        raw = {_clean(str(k)): v for k, v in labels.items()}
        origin = "the labels mapping"
    elif labels == "folders":
        top_level = [n for n in src.image_names if "/" not in n]
        if top_level:
            raise StyleGANError(
                f"--labels folders needs every image inside a class sub-folder of {src.path}, "
                f"but {top_level[0]} is at the top level"
            )
        raw = {n: n.split("/", 1)[0] for n in src.image_names}
        origin = "folders"
    else:
        raw = _read_label_csv(Path(labels), set(src.image_names))
        origin = str(labels)
    _require_all(raw, src, origin)
    return _index_labels({n: raw[n] for n in src.image_names}, origin)


def _clean(name: str) -> str:
    name = name.strip().replace("\\", "/")
    return name[2:] if name.startswith("./") else name


def _read_label_csv(path: Path, image_names: set[str]) -> dict[str, str]:
    """``file,label`` rows of a UTF-8 CSV (an optional header row is skipped).

    Other encodings are refused rather than guessed: a Latin-1 guess would silently mismatch file
    names that are UTF-8 on disk, and Excel's "CSV UTF-8" export is one click away.
    """
    if not path.exists():
        raise StyleGANError(
            f"labels file {path} does not exist; pass a CSV of file,label rows or 'folders'"
        )
    try:
        data = read_regular_file(path)
    except UnreadableFile as err:
        raise StyleGANError(f"cannot read the labels file {path} ({err}); pass a CSV") from err
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise StyleGANError(
            f"labels file {path} is not UTF-8 text (byte 0x{data[err.start]:02x} on line "
            f"{line}); save it as UTF-8 (e.g. Excel's 'CSV UTF-8')"
        ) from None
    numbered = [
        (number, row)
        for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
        if row and any(cell.strip() for cell in row)
    ]
    # A first row that names no source image is a header.
    if numbered and _clean(numbered[0][1][0]) not in image_names:
        numbered = numbered[1:]
    rows = []
    for number, row in numbered:
        if len(row) < 2 or not row[1].strip():
            raise StyleGANError(
                f"{path}: row {number} ({','.join(row)!r}) needs two columns: file name, label"
            )
        rows.append((row[0], row[1].strip(), f"{number} ({','.join(row)!r})"))
    return _label_table(rows, str(path), "row")


def _label_table(rows: list[tuple[str, object, str]], origin: str, unit: str) -> dict:
    """File name -> label from ``(file, label, description)`` rows.

    Two rows naming one file with different labels are refused: which one should win is the
    user's call, and a silent last-wins hides a broken labels file. Identical repeats are fine.
    """
    table: dict = {}
    first_row: dict[str, str] = {}
    for file, label, description in rows:
        name = _clean(str(file))
        if name in table and table[name] != label:
            raise StyleGANError(
                f"{origin} gives {name} two different labels: {unit} {first_row[name]} and "
                f"{unit} {description}; keep one"
            )
        table[name] = label
        first_row.setdefault(name, description)
    return table


def _require_all(raw: Mapping, src: _Source, origin: str) -> None:
    missing = [n for n in src.image_names if n not in raw]
    if missing:
        raise StyleGANError(
            f"{origin} has no label for {len(missing)} of {len(src.image_names)} images (e.g. "
            f"{missing[0]}); file names must be relative to the source {src.path}"
        )


def _index_labels(raw: dict, origin: str) -> tuple[dict, list[str] | None]:
    """Integer classes stay; class names become their index in sorted order; vectors stay.

    A negative class index is refused, not turned into a name or shifted: it is a position in a
    one-hot vector, and renumbering silently would change what every other index means. Integers
    mixed with names are refused too, since sorting them as text puts "10" before "2".
    """
    values = list(raw.values())

    def is_int(v):
        return (isinstance(v, (int, np.integer)) and not isinstance(v, bool)) or (
            isinstance(v, str) and re.fullmatch(r"[+-]?\d+", v.strip()) is not None
        )

    integers = {n: int(v) for n, v in raw.items() if is_int(v)}
    negative = next(((n, v) for n, v in integers.items() if v < 0), None)
    if negative:
        raise StyleGANError(
            f"{origin} gives {negative[0]} the class {negative[1]}; class indices must be 0 or "
            "more (a position in the one-hot label), so renumber the classes from 0"
        )
    if len(integers) == len(values):
        return integers, None
    if integers and all(isinstance(v, str) for v in values):
        name = next(n for n in raw if n not in integers)
        number = next(iter(integers))
        raise StyleGANError(
            f"{origin} mixes class indices ({number}: {raw[number]}) and class names ({name}: "
            f"{raw[name]}); use all indices or all names"
        )
    if all(isinstance(v, str) for v in values):
        class_names = sorted(set(values))
        index = {c: i for i, c in enumerate(class_names)}
        return {n: index[v] for n, v in raw.items()}, class_names
    if all(isinstance(v, (list, tuple, np.ndarray)) for v in values):
        vectors = {n: [float(x) for x in v] for n, v in raw.items()}
        if len({len(v) for v in vectors.values()}) == 1:
            return vectors, None
    raise StyleGANError(
        f"labels in {origin} must be all class indices (0, 1, ...), all class names, or all "
        "vectors of one length"
    )


def _label_dim(labels: list) -> int:
    first = labels[0]
    if isinstance(first, list):
        return len(first)
    return max(labels) + 1


# -- images ---------------------------------------------------------------------------------------


def _load_rgb(data: bytes, background: tuple[int, int, int]) -> Image.Image:
    """Decode one file to an RGB image upright as viewers show it; transparency over background."""
    try:
        with open_image(data) as img:  # refuses too many pixels before decoding any
            img.load()
            with contextlib.suppress(Exception):  # a broken EXIF block is no reason to skip
                img = ImageOps.exif_transpose(img)
            return _to_rgb(img, background)
    except _SkipImage:
        raise
    except UnidentifiedImageError as err:
        raise _SkipImage("not a readable image") from err
    except Exception as err:  # Pillow reports damaged files with many exception types
        raise _SkipImage(f"unreadable image: {err}") from err


def _to_rgb(img: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    if img.mode.startswith("I") or img.mode == "F":
        img = Image.fromarray(_greyscale_to_uint8(img), "L")
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return img.convert("RGB")


def _greyscale_to_uint8(img: Image.Image) -> np.ndarray:
    """Scale a 16-bit, 32-bit integer or float greyscale image to 8 bits by a fixed rule.

    ``convert("L")`` would clip at 255 (16-bit turns white) or truncate (float in [0, 1] turns
    black). 16-bit (``I;16*``) always divides by 257. Float and 32-bit integer files carry no
    range, so the values decide: float in [0, 1] (the usual convention) multiplies by 255, float
    in [0, 255] is kept; 32-bit integers in [0, 255] are kept, in [0, 65535] divide by 257.
    Anything else (negative values, NaN, wider ranges) is skipped with its range: no stretch
    could be right for every image, and a per-image min-max stretch would change the contrast of
    each image differently.
    """
    array = np.asarray(img, dtype=np.float32)
    if img.mode.startswith("I;16"):
        return np.round(array / 257).astype(np.uint8)
    low, high = float(array.min()), float(array.max())
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0:
        raise _SkipImage(f"{img.mode} image with values in [{low:g}, {high:g}]: expected >= 0")
    if img.mode == "F" and high <= 1:
        array = array * 255
    elif img.mode == "I" and high > 255:
        if high > 65535:
            raise _SkipImage(f"32-bit image with values up to {high:g}: expected [0, 65535]")
        array = array / 257
    elif high > 255:
        raise _SkipImage(f"float image with values up to {high:g}: expected [0, 1] or [0, 255]")
    return np.clip(np.round(array), 0, 255).astype(np.uint8)


def _transform(
    img: Image.Image,
    transform: str | None,
    width: int,
    height: int,
    resample,
    background: tuple[int, int, int],
) -> Image.Image:
    """Crop or pad to square as asked, then resize to ``width`` x ``width``."""
    w, h = img.size
    if transform is None:
        if w != h:
            raise StyleGANError(f"an image is {w}x{h}, not square; choose {_TRANSFORM_HINT}")
    elif transform == "center-crop":
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        img = img.crop((left, top, left + side, top + side))
    elif transform == "pad":
        side = max(w, h)
        canvas = Image.new("RGB", (side, side), background)
        canvas.paste(img, ((side - w) // 2, (side - h) // 2))
        img = canvas
    elif transform == "center-crop-wide":
        return _center_crop_wide(img, width, height, resample)
    if img.size != (width, width):
        img = img.resize((width, width), resample)
    return img


def _center_crop_wide(img: Image.Image, width: int, height: int, resample) -> Image.Image:
    """NVIDIA's wide crop: a ``width:height`` band from the middle, on a black square canvas."""
    w, h = img.size
    if w < width:
        raise _SkipImage(f"narrower than {width} px")
    if round(width * h / w) < height:
        raise _SkipImage(f"too wide for a {width}x{height} band")
    # NVIDIA's tool measures the band in output pixels, which squeezes inputs wider than
    # `width`; measuring it in input pixels keeps the aspect ratio.
    band = round(w * height / width)
    top = (h - band) // 2
    img = img.crop((0, top, w, top + band)).resize((width, height), resample)
    canvas = Image.new("RGB", (width, width), (0, 0, 0))
    canvas.paste(img, (0, (width - height) // 2))
    return canvas


def _encode_png(img: Image.Image, compress_level: int) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="png", compress_level=compress_level, optimize=compress_level == 9)
    return buffer.getvalue()


# -- writing --------------------------------------------------------------------------------------


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
