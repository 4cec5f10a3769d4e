"""Adaptive discriminator augmentation (ADA; Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data").

:class:`AugmentPipe` augments every image the discriminator sees, reals and fakes alike, so that
D cannot memorise a small dataset. Each augmentation fires per image with probability ``p``
times its own multiplier; the pipeline is differentiable, so G learns through it, and as long as
``p`` stays below about 0.8 the augmentations do not leak into G's outputs.

The stages, in order, as in the paper (Fig. 2) and NVIDIA's ``training/augment.py``:

1. geometry: one inverse homogeneous 2-D transform ``G_inv`` per image (x-flip, 90-degree
   rotations, integer translation, isotropic scaling, rotation, anisotropic scaling, fractional
   translation), applied by one resampling: reflect-pad, 2x upsampling with the orthogonal sym6
   wavelet low-pass, bilinear ``grid_sample``, 2x downsampling with the same filter, crop;
2. colour: one 4x4 homogeneous matrix ``C`` per image (brightness, contrast, luma flip, hue
   rotation, saturation) on RGB, or its luma average on single-channel images;
3. image-space filtering: random gains on four frequency bands;
4. corruptions: additive Gaussian noise and cutout.

Parameters are drawn from torch's global RNG in the official order, so one seed gives the same
augmentations as NVIDIA's code, and the buffers (``p``, ``Hz_geom``, ``Hz_fbank``) carry the
official names, so an official snapshot's ``augment_pipe`` state maps onto this module by name.
Two shortcuts skip work that would change nothing: when no image drew a geometric transform the
resampling is skipped (the official code resamples anyway, which is the identity to about 1e-5),
and likewise the filter stage when every band gain is exactly one.

Blits (x-flip, rotate90) go through the same resampling as every other geometric transform, as
in the official code: sym6 is not symmetric, so a mirrored image is exact only up to the filter's
phase, close on smooth images but not on pixel noise. Integer translations are exact.

The matrices and filters it composes live in :mod:`stylegan.training.augment_matrices`; the
presets (``--augpipe``), :class:`~stylegan.training.ada.AdaController` and
:func:`~stylegan.training.ada.setup_augmentation` in :mod:`stylegan.training.ada`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from stylegan.errors import StyleGANError
from stylegan.ops import upfirdn2d
from stylegan.training.augment_matrices import (
    WAVELETS,
    _constant,
    filter_bank,
    matrix,
    rotate2d,
    rotate3d,
    scale2d,
    scale3d,
    translate2d,
    translate3d,
)

# The probability multipliers, in the order the pipeline applies them.
AUGMENTATIONS = (
    "xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
    "brightness", "contrast", "lumaflip", "hue", "saturation", "imgfilter", "noise", "cutout",
)  # fmt: skip

# ---- the pipeline ----------------------------------------------------------------------------


class AugmentPipe(torch.nn.Module):
    """The ADA augmentations. Every augmentation is off (multiplier 0) unless enabled; each
    fires per image with probability ``multiplier * p``. See the module docstring."""

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
        # The overall probability, a buffer so that it is saved and follows .to(device).
        self.register_buffer("p", torch.ones([]))

        # Pixel blitting.
        self.xflip = float(xflip)
        self.rotate90 = float(rotate90)
        self.xint = float(xint)
        self.xint_max = float(xint_max)  # range of integer translation, of the image size

        # General geometric transforms.
        self.scale = float(scale)
        self.rotate = float(rotate)
        self.aniso = float(aniso)
        self.xfrac = float(xfrac)
        self.scale_std = float(scale_std)  # log2 standard deviation
        self.rotate_max = float(rotate_max)  # range, 1 = the full circle
        self.aniso_std = float(aniso_std)  # log2 standard deviation
        self.xfrac_std = float(xfrac_std)  # standard deviation, of the image size

        # Colour transforms.
        self.brightness = float(brightness)
        self.contrast = float(contrast)
        self.lumaflip = float(lumaflip)
        self.hue = float(hue)
        self.saturation = float(saturation)
        self.brightness_std = float(brightness_std)
        self.contrast_std = float(contrast_std)  # log2 standard deviation
        self.hue_max = float(hue_max)  # range, 1 = the full circle
        self.saturation_std = float(saturation_std)  # log2 standard deviation

        # Image-space filtering.
        self.imgfilter = float(imgfilter)
        self.imgfilter_bands = [float(b) for b in imgfilter_bands]  # multiplier per band
        self.imgfilter_std = float(imgfilter_std)  # log2 standard deviation of the band gains

        # Image-space corruptions.
        self.noise = float(noise)
        self.cutout = float(cutout)
        self.noise_std = float(noise_std)
        self.cutout_size = float(cutout_size)  # side of the square, of the image size

        self.register_buffer("Hz_geom", upfirdn2d.setup_filter(WAVELETS["sym6"]))
        self.register_buffer("Hz_fbank", torch.as_tensor(filter_bank(), dtype=torch.float32))
        if len(self.imgfilter_bands) != self.Hz_fbank.shape[0]:
            raise StyleGANError(
                f"imgfilter_bands needs one multiplier per band ({self.Hz_fbank.shape[0]}), got "
                f"{list(imgfilter_bands)}"
            )

    def extra_repr(self) -> str:
        enabled = [name for name in AUGMENTATIONS if getattr(self, name) > 0]
        return f"p={float(self.p):.4f}, augmentations={','.join(enabled) or 'none'}"

    def forward(
        self, images: torch.Tensor, debug_percentile: float | torch.Tensor | None = None
    ) -> torch.Tensor:
        """Augment ``[N, C, H, W]`` images. ``debug_percentile`` in [0, 1] forces every enabled
        augmentation to fire on every image with the parameter at that percentile of its
        distribution (NVIDIA's knob for figures and tests)."""
        if not isinstance(images, torch.Tensor) or images.ndim != 4:
            shape = list(images.shape) if isinstance(images, torch.Tensor) else type(images)
            raise StyleGANError(f"AugmentPipe expects images as [N, C, H, W], got {shape}")
        if debug_percentile is not None:
            debug_percentile = torch.as_tensor(
                debug_percentile, dtype=torch.float32, device=images.device
            )
        images = self._geometric(images, debug_percentile)
        images = self._color(images, debug_percentile)
        if self.imgfilter > 0:
            images = self._imgfilter(images, debug_percentile)
        if self.noise > 0:
            images = self._noise(images, debug_percentile)
        if self.cutout > 0:
            images = self._cutout(images, debug_percentile)
        return images

    def _fires(
        self, shape: Sequence[int], multiplier: float | torch.Tensor, device: torch.device
    ) -> torch.Tensor:
        """Which images get an augmentation. Drawn after the augmentation's parameters, for
        every image, whatever p is: the official order, which keeps the RNG streams aligned."""
        return torch.rand(list(shape), device=device) < multiplier * self.p

    def _log2_normal(
        self,
        shape: list[int],
        multiplier: float,
        std: float,
        device: torch.device,
        debug_percentile: torch.Tensor | None,
    ) -> torch.Tensor:
        """A factor ``2 ** N(0, std)`` per image, 1 where the augmentation does not fire (drawn
        in the official order); with ``debug_percentile``, that percentile's factor for all."""
        s = torch.exp2(torch.randn(shape, device=device) * std)
        s = torch.where(self._fires(shape, multiplier, device), s, torch.ones_like(s))
        if debug_percentile is not None:
            value = torch.exp2(torch.erfinv(debug_percentile * 2 - 1) * std)
            s = torch.full_like(s, float(value))
        return s

    # -- geometry ---------------------------------------------------------------------------------

    def _geometric(
        self, images: torch.Tensor, debug_percentile: torch.Tensor | None
    ) -> torch.Tensor:
        batch_size, _, height, width = images.shape
        device = images.device
        # The inverse transform, output pixel -> input pixel, in pixels about the image centre.
        G_inv = torch.eye(3, device=device)

        if self.xflip > 0:
            i = torch.floor(torch.rand([batch_size], device=device) * 2)
            i = torch.where(self._fires([batch_size], self.xflip, device), i, torch.zeros_like(i))
            if debug_percentile is not None:
                i = torch.full_like(i, float(torch.floor(debug_percentile * 2)))
            G_inv = G_inv @ scale2d(1 / (1 - 2 * i), torch.ones_like(i))

        if self.rotate90 > 0:
            i = torch.floor(torch.rand([batch_size], device=device) * 4)
            fires = self._fires([batch_size], self.rotate90, device)
            i = torch.where(fires, i, torch.zeros_like(i))
            if debug_percentile is not None:
                i = torch.full_like(i, float(torch.floor(debug_percentile * 4)))
            G_inv = G_inv @ rotate2d(math.pi / 2 * i)

        if self.xint > 0:
            t = (torch.rand([batch_size, 2], device=device) * 2 - 1) * self.xint_max
            t = torch.where(self._fires([batch_size, 1], self.xint, device), t, torch.zeros_like(t))
            if debug_percentile is not None:
                t = torch.full_like(t, float((debug_percentile * 2 - 1) * self.xint_max))
            G_inv = G_inv @ translate2d(
                -torch.round(t[:, 0] * width), -torch.round(t[:, 1] * height)
            )

        if self.scale > 0:
            s = self._log2_normal(
                [batch_size], self.scale, self.scale_std, device, debug_percentile
            )
            G_inv = G_inv @ scale2d(1 / s, 1 / s)

        # Arbitrary rotation is split into one before and one after the anisotropic scaling
        # (so that aniso stretches along any axis), each firing with p_rot such that
        # P(pre or post) = rotate * p.
        p_rot = 1 - torch.sqrt((1 - self.rotate * self.p).clamp(0, 1))
        if self.rotate > 0:
            theta = (torch.rand([batch_size], device=device) * 2 - 1) * math.pi * self.rotate_max
            fires = torch.rand([batch_size], device=device) < p_rot
            theta = torch.where(fires, theta, torch.zeros_like(theta))
            if debug_percentile is not None:
                value = (debug_percentile * 2 - 1) * math.pi * self.rotate_max
                theta = torch.full_like(theta, float(value))
            G_inv = G_inv @ rotate2d(theta)

        if self.aniso > 0:
            s = self._log2_normal(
                [batch_size], self.aniso, self.aniso_std, device, debug_percentile
            )
            G_inv = G_inv @ scale2d(1 / s, 1 / (1 / s))  # 1 / (1 / s), as NVIDIA's rounds it

        if self.rotate > 0:
            theta = (torch.rand([batch_size], device=device) * 2 - 1) * math.pi * self.rotate_max
            fires = torch.rand([batch_size], device=device) < p_rot
            theta = torch.where(fires, theta, torch.zeros_like(theta))
            if debug_percentile is not None:
                theta = torch.zeros_like(theta)  # the debug rotation is all in the pre-rotation
            G_inv = G_inv @ rotate2d(theta)

        if self.xfrac > 0:
            t = torch.randn([batch_size, 2], device=device) * self.xfrac_std
            t = torch.where(
                self._fires([batch_size, 1], self.xfrac, device), t, torch.zeros_like(t)
            )
            if debug_percentile is not None:
                value = torch.erfinv(debug_percentile * 2 - 1) * self.xfrac_std
                t = torch.full_like(t, float(value))
            G_inv = G_inv @ translate2d(-t[:, 0] * width, -t[:, 1] * height)

        if G_inv.ndim == 2:
            return images  # no geometric augmentation is enabled
        if torch.equal(G_inv, torch.eye(3, device=device).expand_as(G_inv)):
            return images  # no image drew a transform: the resampling would be the identity
        return self._resample(images, G_inv)

    def _resample(self, images: torch.Tensor, G_inv: torch.Tensor) -> torch.Tensor:
        """Apply ``G_inv`` ([N, 3, 3]) with little aliasing: the bilinear lookups happen on a
        2x-upsampled image, which the same orthogonal low-pass brings back down."""
        batch_size, num_channels, height, width = images.shape
        device = images.device
        filter_pad = self.Hz_geom.shape[0] // 4  # the filter's reach, in input pixels

        # Reflect-pad just enough that every output pixel, and the filters' support around it,
        # reads real (mirrored) content rather than zeros.
        cx, cy = (width - 1) / 2, (height - 1) / 2
        corners = matrix([-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1], device=device)
        corners = G_inv @ corners.t()  # [N, xyz, corner]
        margin = corners[:, :2, :].permute(1, 0, 2).flatten(1)  # [xy, N * corner]
        margin = torch.cat([-margin, margin]).max(dim=1).values  # [x0, y0, x1, y1]
        margin = margin + _constant(
            np.asarray([filter_pad * 2 - cx, filter_pad * 2 - cy] * 2), device
        )
        margin = margin.max(_constant(np.zeros(4), device))
        margin = margin.min(_constant(np.asarray([width - 1, height - 1] * 2), device))
        mx0, my0, mx1, my1 = margin.ceil().to(torch.int32).tolist()
        images = F.pad(images, [mx0, mx1, my0, my1], mode="reflect")
        G_inv = translate2d((mx0 - mx1) / 2, (my0 - my1) / 2, device=device) @ G_inv

        # Upsample 2x; express G_inv in the pixels of the upsampled image.
        images = upfirdn2d.upsample2d(images, self.Hz_geom, up=2)
        G_inv = scale2d(2, 2, device=device) @ G_inv @ scale2d(1 / 2, 1 / 2, device=device)
        G_inv = (
            translate2d(-0.5, -0.5, device=device) @ G_inv @ translate2d(0.5, 0.5, device=device)
        )

        # Sample the output (2x, plus the filter's margin) in grid_sample's [-1, 1] coordinates.
        shape = [
            batch_size,
            num_channels,
            (height + filter_pad * 2) * 2,
            (width + filter_pad * 2) * 2,
        ]
        G_inv = (
            scale2d(2 / images.shape[3], 2 / images.shape[2], device=device)
            @ G_inv
            @ scale2d(shape[3] / 2, shape[2] / 2, device=device)
        )
        grid = F.affine_grid(G_inv[:, :2, :].to(images.dtype), shape, align_corners=False)
        images = F.grid_sample(
            images, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )

        # Downsample 2x and crop the margin away.
        return upfirdn2d.downsample2d(
            images, self.Hz_geom, down=2, padding=-filter_pad * 2, flip_filter=True
        )

    # -- colour -----------------------------------------------------------------------------------

    def _color(self, images: torch.Tensor, debug_percentile: torch.Tensor | None) -> torch.Tensor:
        batch_size, num_channels, height, width = images.shape
        device = images.device
        # The homogeneous colour transform, colour in -> colour out.
        I_4 = torch.eye(4, device=device)
        C = I_4

        if self.brightness > 0:
            b = torch.randn([batch_size], device=device) * self.brightness_std
            b = torch.where(
                self._fires([batch_size], self.brightness, device), b, torch.zeros_like(b)
            )
            if debug_percentile is not None:
                value = torch.erfinv(debug_percentile * 2 - 1) * self.brightness_std
                b = torch.full_like(b, float(value))
            C = translate3d(b, b, b) @ C

        if self.contrast > 0:
            c = self._log2_normal(
                [batch_size], self.contrast, self.contrast_std, device, debug_percentile
            )
            C = scale3d(c, c, c) @ C

        luma_axis = _constant(np.asarray([1, 1, 1, 0]) / np.sqrt(3), device)
        luma_projection = torch.outer(luma_axis, luma_axis)

        if self.lumaflip > 0:
            i = torch.floor(torch.rand([batch_size, 1, 1], device=device) * 2)
            fires = self._fires([batch_size, 1, 1], self.lumaflip, device)
            i = torch.where(fires, i, torch.zeros_like(i))
            if debug_percentile is not None:
                i = torch.full_like(i, float(torch.floor(debug_percentile * 2)))
            C = (I_4 - 2 * luma_projection * i) @ C  # Householder reflection of the luma axis

        if self.hue > 0 and num_channels > 1:
            theta = (torch.rand([batch_size], device=device) * 2 - 1) * math.pi * self.hue_max
            fires = self._fires([batch_size], self.hue, device)
            theta = torch.where(fires, theta, torch.zeros_like(theta))
            if debug_percentile is not None:
                value = (debug_percentile * 2 - 1) * math.pi * self.hue_max
                theta = torch.full_like(theta, float(value))
            C = rotate3d(luma_axis, theta) @ C

        if self.saturation > 0 and num_channels > 1:
            s = self._log2_normal(
                [batch_size, 1, 1], self.saturation, self.saturation_std, device, debug_percentile
            )
            C = (luma_projection + (I_4 - luma_projection) * s) @ C  # scale the chroma only

        if C is I_4:
            return images  # no colour augmentation is enabled
        C = C.to(images.dtype)
        images = images.reshape(batch_size, num_channels, height * width)
        if num_channels == 3:
            images = C[:, :3, :3] @ images + C[:, :3, 3:]
        elif num_channels == 1:
            # Grey images take the transform's average effect on the three channels.
            C = C[:, :3, :].mean(dim=1, keepdim=True)
            images = images * C[:, :, :3].sum(dim=2, keepdim=True) + C[:, :, 3:]
        else:
            raise StyleGANError(
                f"colour augmentations need RGB (3 channels) or grey (1 channel) images, got "
                f"{num_channels} channels: use an --augpipe without 'c' (e.g. bg)"
            )
        return images.reshape(batch_size, num_channels, height, width)

    # -- image-space filtering and corruptions ----------------------------------------------------

    def _imgfilter(
        self, images: torch.Tensor, debug_percentile: torch.Tensor | None
    ) -> torch.Tensor:
        batch_size, num_channels, height, width = images.shape
        device = images.device
        num_bands = self.Hz_fbank.shape[0]
        # Natural images' power per band (about 1/f), so that amplifying one band and
        # renormalising keeps the image's expected power.
        expected_power = _constant(np.asarray([10, 1, 1, 1]) / 13, device)

        gain = torch.ones([batch_size, num_bands], device=device)
        for i, band_strength in enumerate(self.imgfilter_bands):
            multiplier = self.imgfilter * band_strength
            t_i = self._log2_normal(
                [batch_size], multiplier, self.imgfilter_std, device, debug_percentile
            )
            if debug_percentile is not None and not band_strength > 0:
                t_i = torch.ones_like(t_i)  # the debug gain is on the enabled bands only
            t = torch.ones([batch_size, num_bands], device=device)
            t[:, i] = t_i
            t = t / (expected_power * t.square()).sum(dim=-1, keepdim=True).sqrt()
            gain = gain * t

        if torch.equal(gain, torch.ones_like(gain)):
            return images  # every gain is one: the bank sums to a unit impulse
        filter_pad = self.Hz_fbank.shape[1] // 2
        if min(height, width) <= filter_pad:
            raise StyleGANError(
                f"image-space filtering needs images larger than {filter_pad} px, got "
                f"{height}x{width}: use an --augpipe without 'f' (e.g. bgc)"
            )
        taps = (gain.to(self.Hz_fbank.dtype) @ self.Hz_fbank).to(images.dtype)  # [N, tap]
        taps = taps.unsqueeze(1).repeat([1, num_channels, 1])
        taps = taps.reshape(batch_size * num_channels, 1, -1)  # one filter per image and channel
        images = images.reshape(1, batch_size * num_channels, height, width)
        images = F.pad(images, [filter_pad] * 4, mode="reflect")
        images = F.conv2d(images, taps.unsqueeze(2), groups=batch_size * num_channels)
        images = F.conv2d(images, taps.unsqueeze(3), groups=batch_size * num_channels)
        return images.reshape(batch_size, num_channels, height, width)

    def _noise(self, images: torch.Tensor, debug_percentile: torch.Tensor | None) -> torch.Tensor:
        batch_size, num_channels, height, width = images.shape
        device = images.device
        sigma = torch.randn([batch_size, 1, 1, 1], device=device).abs() * self.noise_std
        fires = self._fires([batch_size, 1, 1, 1], self.noise, device)
        sigma = torch.where(fires, sigma, torch.zeros_like(sigma))
        if debug_percentile is not None:
            # The half-normal's percentile, in the official code's erfinv scale.
            sigma = torch.full_like(sigma, float(torch.erfinv(debug_percentile) * self.noise_std))
        noise = torch.randn([batch_size, num_channels, height, width], device=device) * sigma
        return images + noise.to(images.dtype)

    def _cutout(self, images: torch.Tensor, debug_percentile: torch.Tensor | None) -> torch.Tensor:
        batch_size, _, height, width = images.shape
        device = images.device
        size = torch.full([batch_size, 2, 1, 1, 1], self.cutout_size, device=device)
        fires = self._fires([batch_size, 1, 1, 1, 1], self.cutout, device)
        size = torch.where(fires, size, torch.zeros_like(size))
        center = torch.rand([batch_size, 2, 1, 1, 1], device=device)
        if debug_percentile is not None:
            size = torch.full_like(size, self.cutout_size)
            center = torch.full_like(center, float(debug_percentile))
        coord_x = torch.arange(width, device=device).reshape(1, 1, 1, -1)
        coord_y = torch.arange(height, device=device).reshape(1, 1, -1, 1)
        outside_x = ((coord_x + 0.5) / width - center[:, 0]).abs() >= size[:, 0] / 2
        outside_y = ((coord_y + 0.5) / height - center[:, 1]).abs() >= size[:, 1] / 2
        return images * torch.logical_or(outside_x, outside_y).to(images.dtype)
