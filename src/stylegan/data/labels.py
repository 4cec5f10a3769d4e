"""Labels for :func:`~stylegan.data.dataset_tool.convert_dataset`: CSV, folders, dataset.json.

Every source image gets a label or none does; class names map to their sorted index, integer
classes stay, and labels that contradict themselves raise :class:`~stylegan.errors.StyleGANError`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from stylegan.data.reader import UnreadableFile, read_regular_file
from stylegan.data.source import _Source
from stylegan.errors import StyleGANError


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
