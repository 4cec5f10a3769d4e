"""The truncation-trick figure of the StyleGAN paper: one row per seed, one column per psi.

Truncation pulls ``w`` towards the average ``w_avg``: ``w' = w_avg + psi (w - w_avg)`` on the
first ``cutoff`` layers. psi 1 leaves the image alone, psi 0 gives the average image (the same
for every seed), negative psi goes past the average to the "opposite" image.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.images import make_grid, save_image
from stylegan.latents import parse_seeds, parse_value_sweep
from stylegan.tools.generate import prepare_rendering, seeds_to_ws, synthesize

DEFAULT_PSI = "-1:1:9"  # nine columns from -1 to 1, as the paper's figure spans


def parse_psi(spec: str | Sequence[float]) -> list[float]:
    """``"-1:1:9"`` (9 values from -1 to 1), ``"1,0.7,0.5,0,-0.5,-1"``, or a list of numbers."""
    return parse_value_sweep(spec, "psi", DEFAULT_PSI)


@torch.no_grad()
def truncated_ws(
    G: nn.Module,
    seeds: Sequence[int] | str,
    psis: Sequence[float],
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    device=None,
) -> torch.Tensor:
    """``ws [S, P, num_ws, w_dim]``: every seed's ``w`` truncated by every psi."""
    seeds = parse_seeds(seeds)
    if not seeds:
        raise StyleGANError("no seeds given: use e.g. --seeds 0-3")
    if truncation_cutoff is not None and truncation_cutoff < 0:
        raise StyleGANError(f"truncation cutoff must be 0 or more, got {truncation_cutoff}")
    ws = seeds_to_ws(G, seeds, 1.0, None, class_idx, device=device)
    rows = [G.mapping.truncate(ws, psi, truncation_cutoff) for psi in psis]
    return torch.stack(rows, dim=1)


def truncation_images(
    G: nn.Module,
    seeds: Sequence[int] | str,
    psis: str | Sequence[float] = DEFAULT_PSI,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    noise_mode: str = "const",
    batch_size: int = 8,
    device=None,
    progress: bool = False,
) -> np.ndarray:
    """uint8 ``[S, P, H, W, C]``: seed ``s`` rendered at each ``psi``."""
    psis = parse_psi(psis)
    figure = (len(parse_seeds(seeds)), len(psis), "truncation figure")
    G, device, batch_size = prepare_rendering(G, device, noise_mode, batch_size, figure)
    ws = truncated_ws(G, seeds, psis, truncation_cutoff, class_idx, device)
    images = synthesize(G, ws.flatten(0, 1), noise_mode, batch_size, progress, desc="truncation")
    return images.reshape(ws.shape[0], ws.shape[1], *images.shape[1:])


def truncation_figure(images: np.ndarray) -> np.ndarray:
    """The grid of :func:`truncation_images`: one row per seed, one column per psi."""
    seeds, psis = images.shape[:2]
    return make_grid(images.reshape(seeds * psis, *images.shape[2:]), cols=psis)


def save_truncation(
    images: np.ndarray,
    seeds: Sequence[int] | str,
    psis: Sequence[float],
    outdir: str | Path,
    save_cells: bool = False,
) -> list[Path]:
    """Write ``truncation.png`` and, if asked, each cell as ``seed<S>-psi<P>.png``."""
    outdir = Path(outdir)
    paths = [save_image(truncation_figure(images), outdir / "truncation.png")]
    if save_cells:
        for i, seed in enumerate(parse_seeds(seeds)):
            for j, psi in enumerate(psis):
                paths.append(save_image(images[i, j], outdir / f"seed{seed:04d}-psi{psi:g}.png"))
    return paths
