"""The stochastic-variation figure of the StyleGAN paper (Fig. 4): what the noise inputs change.

For each seed the latent ``w`` is held fixed and only the per-layer noise is redrawn. The figure
shows a few of those draws and, last in each row, the per-pixel standard deviation over many
draws as a grey image: bright where noise matters (hair, skin pores), black where it does not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from stylegan.errors import StyleGANError
from stylegan.images import make_grid, to_uint8_nhwc
from stylegan.latents import parse_seeds
from stylegan.tools.generate import check_batch_size, prepare_rendering, seeds_to_ws


def noise_rng_seed(noise_seed: int, image_seed: int) -> int:
    """The torch seed for the noise draws of one image seed, independent of the other seeds."""
    return int(np.random.SeedSequence([noise_seed, image_seed]).generate_state(1)[0])


@torch.no_grad()
def noise_draws(
    G: nn.Module,
    w: torch.Tensor,
    num_draws: int,
    seed: int = 0,
    batch_size: int = 8,
    keep: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Render ``w [num_ws, w_dim]`` ``num_draws`` times with fresh random noise.

    Returns the first ``keep`` images ``[keep, C, H, W]`` (float) and the per-pixel standard
    deviation over all draws ``[H, W]`` (averaged over colour channels). The draws are seeded with
    ``seed``, so the same call gives the same result on the same device.
    """
    if num_draws < 2 or keep > num_draws:
        raise StyleGANError(
            f"need at least 2 noise draws and no fewer than the {keep} shown, got {num_draws}"
        )
    batch_size = check_batch_size(batch_size)
    device = w.device
    kept: list[torch.Tensor] = []
    ref = total = total_sq = None
    # Fork the global RNG (noise_mode="random" draws from it) so callers' streams are untouched.
    on_cpu = device.type == "cpu"
    fork = dict(devices=[]) if on_cpu else dict(devices=[device], device_type=device.type)
    with torch.random.fork_rng(**fork):
        torch.manual_seed(seed)
        for start in range(0, num_draws, batch_size):
            n = min(batch_size, num_draws - start)
            img = G.synthesis(w[None].expand(n, -1, -1), noise_mode="random").cpu().double()
            kept.append(img[: max(0, keep - start)])
            if ref is None:
                ref = img[:1]
                total = torch.zeros_like(ref[0])
                total_sq = torch.zeros_like(ref[0])
            # Deviations from the first draw: identical draws give exactly zero variance.
            d = img - ref
            total += d.sum(0)
            total_sq += (d * d).sum(0)
    mean = total / num_draws
    var = (total_sq / num_draws - mean * mean).clamp_min(0)
    return torch.cat(kept).float(), var.sqrt().mean(0).float()


# Variation below 1/100 of a uint8 step (images span [-1, 1]) cannot be seen in any draw; it is
# float rounding between batch sizes, and scaling it up to white would show noise that isn't there.
INVISIBLE_STD = 2 / 255 / 100


def std_to_grey(std: torch.Tensor, channels: int = 3) -> np.ndarray:
    """Normalise a std map ``[H, W]`` by its maximum into a uint8 ``[H, W, channels]`` picture.

    A map whose maximum is below :data:`INVISIBLE_STD` stays black.
    """
    peak = float(std.max())
    scaled = std / peak if peak >= INVISIBLE_STD else torch.zeros_like(std)
    grey = (scaled * 255).round().clamp(0, 255).to(torch.uint8).numpy()
    return np.repeat(grey[:, :, None], channels, axis=2)


def noise_variation_figure(
    G: nn.Module,
    seeds: Sequence[int] | str,
    num_samples: int = 4,
    num_std: int = 100,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    seed: int = 0,
    batch_size: int = 8,
    device=None,
    progress: bool = False,
) -> np.ndarray:
    """One row per seed: ``num_samples`` noise draws, then the std over ``num_std`` draws.

    Returns uint8 ``[len(seeds) H, (num_samples + 1) W, C]``. Each std map is scaled to its own
    maximum; a network without active noise (all ``noise_strength`` 0) gives black maps.
    """
    seeds = parse_seeds(seeds)
    if num_samples < 1:
        raise StyleGANError(f"show at least one noise sample, got {num_samples}")
    figure = (len(seeds), num_samples + 1, "noise figure")
    G, device, batch_size = prepare_rendering(G, device, batch_size=batch_size, figure=figure)
    ws = seeds_to_ws(G, seeds, truncation_psi, truncation_cutoff, class_idx, device=device)
    rows = []
    for image_seed, w in zip(tqdm(seeds, desc="noise", disable=not progress), ws):
        samples, std = noise_draws(
            G,
            w,
            max(num_std, num_samples),
            noise_rng_seed(seed, image_seed),
            batch_size,
            keep=num_samples,
        )
        row = to_uint8_nhwc(samples).numpy()
        rows.append(np.concatenate([row, std_to_grey(std, row.shape[3])[None]]))
    return make_grid(np.concatenate(rows), cols=num_samples + 1)
