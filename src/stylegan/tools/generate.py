"""Images from seeds with the official protocol, so a seed gives the image the paper's code gives.

The helpers here (``prepare_rendering``, ``seeds_to_ws``, ``synthesize``) are shared by the other
tools: every tool maps seeds to ``ws`` once and then renders ``ws`` in batches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from stylegan.devices import resolve_device
from stylegan.errors import StyleGANError
from stylegan.images import check_figure_size, make_grid, save_image, to_uint8_nhwc
from stylegan.latents import class_labels, parse_seeds, z_from_seeds
from stylegan.networks.layers import (
    check_finite_output,
    check_noise_mode,
    iter_seed_images,
    seeds_to_images,
)


def prepare_generator(G: nn.Module, device=None) -> tuple[nn.Module, torch.device]:
    """Put ``G`` in eval mode on ``device`` (default: where its weights already are)."""
    if device is None:
        device = next(iter(G.parameters()), torch.empty(0)).device
    else:
        device = resolve_device(device)
        G = G.to(device)
    return G.eval(), device


def resolve_truncation(
    G: nn.Module, truncation_psi: float | None, truncation_cutoff: int | None
) -> tuple[float, int | None]:
    """``(psi, cutoff)`` to use: an explicit psi with the given cutoff; without psi the
    network's ``default_truncation`` (0.7 on 8 layers for StyleGAN (v1), none otherwise), its
    cutoff replaced by an explicitly given one."""
    if truncation_psi is not None:
        return float(truncation_psi), truncation_cutoff
    psi, cutoff = getattr(G, "default_truncation", (1.0, None))
    return psi, truncation_cutoff if truncation_cutoff is not None else cutoff


def check_batch_size(batch_size: int) -> int:
    """Validate a batch size (a positive integer)."""
    if int(batch_size) < 1:
        raise StyleGANError(f"batch size must be at least 1, got {batch_size}")
    return int(batch_size)


def prepare_rendering(
    G: nn.Module,
    device=None,
    noise_mode: str = "const",
    batch_size: int = 8,
    figure: tuple[int, int, str] | None = None,
) -> tuple[nn.Module, torch.device, int]:
    """``(G, device, batch_size)`` for a tool about to render: the settings are checked before any
    work, and with ``figure=(rows, cols, what)`` that a figure of that many images fits."""
    check_noise_mode(noise_mode)
    batch_size = check_batch_size(batch_size)
    G, device = prepare_generator(G, device)
    if figure is not None:
        rows, cols, what = figure
        check_figure_size(rows, cols, G.img_resolution, G.img_resolution, what)
    return G, device, batch_size


@torch.no_grad()
def seeds_to_ws(
    G: nn.Module,
    seeds: Sequence[int] | str,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    device=None,
) -> torch.Tensor:
    """Map seeds to ``ws [N, num_ws, w_dim]`` with the official z protocol and truncation."""
    seeds = parse_seeds(seeds)
    if device is None:
        device = next(iter(G.parameters()), torch.empty(0)).device
    z = z_from_seeds(seeds, G.z_dim, device=device)
    c = class_labels(class_idx, G.c_dim, len(seeds), device=device)
    return latents_to_ws(G, z, c, truncation_psi, truncation_cutoff)


@torch.no_grad()
def latents_to_ws(
    G: nn.Module,
    z: torch.Tensor,
    c: torch.Tensor,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
) -> torch.Tensor:
    """Run the mapping network on ``z [N, z_dim]`` and labels ``c [N, c_dim]``."""
    if truncation_cutoff is not None and truncation_cutoff < 0:
        raise StyleGANError(f"truncation cutoff must be 0 or more, got {truncation_cutoff}")
    return G.mapping(
        z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff
    ).float()


@torch.no_grad()
def synthesize_float(
    G: nn.Module,
    ws: torch.Tensor,
    noise_mode: str = "const",
    batch_size: int = 8,
    progress: bool = False,
    desc: str = "generating",
) -> torch.Tensor:
    """Render ``ws [N, num_ws, w_dim]`` in batches -> float images ``[N, C, H, W]`` on the CPU."""
    check_noise_mode(noise_mode)
    batch_size = check_batch_size(batch_size)
    chunks = range(0, ws.shape[0], batch_size)
    if progress:
        chunks = tqdm(chunks, desc=desc, unit="batch")
    out = []
    for i in chunks:
        images = G.synthesis(ws[i : i + batch_size], noise_mode=noise_mode)
        check_finite_output(images)
        out.append(images.float().cpu())
    return torch.cat(out)


def synthesize(
    G: nn.Module,
    ws: torch.Tensor,
    noise_mode: str = "const",
    batch_size: int = 8,
    progress: bool = False,
    desc: str = "generating",
) -> np.ndarray:
    """Render ``ws [N, num_ws, w_dim]`` in batches -> uint8 images ``[N, H, W, C]``."""
    images = synthesize_float(G, ws, noise_mode, batch_size, progress, desc)
    return to_uint8_nhwc(images).numpy()


def generate_images(
    G: nn.Module,
    seeds: Sequence[int] | str,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    noise_mode: str = "const",
    batch_size: int = 8,
    device=None,
    progress: bool = False,
) -> np.ndarray:
    """One image per seed as uint8 ``[N, H, W, C]``, as the official ``gen_images.py`` makes them.

    ``z = RandomState(seed).randn(z_dim)``; ``class_idx`` is required for conditional networks
    and refused for unconditional ones; ``device`` defaults to where ``G`` lives. The same path
    as ``G.generate`` (:func:`stylegan.networks.layers.seeds_to_images`), bit for bit.
    """
    G, _, batch_size = prepare_rendering(G, device, noise_mode, batch_size)
    images = seeds_to_images(
        G, seeds, truncation_psi, truncation_cutoff, class_idx, noise_mode, batch_size, progress
    )
    return images.numpy()


def save_images(
    images: np.ndarray,
    seeds: Sequence[int] | str,
    outdir: str | Path,
    grid: bool = False,
    grid_cols: int | None = None,
) -> list[Path]:
    """Write ``seed0000.png``-style files (and ``grid.png`` if asked) into ``outdir``."""
    seeds = parse_seeds(seeds)
    images = np.asarray(images)
    if len(seeds) != len(images):
        raise StyleGANError(f"{len(images)} images but {len(seeds)} seeds; give one seed per image")
    outdir = Path(outdir)
    paths = [save_image(img, outdir / f"seed{seed:04d}.png") for img, seed in zip(images, seeds)]
    if grid:
        paths.append(save_image(make_grid(images, cols=grid_cols), outdir / "grid.png"))
    return paths


def write_images(
    G: nn.Module,
    seeds: Sequence[int] | str,
    outdir: str | Path,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    noise_mode: str = "const",
    batch_size: int = 8,
    device=None,
    grid: bool = False,
    progress: bool = False,
) -> tuple[int, Path | None]:
    """Render and write ``seed0000.png``-style files batch by batch: memory stays flat for any
    number of seeds and an interruption keeps every image written so far. Returns the number
    written and the path of ``grid.png`` (only if ``grid``; its size is checked first)."""
    seeds = parse_seeds(seeds)
    figure = None
    if grid:
        cols = math.ceil(math.sqrt(len(seeds)))  # as make_grid lays them out
        figure = (math.ceil(len(seeds) / cols), cols, "--grid")
    G, _, batch_size = prepare_rendering(G, device, noise_mode, batch_size, figure)
    outdir = Path(outdir)
    kept, written = [], 0
    batches = iter_seed_images(
        G, seeds, truncation_psi, truncation_cutoff, class_idx, noise_mode, batch_size, progress
    )
    for chunk, images in batches:
        for seed, image in zip(chunk, images.numpy()):
            save_image(image, outdir / f"seed{seed:04d}.png")
            written += 1
        if grid:
            kept.append(images)
    grid_path = None
    if grid:
        grid_path = save_image(make_grid(torch.cat(kept).numpy()), outdir / "grid.png")
    return written, grid_path
