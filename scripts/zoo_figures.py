"""Figures of the bundled zoo networks for docs/editing.md and the closing notes.

    python scripts/zoo_figures.py [--out docs/figures]

Writes, from the bundled files (offline, seconds to a minute on a CPU):
- ``zoo-twemoji-32-grid.png``: 64 seeds (0-63) at psi 0.7;
- ``zoo-twemoji-32-cond-grid.png``: one row per emoji category, seeds 0-7, psi 0.7;
- ``zoo-twemoji-32-sefa0.png``: seeds 0-5 along SeFa's first direction, strengths -6..6;
- ``zoo-twemoji-32-cond-flags.png``: seeds 0-5 of class Objects moved along the InterFaceGAN
  boundary of class Flags (fitted from 2,000 class samples), strengths -3..3.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import stylegan
from stylegan.images import make_grid, save_image
from stylegan.io.checkpoint import read_config
from stylegan.io.zoo import zoo_path
from stylegan.tools.directions import sefa
from stylegan.tools.editing import edit_grid, edit_images
from stylegan.tools.generate import generate_images, seeds_to_ws
from stylegan.tools.interfacegan import interfacegan_boundary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="docs/figures")
    out = Path(parser.parse_args().out)

    G = stylegan.load("twemoji-32")
    save_image(make_grid(generate_images(G, range(64), truncation_psi=0.7), 8),
               out / "zoo-twemoji-32-grid.png")  # fmt: skip
    strengths = [-6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0]
    edited = edit_images(G, seeds_to_ws(G, range(6), 0.7), sefa(G, "all", num=1), 0, strengths)
    save_image(edit_grid(edited), out / "zoo-twemoji-32-sefa0.png")

    C = stylegan.load("twemoji-32-cond")
    names = read_config(zoo_path("twemoji-32-cond"))["metadata"]["class_names"]
    rows = [generate_images(C, range(8), truncation_psi=0.7, class_idx=k) for k in range(C.c_dim)]
    save_image(make_grid(np.concatenate(rows), 8), out / "zoo-twemoji-32-cond-grid.png")
    flags, objects = names.index("Flags"), names.index("Objects")
    boundary = interfacegan_boundary(C, flags, num_samples=2000, progress=False)
    ws = seeds_to_ws(C, range(6), 0.7, class_idx=objects)
    edited = edit_images(C, ws, boundary, 0, [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
    save_image(edit_grid(edited), out / "zoo-twemoji-32-cond-flags.png")
    print(f"wrote 4 figures to {out}; boundary {boundary.info}")


if __name__ == "__main__":
    main()
