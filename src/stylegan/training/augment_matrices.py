"""The numeric building blocks of ADA's pipeline (:mod:`stylegan.training.augment`): the
wavelet low-pass filters, the homogeneous 2-D and 3-D matrices, one per image, that the
geometric and colour stages compose, and the filter bank of image-space filtering.

Constants are computed in float64 and rounded to the default dtype, so that every matrix is
bit for bit equal to NVIDIA's ``training/augment.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

# Decomposition low-pass filters of two orthogonal wavelets (numeric data, as published): sym6
# resamples the geometric transforms, sym2 builds the filter bank of image-space filtering.
WAVELETS: dict[str, list[float]] = {
    "sym2": [
        -0.12940952255092145, 0.22414386804185735, 0.836516303737469, 0.48296291314469025,
    ],
    "sym6": [
        0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
        0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
        -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036,
        -0.007800708325034148,
    ],
}  # fmt: skip

# ---- homogeneous matrices, one per image ------------------------------------------------------


def _constant(value: np.ndarray, device: torch.device | str | None) -> torch.Tensor:
    """A constant in the default dtype (that of the random draws), computed in float64 first
    so that it rounds as NVIDIA's does."""
    return torch.as_tensor(value, dtype=torch.get_default_dtype(), device=device)


def matrix(*rows: Sequence[Any], device: torch.device | str | None = None) -> torch.Tensor:
    """Stack rows of Python numbers and ``[N]`` tensors into ``[N, R, C]``, or ``[R, C]`` when
    every entry is a number (in the default dtype, like the parameters the pipeline draws)."""
    elements = [x for row in rows for x in row]
    reference = next((x for x in elements if isinstance(x, torch.Tensor)), None)
    if reference is None:
        return _constant(np.asarray(rows), device)
    elements = [
        x if isinstance(x, torch.Tensor) else torch.full_like(reference, float(x)) for x in elements
    ]
    return torch.stack(elements, dim=-1).reshape(*reference.shape, len(rows), -1)


def translate2d(tx: Any, ty: Any, device: torch.device | str | None = None) -> torch.Tensor:
    """Homogeneous 2-D translation by ``(tx, ty)``."""
    return matrix([1, 0, tx], [0, 1, ty], [0, 0, 1], device=device)


def scale2d(sx: Any, sy: Any, device: torch.device | str | None = None) -> torch.Tensor:
    """Homogeneous 2-D scaling by ``sx`` along x and ``sy`` along y."""
    return matrix([sx, 0, 0], [0, sy, 0], [0, 0, 1], device=device)


def rotate2d(theta: torch.Tensor) -> torch.Tensor:
    """Homogeneous 2-D rotation ``[[cos, -sin], [sin, cos]]`` (clockwise on screen, where y
    points down); as the inverse transform ``G_inv`` it turns the content counter-clockwise."""
    # sin(-theta) rather than -sin(theta): vectorised sines need not be exactly odd, and this
    # keeps the matrix bit for bit equal to NVIDIA's.
    return matrix(
        [torch.cos(theta), torch.sin(-theta), 0], [torch.sin(theta), torch.cos(theta), 0], [0, 0, 1]
    )


def translate3d(tx: Any, ty: Any, tz: Any) -> torch.Tensor:
    """Homogeneous 3-D translation (a colour offset)."""
    return matrix([1, 0, 0, tx], [0, 1, 0, ty], [0, 0, 1, tz], [0, 0, 0, 1])


def scale3d(sx: Any, sy: Any, sz: Any) -> torch.Tensor:
    """Homogeneous 3-D scaling (a colour gain)."""
    return matrix([sx, 0, 0, 0], [0, sy, 0, 0], [0, 0, sz, 0], [0, 0, 0, 1])


def rotate3d(axis: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Rotation by ``theta`` around the unit ``axis`` (Rodrigues' formula), homogeneous 4x4."""
    vx, vy, vz = axis[..., 0], axis[..., 1], axis[..., 2]
    sin, cos = torch.sin(theta), torch.cos(theta)
    cc = 1 - cos
    return matrix(
        [vx * vx * cc + cos, vx * vy * cc - vz * sin, vx * vz * cc + vy * sin, 0],
        [vy * vx * cc + vz * sin, vy * vy * cc + cos, vy * vz * cc - vx * sin, 0],
        [vz * vx * cc - vy * sin, vz * vy * cc + vx * sin, vz * vz * cc + cos, 0],
        [0, 0, 0, 1],
    )


def filter_bank(num_bands: int = 4) -> np.ndarray:
    """``[num_bands, taps]`` band-pass filters, octave by octave from Nyquist down, built from
    sym2 so that their sum is a unit impulse (all gains one = the identity)."""
    lowpass = np.asarray(WAVELETS["sym2"])
    highpass = lowpass * ((-1) ** np.arange(lowpass.size))  # H(-z)
    lowpass2 = np.convolve(lowpass, lowpass[::-1]) / 2  # H(z) H(1/z) / 2: half-band, zero phase
    highpass2 = np.convolve(highpass, highpass[::-1]) / 2
    bank = np.eye(num_bands, 1)
    for i in range(1, num_bands):
        # Stretch the filters found so far by 2 (one octave down), then split the top band.
        bank = np.dstack([bank, np.zeros_like(bank)]).reshape(num_bands, -1)[:, :-1]
        bank = np.stack([np.convolve(row, lowpass2) for row in bank])
        start = (bank.shape[1] - highpass2.size) // 2
        bank[i, start : start + highpass2.size] += highpass2
    return bank
