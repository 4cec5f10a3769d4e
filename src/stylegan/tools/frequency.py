"""What kind of change a difference image is: its energy by spatial frequency.

Used to show what style mixing does (the StyleGAN paper, section 3.1). A change of colour is
energy at frequency 0 (each channel's mean moves); a change of pose or shape moves edges, which
is energy at low non-zero frequencies (a few cycles per image); texture and fine detail sit at
high frequencies. Frequencies are in cycles per pixel (Nyquist 0.5), radially:
``|f| = sqrt(fx^2 + fy^2)``. Energies include the mean (Parseval: the bins sum to the image's
sum of squares).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.latents import parse_seeds
from stylegan.tools.generate import prepare_generator, seeds_to_ws, synthesize_float
from stylegan.tools.mixing import parse_styles


def _power(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(|FFT|^2 per image summed over channels, |f| per bin)``, Parseval-normalised so that
    a bin's powers sum to the image's sum of squares."""
    if images.ndim != 4:
        raise StyleGANError(f"expected images [N, C, H, W], got shape {list(images.shape)}")
    h, w = images.shape[-2:]
    spectrum = torch.fft.fft2(images.to(torch.float64))
    power = spectrum.abs().square().sum(dim=1) / (h * w)  # [N, H, W]
    fy = torch.fft.fftfreq(h, dtype=torch.float64)
    fx = torch.fft.fftfreq(w, dtype=torch.float64)
    radius = (fy[:, None].square() + fx[None, :].square()).sqrt()
    return power, radius


def radial_power_spectrum(
    images: torch.Tensor, num_bins: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """``(bin centres in cycles/pixel, mean power per bin)`` averaged over the images; the last
    bin also holds the corners beyond Nyquist (|f| up to 0.5 * sqrt(2))."""
    power, radius = _power(images)
    edges = torch.linspace(0, 0.5, num_bins + 1, dtype=torch.float64)
    index = torch.bucketize(radius, edges[1:-1], right=True).clamp(max=num_bins - 1)
    mean_power = power.mean(dim=0)
    totals = torch.zeros(num_bins, dtype=torch.float64).index_add_(
        0, index.flatten(), mean_power.flatten()
    )
    counts = torch.bincount(index.flatten(), minlength=num_bins).to(torch.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    return centres.numpy(), (totals / counts.clamp(min=1)).numpy()


def band_fraction(images: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Per image ``[N]``: the share of its energy at ``low < |f| <= high`` cycles/pixel
    (``low < 0`` includes frequency 0); 0 for an image that is all zeros."""
    power, radius = _power(images)
    total = power.sum(dim=[1, 2])
    inside = (power * ((radius > low) & (radius <= high))).sum(dim=[1, 2])
    return torch.where(total > 0, inside / total.clamp(min=1e-300), torch.zeros_like(total))


def colour_fraction(images: torch.Tensor) -> torch.Tensor:
    """Per image: the share of the energy at frequency 0, i.e. in each channel's mean."""
    return band_fraction(images, -1.0, 0.0)


def high_frequency_fraction(images: torch.Tensor, cutoff: float = 0.25) -> torch.Tensor:
    """Per image: the share of the energy above ``cutoff`` cycles/pixel."""
    _check_cutoff(cutoff)
    return band_fraction(images, cutoff, 1.0)


def low_frequency_fraction(images: torch.Tensor, cutoff: float = 0.25) -> torch.Tensor:
    """Per image: the share of the energy at non-zero frequencies up to ``cutoff``."""
    _check_cutoff(cutoff)
    return band_fraction(images, 0.0, cutoff)


def _check_cutoff(cutoff: float) -> None:
    if not 0 < cutoff < 0.5 * 2**0.5:
        raise StyleGANError(f"cutoff must lie in (0, 0.707) cycles/pixel, got {cutoff}")


@dataclass(frozen=True)
class MixingFrequency:
    """What copying styles changed, averaged over seed pairs."""

    layers: tuple[int, ...]
    colour_fraction: float  # share of the change's energy at frequency 0 (channel means)
    low_frequency_fraction: float  # ... at 0 < |f| <= cutoff: layout, pose, shape
    high_frequency_fraction: float  # ... above the cutoff: texture, fine detail
    energy: float  # mean square of the change (images in [-1, 1])


@torch.no_grad()
def style_mixing_frequency(
    G: nn.Module,
    seeds_a: Sequence[int] | str,
    seeds_b: Sequence[int] | str,
    styles: str | Sequence[int],
    cutoff: float = 0.125,
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
    batch_size: int = 16,
    device=None,
) -> MixingFrequency:
    """Copy seed B's ``w`` into seed A's at ``styles`` (coarse / middle / fine or layer
    indices) and measure the frequency content of ``image(mixed) - image(A)``; ``cutoff``
    (cycles/pixel) splits low from high frequencies (1/8: four cycles across a 32 px image)."""
    seeds_a, seeds_b = parse_seeds(seeds_a), parse_seeds(seeds_b)
    if len(seeds_a) != len(seeds_b) or not seeds_a:
        raise StyleGANError("give as many B seeds as A seeds (at least one pair)")
    G, device = prepare_generator(G, device)
    layers = parse_styles(styles, G.num_ws)
    ws_a = seeds_to_ws(G, seeds_a, truncation_psi, device=device)
    ws_b = seeds_to_ws(G, seeds_b, truncation_psi, device=device)
    mixed = ws_a.clone()
    mixed[:, layers] = ws_b[:, layers]
    images = synthesize_float(G, torch.cat([ws_a, mixed]), noise_mode, batch_size)
    diff = images[len(seeds_a) :] - images[: len(seeds_a)]
    return MixingFrequency(
        layers=tuple(layers),
        colour_fraction=float(colour_fraction(diff).mean()),
        low_frequency_fraction=float(low_frequency_fraction(diff, cutoff).mean()),
        high_frequency_fraction=float(high_frequency_fraction(diff, cutoff).mean()),
        energy=float(diff.to(torch.float64).square().mean()),
    )
