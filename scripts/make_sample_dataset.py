"""Rebuild the bundled sample dataset ``src/stylegan/assets/twemoji-32.zip``.

Reads the 1,911 64x64 Twemoji PNGs and their ``manifest.csv`` from the shared datasets folder
(beside the repository in CI; not needed at run time), shrinks them to 32x32 with the box filter,
labels each with its emoji category (sorted category names -> class indices) and writes the zip
and ``TWEMOJI-ATTRIBUTION.txt``. The output is byte-identical on every run.

    python scripts/make_sample_dataset.py [--source ../shared/datasets/twemoji-64]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from stylegan.data.dataset_tool import convert_dataset

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "datasets" / "twemoji-64"
ASSETS = REPO / "src" / "stylegan" / "assets"

ATTRIBUTION = """\
twemoji-32.zip -- the sample dataset bundled with stylegan
============================================================

{count} emoji images, 32x32 RGB PNG, in NVIDIA's dataset layout (00000/img00000000.png ...,
dataset.json with one class label per image).

Attribution (CC BY 4.0)
  Twemoji graphics Copyright Twitter, Inc and other contributors,
  licensed under CC-BY 4.0: https://creativecommons.org/licenses/by/4.0/
  (Twemoji is now maintained at https://github.com/jdecked/twemoji.)
  Images taken from the npm package emoji-datasource-twitter@16.0.0 (base emoji only, no
  skin-tone variants), img/twitter/64/.

Changes made
  Alpha composited onto a white background and converted to RGB, resized from 64x64 to 32x32
  with the box filter, re-encoded as PNG and repacked as a zip in NVIDIA's dataset layout, with
  the emoji category of each image as its class label.

Classes (index: category, number of images)
{classes}

Rebuild with: python scripts/make_sample_dataset.py
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--dest", type=Path, default=ASSETS / "twemoji-32.zip")
    args = parser.parse_args()

    with open(args.source / "manifest.csv", newline="", encoding="utf-8") as f:
        categories = {row["file"]: row["category"] for row in csv.DictReader(f)}

    report = convert_dataset(
        args.source,
        args.dest,
        resolution=32,
        resize_filter="box",
        labels=categories,
        overwrite=True,
        png_compression=9,
    )
    print(report.summary())

    counts = {name: 0 for name in report.class_names}
    for category in categories.values():
        counts[category] += 1
    classes = "\n".join(
        f"  {index:2d}: {name} ({counts[name]})" for index, name in enumerate(report.class_names)
    )
    text = ATTRIBUTION.format(count=report.written, classes=classes)
    (args.dest.parent / "TWEMOJI-ATTRIBUTION.txt").write_text(text, encoding="utf-8")
    print(f"{args.dest}: {args.dest.stat().st_size / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
