"""Test data for the CLIP tests: coloured shapes (6 colours x 2, 32 px on white), manifests."""

from __future__ import annotations

import csv

import numpy as np

COLOURS = {
    "red": (221, 46, 68), "blue": (85, 172, 238), "green": (120, 177, 89),
    "yellow": (255, 204, 77), "purple": (170, 142, 214), "black": (41, 47, 51),
}  # fmt: skip
SHAPES = ("square", "circle")


def draw(rgb, shape):
    image = np.full([32, 32, 3], 255, np.uint8)
    yy, xx = np.mgrid[:32, :32]
    mask = (abs(yy - 16) < 10) & (abs(xx - 16) < 10)
    if shape == "circle":
        mask = (yy - 16) ** 2 + (xx - 16) ** 2 < 100
    image[mask] = rgb
    return image


def write_manifest(path, emoji):
    """A Twemoji ``manifest.csv`` with one row per ``(zip entry, name, category)``."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "zip_entry", "file", "name", "category", "source_sha256"])
        for i, (entry, name, category) in enumerate(emoji):
            w.writerow([i, entry, f"{i:04x}.png", name, category, "x"])
    return path
