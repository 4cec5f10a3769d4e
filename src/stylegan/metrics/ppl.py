"""Perceptual path length (PPL): the sampling side, independent of the perceptual network.

PPL (Karras et al. 2019) measures how much the image changes, perceptually, for a tiny step
``epsilon`` along an interpolation path between two random latents: ``d(G(l(t)), G(l(t + eps)))
/ eps^2`` averaged over pairs, after dropping the extreme 1 % at either end. This module draws the
pairs, runs the generator and prepares the images exactly as NVIDIA's metric does; the distance
itself (LPIPS on VGG16 features in the papers) is a ``distance_fn(img0, img1) -> [N]`` supplied
by the caller.

Official presets: ``ppl_zfull`` / ``ppl_wfull`` / ``ppl_zend`` / ``ppl_wend`` (StyleGAN, StyleGAN2,
2-ADA) use 50k samples, ``epsilon=1e-4``, ``crop=True``, batch 2; StyleGAN3's ``ppl2_wend`` uses
``space='w', sampling='end', crop=False``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["ppl_from_samples", "ppl_preprocess", "ppl_samples", "unit_slerp"]


def unit_slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Spherical interpolation between the directions of ``a`` and ``b`` (last dim), unit-norm.

    As in the official metric both ends are normalised first and the result is a unit vector:
    for Gaussian z only the direction matters once the mapping network normalises its input, and
    the great circle keeps every interpolant at the "typical" radius. ``t`` broadcasts against
    ``a[..., :1]``; ``t`` outside [0, 1] keeps going round the circle. (The videos' norm-keeping
    interpolation is :func:`stylegan.tools.interpolate.slerp`.)
    """
    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    d = (a * b).sum(dim=-1, keepdim=True)
    p = t * torch.acos(d.clamp(-1, 1))  # round-off can put d a hair outside [-1, 1]
    c = b - d * a
    c = c / c.norm(dim=-1, keepdim=True)
    out = a * torch.cos(p) + c * torch.sin(p)
    return out / out.norm(dim=-1, keepdim=True)


def ppl_preprocess(
    img: torch.Tensor, crop: bool = True, img_resolution: int | None = None
) -> torch.Tensor:
    """Prepare generator output ``[N, C, H, H]`` in [-1, 1] for the distance, as the official.

    ``crop``: keep rows ``3H/8 .. 7H/8`` and columns ``2H/8 .. 6H/8`` (with ``H // 8`` as the unit),
    the face region of FFHQ-aligned images, so the background does not dominate. Then area-average
    by ``factor = img_resolution // 256`` when that is above 1. Note the factor comes from the
    generator's full resolution even after cropping, as in the official code: a cropped 1024 px
    image ends at 128 px, an uncropped one at 256 px. Finally [-1, 1] -> [0, 255] and grayscale is
    repeated to 3 channels, the input range and channels the official VGG16/LPIPS expects.
    """
    if img.ndim != 4:
        raise ValueError(f"images must be [N, C, H, W], got {tuple(img.shape)}")
    if img_resolution is None:
        img_resolution = img.shape[-1]
    if crop:
        if img.shape[2] != img.shape[3]:
            raise ValueError(f"crop needs square images, got {img.shape[2]}x{img.shape[3]}")
        u = img.shape[2] // 8
        img = img[:, :, u * 3 : u * 7, u * 2 : u * 6]
    factor = img_resolution // 256
    if factor > 1:
        img = F.avg_pool2d(img, kernel_size=factor)
    img = (img + 1) * (255 / 2)
    if img.shape[1] == 1:
        img = img.repeat([1, 3, 1, 1])
    return img


def _default_device(G: Any) -> torch.device:
    try:
        return next(G.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def _noise_buffers(G: Any) -> list[torch.Tensor]:
    if not hasattr(G, "named_buffers"):
        return []
    return [
        buf
        for name, buf in G.named_buffers()
        if name == "noise_const" or name.endswith(".noise_const")
    ]


@torch.no_grad()
def ppl_samples(
    G: Any,
    distance_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    num_samples: int,
    epsilon: float = 1e-4,
    space: str = "z",
    sampling: str = "full",
    crop: bool = True,
    batch_size: int = 2,
    device: torch.device | str | None = None,
    seed: int = 0,
    c_sampler: Callable[[int], torch.Tensor] | None = None,
    synthesis_kwargs: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Per-pair path-length samples ``distance_fn(img(t), img(t + eps)) / eps^2``, float64 ``[N]``.

    Per pair, as the official sampler: ``t ~ U[0, 1)`` for ``sampling='full'``; ``t = 0`` for
    ``'end'`` (the official code draws ``U[0, 1) * 0``, so only the start of the path is used,
    although the StyleGAN paper writes ``t in {0, 1}``; both ends have the same distribution
    since the two latents are exchangeable). ``space='z'``: slerp between two Gaussian z, then
    map; ``space='w'``: map both z (no truncation), then lerp every w. Both endpoints share one
    label ``c``: from ``c_sampler(n)`` if given (the official draws labels of random dataset
    items), else uniform one-hot classes for a conditional ``G``. Images come from
    ``G.synthesis(ws, noise_mode='const', force_fp32=True, **synthesis_kwargs)`` so the two
    images of a pair share their noise and differ only through the latent; like the official, the
    ``noise_const`` buffers are redrawn for every batch so noise still varies across pairs (the
    buffers are restored afterwards, leaving ``G`` as it was). Images then go through
    :func:`ppl_preprocess`.

    Randomness comes from a ``torch.Generator`` on ``device`` seeded with ``seed``, so results are
    reproducible for a given device, ``seed`` and ``batch_size``. ``G`` must already be on
    ``device`` (default: the device of its parameters). ``progress(n_done)`` is called per batch.
    """
    if space not in ("z", "w"):
        raise ValueError(f"space must be 'z' or 'w', got {space!r}")
    if sampling not in ("full", "end"):
        raise ValueError(f"sampling must be 'full' or 'end', got {sampling!r}")
    if num_samples < 1 or batch_size < 1:
        raise ValueError(
            f"num_samples and batch_size must be >= 1, got {num_samples}, {batch_size}"
        )
    device = _default_device(G) if device is None else torch.device(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    synthesis_kwargs = dict(synthesis_kwargs or {})
    synthesis_kwargs.setdefault("force_fp32", True)
    noise_bufs = _noise_buffers(G)
    saved = [buf.clone() for buf in noise_bufs]

    out = []
    try:
        done = 0
        while done < num_samples:
            n = min(batch_size, num_samples - done)
            t = torch.rand([n], generator=gen, device=device) * (1 if sampling == "full" else 0)
            z0, z1 = torch.randn([2 * n, G.z_dim], generator=gen, device=device).chunk(2)
            if c_sampler is not None:
                c = torch.as_tensor(c_sampler(n), device=device, dtype=torch.float32)
            else:
                c = torch.zeros([n, G.c_dim], device=device)
                if G.c_dim > 0:
                    idx = torch.randint(G.c_dim, [n], generator=gen, device=device)
                    c[torch.arange(n, device=device), idx] = 1
            cc = torch.cat([c, c])

            if space == "w":
                w0, w1 = G.mapping(z=torch.cat([z0, z1]), c=cc).chunk(2)
                tw = t[:, None, None]
                wt0 = w0.lerp(w1, tw)
                wt1 = w0.lerp(w1, tw + epsilon)
            else:
                zt0 = unit_slerp(z0, z1, t[:, None])
                zt1 = unit_slerp(z0, z1, t[:, None] + epsilon)
                wt0, wt1 = G.mapping(z=torch.cat([zt0, zt1]), c=cc).chunk(2)

            for buf in noise_bufs:
                buf.copy_(torch.randn(buf.shape, generator=gen, device=device, dtype=buf.dtype))

            img = G.synthesis(ws=torch.cat([wt0, wt1]), noise_mode="const", **synthesis_kwargs)
            img = ppl_preprocess(img.to(torch.float32), crop=crop, img_resolution=G.img_resolution)
            img0, img1 = img.chunk(2)
            dist = torch.as_tensor(distance_fn(img0, img1)).reshape(-1)
            if dist.shape[0] != n:
                raise ValueError(f"distance_fn returned {dist.shape[0]} values for {n} pairs")
            out.append((dist.to(torch.float64) / epsilon**2).cpu())
            done += n
            if progress is not None:
                progress(done)
    finally:
        for buf, orig in zip(noise_bufs, saved):
            buf.copy_(orig)
    return torch.cat(out).numpy()


def ppl_from_samples(dist: Any) -> float:
    """PPL from per-pair samples: drop values outside the 1st..99th percentiles, then the mean.

    As the official: the low cut is ``np.percentile(dist, 1, method='lower')`` and the high cut
    ``np.percentile(dist, 99, method='higher')`` (both actual sample values, kept inclusively),
    since a few pairs straddling a sharp transition would otherwise dominate the mean.
    """
    dist = np.asarray(dist, dtype=np.float64).reshape(-1)
    if dist.size == 0:
        raise ValueError("no PPL samples")
    lo = np.percentile(dist, 1, method="lower")
    hi = np.percentile(dist, 99, method="higher")
    return float(dist[(dist >= lo) & (dist <= hi)].mean())
