"""Captions for training a domain CLIP: the CSV format, the emoji manifest, and augmentation.

A captions CSV has a header and one row per (image, caption):

============  ==============================================================================
``image``     the image's name inside the dataset (``00000/img00000000.png``) or its file
              name alone; several rows may name one image (several captions)
``caption``   what the image shows, e.g. ``red heart``, ``flag: France``
``category``  optional: a coarser class the caption belongs to, e.g. ``Smileys & Emotion``
============  ==============================================================================

:func:`captions_from_manifest` makes one from the Twemoji manifest (its ``zip_entry``, ``name``
and ``category`` columns). Training does not use the captions as they stand only: each image
gets a set of texts (:func:`caption_texts`): its captions bare and in the templates of
:data:`TEMPLATES`, its category in words ("an emoji from smileys and emotion"), and optionally
colour words measured from its pixels (:func:`colour_words`: "red", "a yellow emoji"), so that
short prompts of the kind text editing uses ("red", "a heart", "smiling face", "flag") land
near the right images instead of only the exact emoji names.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

import numpy as np

from stylegan.errors import StyleGANError
from stylegan.io.atomic import write_atomically

# Templates the captions are put in (``{}`` is the caption); the first is the bare caption.
TEMPLATES = ("{}", "an emoji of {}", "a {} emoji", "{} icon")
CATEGORY_TEMPLATES = ("{}", "an emoji from {}")
COLOUR_TEMPLATES = ("{}", "a {} emoji", "something {}")
COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "gray")


SAMPLE_CAPTIONS = "twemoji-32-captions.csv"  # the bundled sample's captions (its manifest)


def default_captions() -> Path:
    """The captions CSV of the bundled sample (``twemoji-32.zip``): every emoji's name and
    category, made from the Twemoji manifest by :func:`captions_from_manifest`."""
    path = Path(str(resources.files("stylegan") / "assets" / SAMPLE_CAPTIONS))
    if not path.is_file():
        raise StyleGANError(f"the bundled {SAMPLE_CAPTIONS} is missing; reinstall stylegan")
    return path


@dataclass(frozen=True)
class Caption:
    """One row of a captions CSV."""

    image: str
    caption: str
    category: str = ""


def read_captions(path: str | Path) -> list[Caption]:
    """The rows of a captions CSV (see the module docstring)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise StyleGANError(f"cannot read the captions file {path} ({err})") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = set(reader.fieldnames or [])
    if not {"image", "caption"} <= fields:
        raise StyleGANError(
            f"{path} needs the columns image and caption (and optionally category); it has "
            f"{', '.join(sorted(fields)) or 'none'}. Make one with `stylegan clip captions`"
        )
    rows = []
    for line, row in enumerate(reader, start=2):
        image, caption = (row.get("image") or "").strip(), (row.get("caption") or "").strip()
        if not image or not caption:
            raise StyleGANError(f"{path}:{line}: every row needs an image and a caption")
        rows.append(Caption(image, caption, (row.get("category") or "").strip()))
    if not rows:
        raise StyleGANError(f"{path} holds no captions")
    return rows


def write_captions(path: str | Path, rows: Iterable[Caption]) -> Path:
    """Write ``rows`` as a captions CSV (atomically)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "caption", "category"])
    for r in rows:
        writer.writerow([r.image, r.caption, r.category])
    data = buffer.getvalue().encode("utf-8")
    return write_atomically(Path(path), lambda tmp: tmp.write_bytes(data), len(data), True)


def captions_from_manifest(manifest: str | Path, out: str | Path) -> Path:
    """A captions CSV from a Twemoji ``manifest.csv`` (columns ``zip_entry``, ``name``,
    ``category``): one row per emoji, the emoji's name as caption, matched on the zip entry."""
    manifest = Path(manifest)
    try:
        reader = csv.DictReader(io.StringIO(manifest.read_text(encoding="utf-8-sig")))
        records = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise StyleGANError(f"cannot read the manifest {manifest} ({err})") from None
    need = {"zip_entry", "name", "category"}
    if not need <= set(reader.fieldnames or []):
        raise StyleGANError(
            f"{manifest} is not a Twemoji manifest: it needs the columns {', '.join(sorted(need))}"
        )
    rows = [Caption(r["zip_entry"], r["name"].strip(), r["category"].strip()) for r in records]
    return write_captions(out, rows)


def match_captions(
    image_names: Sequence[str], rows: Sequence[Caption], source: str = "the captions"
) -> dict[int, list[Caption]]:
    """Image index -> its caption rows, matching each row's ``image`` to a dataset name, or to
    a file name when that is unique in the dataset. Images without captions are left out; a
    caption that names no image is an error (a wrong dataset)."""
    exact = {n: i for i, n in enumerate(image_names)}
    by_file: dict[str, list[int]] = {}
    for i, n in enumerate(image_names):
        by_file.setdefault(PurePosixPath(n).name, []).append(i)
    matched: dict[int, list[Caption]] = {}
    unknown = []
    for r in rows:
        key = r.image.replace("\\", "/")
        index = exact.get(key)
        if index is None and len(by_file.get(PurePosixPath(key).name, [])) == 1:
            index = by_file[PurePosixPath(key).name][0]
        if index is None:
            unknown.append(r.image)
            continue
        matched.setdefault(index, []).append(r)
    if unknown:
        raise StyleGANError(
            f"{len(unknown)} caption(s) of {source} name no image of the dataset (e.g. "
            f"{unknown[0]!r}); is it the dataset the captions were made for?"
        )
    return matched


def category_words(category: str) -> str:
    """``Smileys & Emotion`` -> ``smileys and emotion``."""
    return " ".join(category.replace("&", " and ").lower().split())


def colour_words(image: np.ndarray, share: float = 0.3) -> list[str]:
    """Colour names covering at least ``share`` of an emoji's drawn pixels, most first.

    ``image`` is uint8 ``[3, H, W]`` on a white background. Pixels within a few levels of white
    are background; the rest are named by hue, saturation and value (black, gray, and the hues
    of :data:`COLOURS`; light red is pink, dark or pale orange and dark red are brown). The most
    common colour is always named if it covers at least half of ``share``.
    """
    x = np.asarray(image, dtype=np.float32).reshape(3, -1) / 255
    drawn = x.min(0) < 0.92
    if drawn.sum() < 4:
        return []
    r, g, b = x[:, drawn]
    v = np.maximum(np.maximum(r, g), b)
    c = v - np.minimum(np.minimum(r, g), b)
    s = np.where(v > 0, c / np.maximum(v, 1e-6), 0)
    safe = np.maximum(c, 1e-6)
    hue = (
        np.where(
            v == r, ((g - b) / safe) % 6, np.where(v == g, (b - r) / safe + 2, (r - g) / safe + 4)
        )
        * 60
    )
    names = np.full(r.shape, "gray", dtype=object)
    bins = [(10, "red"), (40, "orange"), (70, "yellow"), (165, "green"), (255, "blue")]
    bins += [(290, "purple"), (345, "pink"), (360, "red")]
    chromatic = s >= 0.25
    lower = 0.0
    for upper, name in bins:
        names[chromatic & (hue >= lower) & (hue < upper)] = name
        lower = upper
    reds, oranges = chromatic & (names == "red"), chromatic & (names == "orange")
    names[reds & (s < 0.5) & (v >= 0.75)] = "pink"  # light red
    names[(reds & (s < 0.5) & (v < 0.75)) | (oranges & ((v < 0.8) | (s < 0.6)))] = "brown"
    names[v < 0.22] = "black"
    counts = {n: int((names == n).sum()) for n in COLOURS}
    total = sum(counts.values())
    ranked = sorted((n for n in COLOURS if counts[n]), key=lambda n: -counts[n])
    kept = [n for n in ranked if counts[n] >= share * total]
    if not kept and ranked and counts[ranked[0]] >= share / 2 * total:
        kept = ranked[:1]
    return kept


def caption_texts(
    captions: Sequence[Caption], colours: Sequence[str] = (), templates: Sequence[str] = TEMPLATES
) -> list[str]:
    """Every training text of one image: its captions in each template, its category in words,
    its colours (see the module docstring). Duplicates are dropped, order kept."""
    texts = []
    for c in captions:
        texts += [t.format(c.caption) for t in templates]
        if c.category:
            texts += [t.format(category_words(c.category)) for t in CATEGORY_TEMPLATES]
    for colour in colours:
        texts += [t.format(colour) for t in COLOUR_TEMPLATES]
        texts += [f"{colour} {c.caption}" for c in captions[:1] if colour not in c.caption.lower()]
    return list(dict.fromkeys(texts))
