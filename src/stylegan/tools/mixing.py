"""The style-mixing figure of the StyleGAN paper: rows and columns of seeds, mixed per layer.

Each cell takes the row seed's ``w`` and copies in the column seed's ``w`` at the chosen layer
indices (``w[row][styles] = w[col][styles]``, as NVIDIA's ``style_mixing.py`` does). Copying the
coarse layers from the column seed brings its pose and shape; the fine layers, its colours.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.images import save_image
from stylegan.latents import parse_int_ranges, parse_seeds
from stylegan.tools.generate import prepare_rendering, seeds_to_ws, synthesize

STYLE_RANGES = ("coarse", "middle", "fine")


def named_style_range(name: str, num_ws: int) -> list[int]:
    """Layer indices of ``coarse``, ``middle`` or ``fine`` for a network with ``num_ws`` layers.

    With ``num_ws >= 10`` (64 px and up) they are the paper's: coarse 0-3 (4-8 px), middle 4-7
    (16-32 px), fine 8 to the end. Smaller networks have too few layers for that, so their
    ``num_ws`` layers are cut into three consecutive near-equal parts instead (8 -> 0-2, 3-5, 6-7).
    """
    if name not in STYLE_RANGES:
        raise StyleGANError(f"unknown style range {name!r}; use {', '.join(STYLE_RANGES)} or 0-6")
    if num_ws >= 10:
        bounds = {"coarse": (0, 4), "middle": (4, 8), "fine": (8, num_ws)}
    else:
        parts = np.array_split(np.arange(num_ws), 3)
        starts = np.cumsum([0] + [len(p) for p in parts])
        bounds = {n: (int(starts[i]), int(starts[i + 1])) for i, n in enumerate(STYLE_RANGES)}
    lo, hi = bounds[name]
    if hi <= lo:
        raise StyleGANError(
            f"this network has only {num_ws} style layers, too few for a {name!r} range; "
            f"give explicit layers such as --styles 0-{num_ws - 1}"
        )
    return list(range(lo, hi))


def parse_styles(spec: str | Sequence[int], num_ws: int) -> list[int]:
    """Turn ``coarse|middle|fine`` or ``"0-6"``/``"0,2,4-5"`` into checked layer indices."""
    if isinstance(spec, str) and spec.strip().lower() in STYLE_RANGES:
        return named_style_range(spec.strip().lower(), num_ws)
    if isinstance(spec, str):
        try:
            layers = parse_int_ranges(spec)
        except ValueError:
            raise StyleGANError(
                f"cannot read styles {spec!r}: use coarse, middle, fine or layers like 0-6"
            ) from None
    else:
        layers = [int(s) for s in spec]
    if not layers:
        raise StyleGANError("no style layers given: use coarse, middle, fine or layers like 0-6")
    bad = [s for s in layers if not 0 <= s < num_ws]
    if bad:
        raise StyleGANError(
            f"style layer {max(bad)} does not exist: this network has layers 0-{num_ws - 1}"
        )
    return sorted(set(layers))


def mix_ws(row_ws: torch.Tensor, col_ws: torch.Tensor, styles: Sequence[int]) -> torch.Tensor:
    """Every cell's ws ``[R * C, num_ws, w_dim]``, row-major: row ``w``, column layers copied in."""
    mixed = row_ws[:, None].repeat(1, col_ws.shape[0], 1, 1)
    mixed[:, :, list(styles)] = col_ws[None, :, list(styles)]
    return mixed.reshape(-1, *row_ws.shape[1:])


def style_mixing_images(
    G: nn.Module,
    row_seeds: Sequence[int] | str,
    col_seeds: Sequence[int] | str,
    styles: str | Sequence[int] = "coarse",
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    noise_mode: str = "const",
    batch_size: int = 8,
    device=None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row images ``[R, H, W, ch]``, column images ``[C, H, W, ch]``, cells ``[R, C, H, W, ch]``."""
    row_seeds, col_seeds = parse_seeds(row_seeds), parse_seeds(col_seeds)
    figure = (len(row_seeds) + 1, len(col_seeds) + 1, "style-mixing figure")
    G, device, batch_size = prepare_rendering(G, device, noise_mode, batch_size, figure)
    styles = parse_styles(styles, G.num_ws)
    kwargs = dict(
        truncation_psi=truncation_psi,
        truncation_cutoff=truncation_cutoff,
        class_idx=class_idx,
        device=device,
    )
    row_ws = seeds_to_ws(G, row_seeds, **kwargs)
    col_ws = seeds_to_ws(G, col_seeds, **kwargs)
    all_ws = torch.cat([row_ws, col_ws, mix_ws(row_ws, col_ws, styles)])
    images = synthesize(G, all_ws, noise_mode, batch_size, progress, desc="mixing")
    r, c = len(row_seeds), len(col_seeds)
    cells = images[r + c :].reshape(r, c, *images.shape[1:])
    return images[:r], images[r : r + c], cells


def layout_mixing_figure(row_images, col_images, cells) -> np.ndarray:
    """Lay out the figure as in the paper: column seeds on top, row seeds left, blank corner."""
    r, c, h, w, ch = cells.shape
    figure = np.zeros([(r + 1) * h, (c + 1) * w, ch], dtype=np.uint8)
    for j in range(c):
        figure[:h, (j + 1) * w : (j + 2) * w] = col_images[j]
    for i in range(r):
        figure[(i + 1) * h : (i + 2) * h, :w] = row_images[i]
        for j in range(c):
            figure[(i + 1) * h : (i + 2) * h, (j + 1) * w : (j + 2) * w] = cells[i, j]
    return figure


def style_mixing_grid(*args: Any, **kwargs: Any) -> np.ndarray:
    """The style-mixing figure as one uint8 image ``[(R+1) H, (C+1) W, C]``; it takes the
    arguments of :func:`style_mixing_images` (its signature, which ``help()`` shows here too).

    ``styles``: ``coarse``, ``middle``, ``fine`` (see :func:`named_style_range`), ``"0-6"`` or a
    list of layer indices taken from the column seed.
    """
    return layout_mixing_figure(*style_mixing_images(*args, **kwargs))


# One signature for both, so the two cannot drift apart; introspection still sees every keyword.
_signature = inspect.signature(style_mixing_images).replace(return_annotation=np.ndarray)
style_mixing_grid.__signature__ = _signature  # type: ignore[attr-defined]


def save_mixing(
    row_images: np.ndarray,
    col_images: np.ndarray,
    cells: np.ndarray,
    row_seeds: Sequence[int] | str,
    col_seeds: Sequence[int] | str,
    outdir: str | Path,
    save_cells: bool = False,
) -> list[Path]:
    """Write ``mixing.png`` and, if asked, every image as ``<row>-<col>.png`` (official names)."""
    row_seeds, col_seeds = parse_seeds(row_seeds), parse_seeds(col_seeds)
    outdir = Path(outdir)
    paths = [save_image(layout_mixing_figure(row_images, col_images, cells), outdir / "mixing.png")]
    if save_cells:
        # A seed in both rows and columns gives the same unmixed image twice: write it once.
        named = {f"{s}-{s}.png": img for s, img in zip(row_seeds, row_images)}
        named.update({f"{s}-{s}.png": img for s, img in zip(col_seeds, col_images)})
        for i, row_seed in enumerate(row_seeds):
            for j, col_seed in enumerate(col_seeds):
                named[f"{row_seed}-{col_seed}.png"] = cells[i, j]
        paths += [save_image(img, outdir / name) for name, img in named.items()]
    return paths
