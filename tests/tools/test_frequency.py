"""Frequency content of images, checked on images whose spectra are known exactly."""

from __future__ import annotations

import math

import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.tools.frequency import (
    band_fraction,
    colour_fraction,
    high_frequency_fraction,
    low_frequency_fraction,
    radial_power_spectrum,
)

SIZE = 32


def _wave(cycles_x: int, cycles_y: int = 0) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    phase = 2 * math.pi * (cycles_x * x + cycles_y * y) / SIZE
    return torch.cos(phase).to(torch.float64)[None, None].repeat(1, 3, 1, 1)


def test_constant_is_all_colour():
    img = torch.full([2, 3, SIZE, SIZE], 0.5, dtype=torch.float64)
    torch.testing.assert_close(colour_fraction(img), torch.ones(2, dtype=torch.float64))
    assert float(high_frequency_fraction(img).max()) == 0
    assert float(low_frequency_fraction(img).max()) == 0


def test_sinusoids_land_in_their_band():
    slow = _wave(2)  # 2 cycles per 32 px = 0.0625 cycles/pixel
    torch.testing.assert_close(low_frequency_fraction(slow, 0.125), torch.ones(1, dtype=slow.dtype))
    assert float(colour_fraction(slow)) < 1e-12
    fast = _wave(12, 5)  # |f| = 13 / 32 = 0.406
    torch.testing.assert_close(high_frequency_fraction(fast, 0.25), torch.ones(1, dtype=fast.dtype))
    checker = _wave(16, 16)  # Nyquist on both axes: |f| = 0.707, a corner bin
    torch.testing.assert_close(
        band_fraction(checker, 0.7, 0.71), torch.ones(1, dtype=torch.float64)
    )
    mixed = slow + 1.0  # half the energy... of a cosine (mean square 1/2) plus a constant (1)
    torch.testing.assert_close(colour_fraction(mixed), torch.tensor([2 / 3], dtype=torch.float64))


def test_white_noise_spreads_by_area():
    torch.manual_seed(0)
    noise = torch.randn(64, 3, SIZE, SIZE)
    fraction = float(high_frequency_fraction(noise, 0.25).mean())
    # Share of the unit frequency square outside the disc of radius 0.25: 1 - pi / 16.
    assert fraction == pytest.approx(1 - math.pi / 16, abs=0.01)
    freqs, power = radial_power_spectrum(noise, num_bins=8)
    assert freqs.shape == power.shape == (8,)
    assert power.std() / power.mean() < 0.05  # flat


def test_energy_is_conserved_and_errors():
    torch.manual_seed(1)
    img = torch.randn(3, 3, 16, 16)
    parts = colour_fraction(img) + low_frequency_fraction(img) + high_frequency_fraction(img)
    torch.testing.assert_close(parts, torch.ones(3, dtype=torch.float64))
    assert float(colour_fraction(torch.zeros(1, 3, 8, 8))) == 0
    with pytest.raises(StyleGANError, match="cutoff"):
        high_frequency_fraction(img, cutoff=0.9)
    with pytest.raises(StyleGANError, match="images"):
        colour_fraction(torch.zeros(3, 8, 8))
