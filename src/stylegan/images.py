"""Converting generator output to pictures: uint8 images, grids and PNG files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from stylegan.errors import StyleGANError, raise_if_disk_full


def to_uint8_nhwc(img: torch.Tensor, drange: tuple[float, float] = (-1, 1)) -> torch.Tensor:
    """Map ``[N, C, H, W]`` floats in ``drange`` to ``[N, H, W, C]`` uint8 on the CPU, rounded.

    For pictures; the metrics feed detectors through ``metrics.runner.to_uint8_nchw`` instead,
    which keeps NCHW and the official arithmetic.
    """
    lo, hi = drange
    x = (img.detach().float() - lo) * (255 / (hi - lo))
    x = x.round().clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu()


def make_grid(images: np.ndarray | torch.Tensor, cols: int | None = None) -> np.ndarray:
    """Tile ``[N, H, W, C]`` uint8 images into one ``[rows*H, cols*W, C]`` array."""
    images = np.asarray(images)
    n, h, w, c = images.shape
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    grid = np.zeros([rows * h, cols * w, c], dtype=images.dtype)
    for i in range(n):
        r, q = divmod(i, cols)
        grid[r * h : (r + 1) * h, q * w : (q + 1) * w] = images[i]
    return grid


MAX_FIGURE_PIXELS = 2**28  # 16384 x 16384: about 0.8 GB as RGB, the most a figure may hold


def check_figure_size(rows: int, cols: int, height: int, width: int, what: str = "figure") -> None:
    """Refuse, before any work, a figure (grid) too large to hold in memory or to view."""
    pixels = rows * cols * height * width
    if pixels > MAX_FIGURE_PIXELS:
        raise StyleGANError(
            f"{what} of {rows} x {cols} images at {width}x{height} px would be {pixels / 1e6:,.0f} "
            f"megapixels (at most {MAX_FIGURE_PIXELS / 1e6:,.0f}); use fewer seeds or values"
        )


def save_image(array: np.ndarray | torch.Tensor, path: str | Path) -> Path:
    """Save one ``[H, W, C]`` uint8 image (C = 1 or 3) as PNG, creating parent folders.

    Written under a temporary name and renamed, so an interruption or a full disk never leaves
    a half-written PNG under the final name.
    """
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        Image.fromarray(array).save(tmp, format="PNG")
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise_if_disk_full(err, path, needed_bytes=array.nbytes)
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def psnr(
    first: np.ndarray | torch.Tensor,
    second: np.ndarray | torch.Tensor,
    drange: tuple[float, float] = (-1, 1),
) -> float:
    """Peak signal-to-noise ratio in dB of two images (or batches, over all their pixels) with
    values in ``drange``: ``10 log10(peak^2 / mse)``, ``inf`` for identical images. Uint8
    pictures in 0..255 take ``drange=(0, 255)``."""
    peak = drange[1] - drange[0]
    first, second = torch.as_tensor(first), torch.as_tensor(second)
    mse = float((first.double() - second.double()).square().mean())
    return float("inf") if mse == 0 else 10 * float(np.log10(peak**2 / mse))
