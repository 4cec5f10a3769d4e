"""Adaptive discriminator augmentation (ADA, Karras et al. 2020, "Training Generative
Adversarial Networks with Limited Data").

:class:`AugmentPipe` applies the paper's augmentations to every image D sees, reals and fakes
alike, each with probability ``p`` (times its own multiplier). It is differentiable, so G learns
through it, and it never leaks into G's outputs as long as ``p`` stays below about 0.8. The
geometric part builds one inverse 2-D transform per image and resamples once: reflect-pad,
upsample 2x with a symmetric wavelet low-pass (sym6), bilinear ``grid_sample``, downsample 2x,
crop. Colour is a 4x4 matrix on RGB; then image-space filtering, noise and cutout.

Semantics, draw order and constructor arguments follow NVIDIA's ``training/augment.py``
(stylegan2-ada-pytorch), so the same seed gives the same augmentations and an official
snapshot's ``augment_pipe`` state (``p``, ``Hz_geom``, ``Hz_fbank``) maps by name.
:class:`AdaController` moves ``p`` towards the overfitting target ``r_t = E[sign(D(real))]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from stylegan.errors import StyleGANError
from stylegan.ops import upfirdn2d

# Low-pass filters of two orthogonal wavelets (decomposition taps; numeric data).
WAVELETS = {
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

# The presets of NVIDIA's train.py (--augpipe).
AUGPIPE_SPECS: dict[str, dict[str, float]] = {
    "blit": dict(xflip=1, rotate90=1, xint=1),
    "geom": dict(scale=1, rotate=1, aniso=1, xfrac=1),
    "color": dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1),
    "filter": dict(imgfilter=1),
    "noise": dict(noise=1),
    "cutout": dict(cutout=1),
    "bg": dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1),
    "bgc": dict(
        xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
        brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1,
    ),
    "bgcf": dict(
        xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
        brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1, imgfilter=1,
    ),
    "bgcfn": dict(
        xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
        brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1, imgfilter=1, noise=1,
    ),
    "bgcfnc": dict(
        xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
        brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1, imgfilter=1, noise=1,
        cutout=1,
    ),
}  # fmt: skip


# ---- homogeneous transforms, one per image --------------------------------------------------


def _matrix(rows: Sequence[Sequence[Any]], device: torch.device) -> torch.Tensor:
    """Stack scalars and per-image tensors into ``[N, R, C]`` (or ``[R, C]`` if all scalars)."""
    elems = [x for row in rows for x in row]
    ref = next((x for x in elems if isinstance(x, torch.Tensor)), None)
    if ref is None:
        return torch.as_tensor(np.asarray(rows), dtype=torch.float32, device=device)
    elems = [x if isinstance(x, torch.Tensor) else torch.full_like(ref, float(x)) for x in elems]
    return torch.stack(elems, dim=-1).reshape(*ref.shape, len(rows), -1)


def translate2d(tx, ty, device=None) -> torch.Tensor:
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], device)


def scale2d(sx, sy, device=None) -> torch.Tensor:
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], device)


def rotate2d(theta, device=None) -> torch.Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], device)


def translate3d(tx, ty, tz, device=None) -> torch.Tensor:
    return _matrix([[1, 0, 0, tx], [0, 1, 0, ty], [0, 0, 1, tz], [0, 0, 0, 1]], device)


def scale3d(sx, sy, sz, device=None) -> torch.Tensor:
    return _matrix([[sx, 0, 0, 0], [0, sy, 0, 0], [0, 0, sz, 0], [0, 0, 0, 1]], device)


def rotate3d(v: torch.Tensor, theta: torch.Tensor, device=None) -> torch.Tensor:
    """Rotation by ``theta`` around the unit axis ``v`` (Rodrigues), homogeneous 4x4."""
    vx, vy, vz = v[..., 0], v[..., 1], v[..., 2]
    s, c = torch.sin(theta), torch.cos(theta)
    cc = 1 - c
    return _matrix(
        [
            [vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
            [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
            [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
            [0, 0, 0, 1],
        ],
        device,
    )


def _filter_bank() -> np.ndarray:
    """Four band-pass filters splitting the spectrum octave by octave (built from sym2)."""
    lo = np.asarray(WAVELETS["sym2"])
    hi = lo * ((-1) ** np.arange(lo.size))
    lo2 = np.convolve(lo, lo[::-1]) / 2
    hi2 = np.convolve(hi, hi[::-1]) / 2
    bank = np.eye(4, 1)
    for i in range(1, bank.shape[0]):
        bank = np.dstack([bank, np.zeros_like(bank)]).reshape(bank.shape[0], -1)[:, :-1]
        bank = np.stack([np.convolve(row, lo2) for row in bank])
        start = (bank.shape[1] - hi2.size) // 2
        bank[i, start : start + hi2.size] += hi2
    return bank


class AugmentPipe(torch.nn.Module):
    """The ADA augmentations; each one's probability is its multiplier times ``self.p``."""

    def __init__(
        self,
        xflip: float = 0, rotate90: float = 0, xint: float = 0, xint_max: float = 0.125,
        scale: float = 0, rotate: float = 0, aniso: float = 0, xfrac: float = 0,
        scale_std: float = 0.2, rotate_max: float = 1, aniso_std: float = 0.2,
        xfrac_std: float = 0.125,
        brightness: float = 0, contrast: float = 0, lumaflip: float = 0, hue: float = 0,
        saturation: float = 0, brightness_std: float = 0.2, contrast_std: float = 0.5,
        hue_max: float = 1, saturation_std: float = 1,
        imgfilter: float = 0, imgfilter_bands: Sequence[float] = (1, 1, 1, 1),
        imgfilter_std: float = 1,
        noise: float = 0, cutout: float = 0, noise_std: float = 0.1, cutout_size: float = 0.5,
    ):  # fmt: skip
        super().__init__()
        self.register_buffer("p", torch.ones([]))  # overall probability multiplier
        # Pixel blitting.
        self.xflip, self.rotate90, self.xint = float(xflip), float(rotate90), float(xint)
        self.xint_max = float(xint_max)  # of the image size
        # General geometric transforms.
        self.scale, self.rotate, self.aniso = float(scale), float(rotate), float(aniso)
        self.xfrac = float(xfrac)
        self.scale_std, self.rotate_max = float(scale_std), float(rotate_max)  # log2 std; turns
        self.aniso_std, self.xfrac_std = float(aniso_std), float(xfrac_std)
        # Colour.
        self.brightness, self.contrast = float(brightness), float(contrast)
        self.lumaflip, self.hue, self.saturation = float(lumaflip), float(hue), float(saturation)
        self.brightness_std, self.contrast_std = float(brightness_std), float(contrast_std)
        self.hue_max, self.saturation_std = float(hue_max), float(saturation_std)
        # Image-space filtering and corruptions.
        self.imgfilter, self.imgfilter_bands = float(imgfilter), list(imgfilter_bands)
        self.imgfilter_std = float(imgfilter_std)
        self.noise, self.cutout = float(noise), float(cutout)
        self.noise_std, self.cutout_size = float(noise_std), float(cutout_size)
        self.register_buffer("Hz_geom", upfirdn2d.setup_filter(WAVELETS["sym6"]))
        self.register_buffer("Hz_fbank", torch.as_tensor(_filter_bank(), dtype=torch.float32))

    def extra_repr(self) -> str:
        active = [
            name
            for name in (
                "xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac", "brightness",
                "contrast", "lumaflip", "hue", "saturation", "imgfilter", "noise", "cutout",
            )
            if getattr(self, name) > 0
        ]  # fmt: skip
        return f"p={float(self.p):.4f}, augmentations={','.join(active) or 'none'}"

    def forward(self, images: torch.Tensor, debug_percentile: float | None = None) -> torch.Tensor:
        """Augment ``[N, C, H, W]`` images (C = 1 or 3). ``debug_percentile`` in [0, 1] applies
        every enabled augmentation at that percentile of its distribution (for tests/figures)."""
        if not isinstance(images, torch.Tensor) or images.ndim != 4:
            raise StyleGANError("AugmentPipe expects images [N, C, H, W]")
        batch, channels, height, width = images.shape
        device = images.device
        pct = None
        if debug_percentile is not None:
            pct = torch.as_tensor(debug_percentile, dtype=torch.float32, device=device)
        images = self._geometric(images, pct)
        images = self._colour(images, pct)
        if self.imgfilter > 0:
            images = self._filter(images, pct)
        return self._corrupt(images, pct)

    def _chance(self, shape: Sequence[int], multiplier: float, device) -> torch.Tensor:
        """Which images get an augmentation (drawn after its parameters, as the official code)."""
        return torch.rand(list(shape), device=device) < multiplier * self.p

    # -- geometry --------------------------------------------------------------------------------

    def _geometric(self, images: torch.Tensor, pct: torch.Tensor | None) -> torch.Tensor:
        batch, channels, height, width = images.shape
        device = images.device
        eye = torch.eye(3, device=device)
        g_inv = eye  # g_inv @ output pixel = input pixel

        if self.xflip > 0:
            i = torch.floor(torch.rand([batch], device=device) * 2)
            i = torch.where(self._chance([batch], self.xflip, device), i, torch.zeros_like(i))
            if pct is not None:
                i = torch.full_like(i, float(torch.floor(pct * 2)))
            g_inv = g_inv @ scale2d(1 / (1 - 2 * i), torch.ones_like(i))
        if self.rotate90 > 0:
            i = torch.floor(torch.rand([batch], device=device) * 4)
            i = torch.where(self._chance([batch], self.rotate90, device), i, torch.zeros_like(i))
            if pct is not None:
                i = torch.full_like(i, float(torch.floor(pct * 4)))
            g_inv = g_inv @ rotate2d(math.pi / 2 * i)
        if self.xint > 0:
            t = (torch.rand([batch, 2], device=device) * 2 - 1) * self.xint_max
            t = torch.where(self._chance([batch, 1], self.xint, device), t, torch.zeros_like(t))
            if pct is not None:
                t = torch.full_like(t, float((pct * 2 - 1) * self.xint_max))
            g_inv = g_inv @ translate2d(
                -torch.round(t[:, 0] * width), -torch.round(t[:, 1] * height)
            )

        if self.scale > 0:
            s = torch.exp2(torch.randn([batch], device=device) * self.scale_std)
            s = torch.where(self._chance([batch], self.scale, device), s, torch.ones_like(s))
            if pct is not None:
                s = torch.full_like(
                    s, float(torch.exp2(torch.erfinv(pct * 2 - 1) * self.scale_std))
                )
            g_inv = g_inv @ scale2d(1 / s, 1 / s)
        # Rotation before and after the anisotropic scaling, each with p_rot, so that
        # P(pre or post) = rotate * p.
        p_rot = 1 - torch.sqrt((1 - self.rotate * self.p).clamp(0, 1))
        if self.rotate > 0:
            theta = (torch.rand([batch], device=device) * 2 - 1) * math.pi * self.rotate_max
            chosen = torch.rand([batch], device=device) < p_rot
            theta = torch.where(chosen, theta, torch.zeros_like(theta))
            if pct is not None:
                theta = torch.full_like(theta, float((pct * 2 - 1) * math.pi * self.rotate_max))
            g_inv = g_inv @ rotate2d(theta)
        if self.aniso > 0:
            s = torch.exp2(torch.randn([batch], device=device) * self.aniso_std)
            s = torch.where(self._chance([batch], self.aniso, device), s, torch.ones_like(s))
            if pct is not None:
                s = torch.full_like(
                    s, float(torch.exp2(torch.erfinv(pct * 2 - 1) * self.aniso_std))
                )
            g_inv = g_inv @ scale2d(1 / s, s)
        if self.rotate > 0:
            theta = (torch.rand([batch], device=device) * 2 - 1) * math.pi * self.rotate_max
            chosen = torch.rand([batch], device=device) < p_rot
            theta = torch.where(chosen, theta, torch.zeros_like(theta))
            if pct is not None:
                theta = torch.zeros_like(theta)
            g_inv = g_inv @ rotate2d(theta)
        if self.xfrac > 0:
            t = torch.randn([batch, 2], device=device) * self.xfrac_std
            t = torch.where(self._chance([batch, 1], self.xfrac, device), t, torch.zeros_like(t))
            if pct is not None:
                t = torch.full_like(t, float(torch.erfinv(pct * 2 - 1) * self.xfrac_std))
            g_inv = g_inv @ translate2d(-t[:, 0] * width, -t[:, 1] * height)

        if g_inv is eye or torch.equal(g_inv, eye.expand_as(g_inv)):
            return images  # no image drew a transform: skip the (near-identity) resampling
        return self._resample(images, g_inv)

    def _resample(self, images: torch.Tensor, g_inv: torch.Tensor) -> torch.Tensor:
        """Apply ``g_inv`` (per image, in pixels about the centre) with little aliasing."""
        batch, channels, height, width = images.shape
        device = images.device
        # Pad (by reflection) just enough that the transformed image draws on real content.
        cx, cy = (width - 1) / 2, (height - 1) / 2
        corners = _matrix([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], device)
        corners = g_inv @ corners.t()  # [N, xyz, corner]
        pad = self.Hz_geom.shape[0] // 4
        margin = corners[:, :2, :].permute(1, 0, 2).flatten(1)  # [xy, N * corner]
        margin = torch.cat([-margin, margin]).max(dim=1).values  # [x0, y0, x1, y1]
        margin = margin + torch.tensor([pad * 2 - cx, pad * 2 - cy] * 2, device=device)
        margin = margin.max(torch.zeros(4, device=device))
        margin = margin.min(torch.tensor([width - 1, height - 1] * 2, device=device))
        mx0, my0, mx1, my1 = (int(v) for v in margin.ceil().to(torch.int32).tolist())
        images = F.pad(images, [mx0, mx1, my0, my1], mode="reflect")
        g_inv = translate2d((mx0 - mx1) / 2, (my0 - my1) / 2, device=device) @ g_inv

        # Upsample 2x, sample the transformed grid, downsample 2x and crop.
        images = upfirdn2d.upsample2d(images, self.Hz_geom, up=2)
        g_inv = scale2d(2, 2, device=device) @ g_inv @ scale2d(0.5, 0.5, device=device)
        g_inv = (
            translate2d(-0.5, -0.5, device=device) @ g_inv @ translate2d(0.5, 0.5, device=device)
        )
        shape = [batch, channels, (height + pad * 2) * 2, (width + pad * 2) * 2]
        g_inv = (
            scale2d(2 / images.shape[3], 2 / images.shape[2], device=device)
            @ g_inv
            @ scale2d(shape[3] / 2, shape[2] / 2, device=device)
        )
        grid = F.affine_grid(g_inv[:, :2, :].to(images.dtype), shape, align_corners=False)
        images = F.grid_sample(
            images, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        return upfirdn2d.downsample2d(
            images, self.Hz_geom, down=2, padding=-pad * 2, flip_filter=True
        )

    # -- colour ----------------------------------------------------------------------------------

    def _colour(self, images: torch.Tensor, pct: torch.Tensor | None) -> torch.Tensor:
        batch, channels, height, width = images.shape
        device = images.device
        eye = torch.eye(4, device=device)
        c = eye  # c @ colour in = colour out

        if self.brightness > 0:
            b = torch.randn([batch], device=device) * self.brightness_std
            b = torch.where(self._chance([batch], self.brightness, device), b, torch.zeros_like(b))
            if pct is not None:
                b = torch.full_like(b, float(torch.erfinv(pct * 2 - 1) * self.brightness_std))
            c = translate3d(b, b, b) @ c
        if self.contrast > 0:
            k = torch.exp2(torch.randn([batch], device=device) * self.contrast_std)
            k = torch.where(self._chance([batch], self.contrast, device), k, torch.ones_like(k))
            if pct is not None:
                value = torch.exp2(torch.erfinv(pct * 2 - 1) * self.contrast_std)
                k = torch.full_like(k, float(value))
            c = scale3d(k, k, k) @ c
        luma = torch.tensor([1, 1, 1, 0], dtype=torch.float32, device=device) / math.sqrt(3)
        if self.lumaflip > 0:
            i = torch.floor(torch.rand([batch, 1, 1], device=device) * 2)
            i = torch.where(
                self._chance([batch, 1, 1], self.lumaflip, device), i, torch.zeros_like(i)
            )
            if pct is not None:
                i = torch.full_like(i, float(torch.floor(pct * 2)))
            c = (eye - 2 * torch.outer(luma, luma) * i) @ c  # Householder reflection
        if self.hue > 0 and channels > 1:
            theta = (torch.rand([batch], device=device) * 2 - 1) * math.pi * self.hue_max
            chosen = self._chance([batch], self.hue, device)
            theta = torch.where(chosen, theta, torch.zeros_like(theta))
            if pct is not None:
                theta = torch.full_like(theta, float((pct * 2 - 1) * math.pi * self.hue_max))
            c = rotate3d(luma, theta) @ c
        if self.saturation > 0 and channels > 1:
            s = torch.exp2(torch.randn([batch, 1, 1], device=device) * self.saturation_std)
            chosen = self._chance([batch, 1, 1], self.saturation, device)
            s = torch.where(chosen, s, torch.ones_like(s))
            if pct is not None:
                value = torch.exp2(torch.erfinv(pct * 2 - 1) * self.saturation_std)
                s = torch.full_like(s, float(value))
            axis = torch.outer(luma, luma)
            c = (axis + (eye - axis) * s) @ c

        if c is eye:
            return images
        flat = images.reshape(batch, channels, height * width)
        c = c.to(images.dtype)
        if channels == 3:
            flat = c[:, :3, :3] @ flat + c[:, :3, 3:]
        elif channels == 1:
            c = c[:, :3, :].mean(dim=1, keepdim=True)
            flat = flat * c[:, :, :3].sum(dim=2, keepdim=True) + c[:, :, 3:]
        else:
            raise StyleGANError("colour augmentations need RGB (3 channels) or L (1 channel)")
        return flat.reshape(batch, channels, height, width)

    # -- filtering and corruptions -----------------------------------------------------------------

    def _filter(self, images: torch.Tensor, pct: torch.Tensor | None) -> torch.Tensor:
        batch, channels, height, width = images.shape
        device = images.device
        num_bands = self.Hz_fbank.shape[0]
        if len(self.imgfilter_bands) != num_bands:
            raise StyleGANError(f"imgfilter_bands needs {num_bands} entries")
        expected_power = torch.tensor([10, 1, 1, 1], device=device, dtype=torch.float32) / 13
        gain = torch.ones([batch, num_bands], device=device)
        for i, band_strength in enumerate(self.imgfilter_bands):
            t_i = torch.exp2(torch.randn([batch], device=device) * self.imgfilter_std)
            chosen = self._chance([batch], self.imgfilter * band_strength, device)
            t_i = torch.where(chosen, t_i, torch.ones_like(t_i))
            if pct is not None:
                value = torch.exp2(torch.erfinv(pct * 2 - 1) * self.imgfilter_std)
                t_i = (
                    torch.full_like(t_i, float(value))
                    if band_strength > 0
                    else torch.ones_like(t_i)
                )
            t = torch.ones([batch, num_bands], device=device)
            t[:, i] = t_i
            t = t / (expected_power * t.square()).sum(dim=-1, keepdim=True).sqrt()  # keep power
            gain = gain * t
        if torch.equal(gain, torch.ones_like(gain)):
            return images  # no image drew a band gain: the bank sums to the identity filter
        if min(height, width) <= self.Hz_fbank.shape[1] // 2:
            raise StyleGANError(
                f"image-space filtering needs images larger than {self.Hz_fbank.shape[1] // 2} "
                f"px, got {height}x{width}: use an --augpipe without 'f' (e.g. bgc)"
            )
        taps = (
            (gain.to(self.Hz_fbank.dtype) @ self.Hz_fbank)
            .to(images.dtype)
            .unsqueeze(1)
            .repeat([1, channels, 1])
        )
        taps = taps.reshape(batch * channels, 1, -1)
        p = self.Hz_fbank.shape[1] // 2
        x = images.reshape(1, batch * channels, height, width)
        x = F.pad(x, [p, p, p, p], mode="reflect")
        x = F.conv2d(x, taps.unsqueeze(2), groups=batch * channels)
        x = F.conv2d(x, taps.unsqueeze(3), groups=batch * channels)
        return x.reshape(batch, channels, height, width)

    def _corrupt(self, images: torch.Tensor, pct: torch.Tensor | None) -> torch.Tensor:
        batch, channels, height, width = images.shape
        device = images.device
        if self.noise > 0:
            sigma = torch.randn([batch, 1, 1, 1], device=device).abs() * self.noise_std
            chosen = self._chance([batch, 1, 1, 1], self.noise, device)
            sigma = torch.where(chosen, sigma, torch.zeros_like(sigma))
            if pct is not None:
                sigma = torch.full_like(sigma, float(torch.erfinv(pct) * self.noise_std))
            images = images + torch.randn([batch, channels, height, width], device=device) * sigma
        if self.cutout > 0:
            size = torch.full([batch, 2, 1, 1, 1], self.cutout_size, device=device)
            chosen = self._chance([batch, 1, 1, 1, 1], self.cutout, device)
            size = torch.where(chosen, size, torch.zeros_like(size))
            centre = torch.rand([batch, 2, 1, 1, 1], device=device)
            if pct is not None:
                size = torch.full_like(size, self.cutout_size)
                centre = torch.full_like(centre, float(pct))
            xs = torch.arange(width, device=device).reshape(1, 1, 1, -1)
            ys = torch.arange(height, device=device).reshape(1, 1, -1, 1)
            keep_x = ((xs + 0.5) / width - centre[:, 0]).abs() >= size[:, 0] / 2
            keep_y = ((ys + 0.5) / height - centre[:, 1]).abs() >= size[:, 1] / 2
            images = images * torch.logical_or(keep_x, keep_y).to(images.dtype)
        return images


def make_augment_pipe(name: str, **overrides: float) -> AugmentPipe:
    """The pipeline of preset ``name`` (``bgc`` is the paper's default)."""
    if name not in AUGPIPE_SPECS:
        raise StyleGANError(
            f"unknown augmentation pipeline {name!r}: choose one of {', '.join(AUGPIPE_SPECS)}"
        )
    return AugmentPipe(**{**AUGPIPE_SPECS[name], **overrides})


# ---- the adaptive controller ------------------------------------------------------------------

AUG_MODES = ("noaug", "ada", "fixed")


class AdaController:
    """Adjusts ``p`` so that the share of reals D calls real, ``r_t = E[sign(D(real))]``,
    stays near ``target``: every ``interval`` steps ``p`` moves by ``batch * interval /
    (speed_kimg * 1000)`` up (D overfits) or down, never below 0 (NVIDIA's ADA rule)."""

    def __init__(self, target: float = 0.6, interval: int = 4, speed_kimg: float = 500):
        if not 0 < target < 1:
            raise StyleGANError(f"--target must lie in (0, 1), got {target}")
        if interval < 1 or speed_kimg <= 0:
            raise StyleGANError("the ADA interval must be >= 1 and its speed (kimg) positive")
        self.target = float(target)
        self.interval = int(interval)
        self.speed_kimg = float(speed_kimg)
        self.sign_sum = 0.0
        self.count = 0
        self.last_rt: float | None = None

    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Add the signs of D's logits on (augmented) reals of one step."""
        signs = real_logits.detach().sign()
        self.sign_sum += float(signs.sum())
        self.count += signs.numel()

    def update(self, pipe: AugmentPipe, batch_size: int) -> float | None:
        """After ``interval`` steps' worth of logits: move ``pipe.p``; returns the r_t used."""
        if self.count == 0:
            return None
        rt = self.sign_sum / self.count
        step = np.sign(rt - self.target) * (batch_size * self.interval) / (self.speed_kimg * 1000)
        with torch.no_grad():
            pipe.p.copy_((pipe.p + float(step)).clamp(min=0))
        self.sign_sum, self.count, self.last_rt = 0.0, 0, rt
        return rt

    def state_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "interval": self.interval,
            "speed_kimg": self.speed_kimg,
            "sign_sum": self.sign_sum,
            "count": self.count,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sign_sum = float(state.get("sign_sum", 0.0))
        self.count = int(state.get("count", 0))


def setup_augmentation(
    aug: str = "ada",
    augpipe: str = "bgc",
    target: float | None = None,
    p: float | None = None,
    speed_kimg: float = 500,
) -> tuple[AugmentPipe | None, AdaController | None]:
    """``(pipe, controller)`` for NVIDIA's ``--aug/--augpipe/--target/--p`` options: ``noaug``
    gives neither, ``fixed`` a pipe at ``--p`` (required), ``ada`` a pipe starting at ``p``
    (default 0) with a controller aiming at ``--target`` (default 0.6)."""
    if aug not in AUG_MODES:
        raise StyleGANError(f"--aug must be one of {', '.join(AUG_MODES)}, got {aug!r}")
    if p is not None and not 0 <= p <= 1:
        raise StyleGANError(f"--p must lie in [0, 1], got {p}")
    if aug == "noaug":
        if p is not None or target is not None:
            raise StyleGANError("--p and --target need augmentation: drop them or use --aug")
        return None, None
    pipe = make_augment_pipe(augpipe)
    if aug == "fixed":
        if p is None:
            raise StyleGANError("--aug=fixed needs --p (the fixed augmentation probability)")
        if target is not None:
            raise StyleGANError("--target applies to --aug=ada only")
        pipe.p.fill_(p)
        return pipe, None
    pipe.p.fill_(0.0 if p is None else p)
    return pipe, AdaController(0.6 if target is None else target, speed_kimg=speed_kimg)
