"""Sample grids: the fixed reals (``reals.png``) and seeds whose fakes (``fakes*.png``) show a
run's progress."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stylegan.images import make_grid, save_image, to_uint8_nhwc
from stylegan.latents import z_from_seeds
from stylegan.training.config import TrainingConfig


@dataclass
class SampleGrid:
    """Fixed reals and latents shown in ``reals.png`` and every ``fakes*.png``."""

    columns: int
    rows: int
    reals: np.ndarray  # uint8 [N, H, W, C]
    z: torch.Tensor  # latents of seeds 0 .. N-1 (as `stylegan generate --seeds` draws them)
    c: torch.Tensor


def make_sample_grid(dataset, config: TrainingConfig, z_dim: int) -> SampleGrid:
    """Pick the reals (grouped by class for conditional runs) and the fixed seeds for fakes."""
    res = dataset.resolution
    if config.grid_size is not None:
        columns, rows = config.grid_size
    else:
        columns, rows = int(np.clip(1280 // res, 4, 16)), int(np.clip(720 // res, 4, 12))
    rnd = np.random.RandomState(config.random_seed)
    n = columns * rows
    if not dataset.has_labels:
        order = np.arange(len(dataset))
        rnd.shuffle(order)
        indices = [int(order[i % len(order)]) for i in range(n)]
    else:
        groups: dict[tuple, list[int]] = {}
        for i in range(len(dataset)):
            groups.setdefault(tuple(dataset.get_label(i).tolist()), []).append(i)
        keys = sorted(groups, reverse=True)
        for key in keys:
            rnd.shuffle(groups[key])
        indices = []
        for row in range(rows):  # one class per row, cycling through the classes
            members = groups[keys[row % len(keys)]]
            start = (row // len(keys)) * columns
            indices += [members[(start + col) % len(members)] for col in range(columns)]
    items = [dataset[i] for i in indices]
    reals = np.stack([img.transpose(1, 2, 0) for img, _ in items])
    c = torch.from_numpy(np.stack([label for _, label in items])).to(torch.float32)
    z = z_from_seeds(list(range(n)), z_dim)
    return SampleGrid(columns, rows, reals, z, c)


@torch.no_grad()
def save_fakes(G_ema, grid: SampleGrid, path: Path, batch_size: int = 32) -> Path:
    """Render the grid's seeds with G_ema (constant noise) into one PNG."""
    device = next(G_ema.parameters()).device
    images = []
    for z, c in zip(grid.z.split(batch_size), grid.c.split(batch_size), strict=True):
        img = G_ema(z.to(device), c.to(device), truncation_psi=1, noise_mode="const")
        images.append(to_uint8_nhwc(img))
    return save_image(make_grid(torch.cat(images).numpy(), cols=grid.columns), path)
