"""Equivariance metrics EQ-T, EQ-T_frac and EQ-R ("Alias-Free Generative Adversarial Networks").

Each metric transforms the generator's *input* (its continuous coordinate frame), transforms
the *output* image of the untransformed generator by the same amount with a careful image
operator, and reports the PSNR in dB between the two over the pixels both define:

* ``eqt_int``: translation by a whole number of pixels (paper, Appendix E.1), up to
  ``translate_max = 0.125`` image widths in x and y; the output operator is an exact shift.
* ``eqt_frac``: translation by any amount up to ``translate_max`` (Appendix E.2); the output
  is shifted with a separable Lanczos (``a = 3``) windowed-sinc filter.
* ``eqr``: rotation by an angle uniform in ``[-rotate_max * pi, rotate_max * pi]``, i.e. up to
  +-180 degrees by default (Appendix E.3); the reference is rotated with an oriented band-limit
  filter, and the transformed image gets the same band-limit without being rotated
  ("pseudo-rotation"), so both carry the same spectrum.

PSNR is ``10 * log10(2^2 / mse)`` (images span [-1, 1], a dynamic range of 2), where ``mse`` is
the masked squared error summed over all samples, channels and pixels divided by the mask's
sum, as NVIDIA's ``compute_equivariance_metrics`` does. An exactly equivariant generator gives
``inf``. Image operators, filters, sampling distributions, masks and random draws per batch
(noise buffers, z, labels, translations, angles) follow the official code.

Transformable generators (:mod:`stylegan.networks.transform`)
    StyleGAN3 networks carry the user transform as ``G.synthesis.input.transform``: a 3x3 matrix
    ``T`` (image widths, origin at the image centre, y down) such that the generated image is
    ``img_T(p) = img(T p)``; the translation ``t`` is ``T = [[1, 0, -tx], [0, 1, -ty]]``.

    StyleGAN2 networks have no such input, and the official metric refuses them. For
    comparison this module transforms their learned constant input (``synthesis.b4.const``, or
    the first parameter called ``const`` under ``synthesis``) instead: the ``C x N x N`` constant
    is treated as one period of a periodic band-limited signal (trigonometric interpolation of
    its DFT, the Nyquist bins split evenly between +N/2 and -N/2 so the result stays real) and
    resampled at ``T`` applied to its pixel centres, with the constant spanning the image (one
    constant pixel = ``img_resolution / N`` image pixels). Integer multiples of one constant
    pixel are exact circular shifts and multiples of 90 degrees exact rotations; the per-layer
    noise stays fixed to the pixel grid (the official metric holds noise constant). EQ numbers
    of StyleGAN2 are therefore our own convention, meaningful only next to each other and next
    to StyleGAN3's, and say how much the image sticks to the pixel grid.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.networks.transform import InputTransform
from stylegan.ops import upfirdn2d

EQ_KEYS = ("eqt_int", "eqt_frac", "eqr")
# NVIDIA's metric names -> our keys; each runs 50k samples in batches of 4 sharing a transform.
OFFICIAL_METRICS = {"eqt50k_int": "eqt_int", "eqt50k_frac": "eqt_frac", "eqr50k": "eqr"}
OFFICIAL_NUM_SAMPLES = 50_000
OFFICIAL_BATCH_SIZE = 4

# ---- elementary functions and matrices -----------------------------------------------------------


def sinc(x: torch.Tensor) -> torch.Tensor:
    """Normalised sinc, ``sin(pi x) / (pi x)``, 1 at 0."""
    y = (x * math.pi).abs()
    z = torch.sin(y) / y.clamp(1e-30, float("inf"))
    return torch.where(y < 1e-30, torch.ones_like(x), z)


def lanczos_window(x: torch.Tensor, a: float) -> torch.Tensor:
    """The Lanczos window ``sinc(x / a)`` on ``|x| < a``, zero outside."""
    x = x.abs() / a
    return torch.where(x < 1, sinc(x), torch.zeros_like(x))


def rotation_matrix(angle: float | torch.Tensor) -> torch.Tensor:
    """3x3 ``[[cos, sin, 0], [-sin, cos, 0], [0, 0, 1]]`` of ``angle`` radians (official)."""
    angle = torch.as_tensor(angle).to(torch.float32)
    mat = torch.eye(3, device=angle.device)
    mat[0, 0] = angle.cos()
    mat[0, 1] = angle.sin()
    mat[1, 0] = -angle.sin()
    mat[1, 1] = angle.cos()
    return mat


def translation_matrix(tx: float, ty: float) -> torch.Tensor:
    """The input transform that shows the image moved by ``(tx, ty)`` image widths."""
    mat = torch.eye(3)
    mat[0, 2] = -float(tx)
    mat[1, 2] = -float(ty)
    return mat


# ---- image operators (paper, Appendix E) ---------------------------------------------------------


def _to_int(v) -> int:
    return int(torch.as_tensor(v).item())


def apply_integer_translation(
    x: torch.Tensor, tx: float | torch.Tensor, ty: float | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift images ``[N, C, H, W]`` by ``(tx * W, ty * H)`` pixels, rounded (operator T_x, E.1).

    Returns the shifted images (zeros where nothing was shifted in) and the mask of the pixels
    that hold image content.
    """
    _, _, H, W = x.shape
    # float32 arithmetic and round-half-to-even, as the official code
    ix = _to_int((torch.as_tensor(tx) * W).to(torch.float32).round())
    iy = _to_int((torch.as_tensor(ty) * H).to(torch.float32).round())
    z = torch.zeros_like(x)
    m = torch.zeros_like(x)
    if abs(ix) < W and abs(iy) < H:
        y = x[:, :, max(-iy, 0) : H + min(-iy, 0), max(-ix, 0) : W + min(-ix, 0)]
        z[:, :, max(iy, 0) : H + min(iy, 0), max(ix, 0) : W + min(ix, 0)] = y
        m[:, :, max(iy, 0) : H + min(iy, 0), max(ix, 0) : W + min(ix, 0)] = 1
    return z, m


def apply_fractional_translation(
    x: torch.Tensor, tx: float | torch.Tensor, ty: float | torch.Tensor, a: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift images by ``(tx * W, ty * H)`` pixels with a separable Lanczos-``a`` windowed sinc
    (operator T_x of Appendix E.2). The mask excludes every pixel within the filter's reach of
    the border the content came from."""
    _, _, H, W = x.shape
    tx = (torch.as_tensor(tx) * W).to(dtype=torch.float32, device=x.device)
    ty = (torch.as_tensor(ty) * H).to(dtype=torch.float32, device=x.device)
    ix = _to_int(tx.floor())
    iy = _to_int(ty.floor())
    fx = tx - ix
    fy = ty - iy
    b = a - 1

    z = torch.zeros_like(x)
    zx0 = max(ix - b, 0)
    zy0 = max(iy - b, 0)
    zx1 = min(ix + a, 0) + W
    zy1 = min(iy + a, 0) + H
    if zx0 < zx1 and zy0 < zy1:
        taps = torch.arange(a * 2, device=x.device, dtype=torch.float32) - b
        filter_x = (sinc(taps - fx) * sinc((taps - fx) / a)).unsqueeze(0)
        filter_y = (sinc(taps - fy) * sinc((taps - fy) / a)).unsqueeze(1)
        y = upfirdn2d.filter2d(x, filter_x / filter_x.sum(), padding=[b, a, 0, 0])
        y = upfirdn2d.filter2d(y, filter_y / filter_y.sum(), padding=[0, 0, b, a])
        y = y[
            :,
            :,
            max(b - iy, 0) : H + b + a + min(-iy - a, 0),
            max(b - ix, 0) : W + b + a + min(-ix - a, 0),
        ]
        z[:, :, zy0:zy1, zx0:zx1] = y

    m = torch.zeros_like(x)
    mx0 = max(ix + a, 0)
    my0 = max(iy + a, 0)
    mx1 = min(ix - b, 0) + W
    my1 = min(iy - b, 0) + H
    if mx0 < mx1 and my0 < my1:
        m[:, :, my0:my1, mx0:mx1] = 1
    return z, m


def construct_affine_bandlimit_filter(
    mat,
    a: int = 3,
    amax: int = 16,
    aflt: int = 64,
    up: int = 4,
    cutoff_in: float = 1,
    cutoff_out: float = 1,
) -> torch.Tensor:
    """A 2-D low-pass FIR (at ``up`` times the pixel rate) that band-limits both in the input's
    and in the affinely transformed output's frame: the convolution of two oriented 2-D sincs,
    windowed by the convolution of two oriented 2-D Lanczos windows (official design)."""
    if not a <= amax < aflt:
        raise StyleGANError(f"need a <= amax < aflt, got {a}, {amax}, {aflt}")
    mat = torch.as_tensor(mat).to(torch.float32)

    # 2-D taps in the input and output coordinate frames.
    taps = ((torch.arange(aflt * up * 2 - 1, device=mat.device) + 1) / up - aflt).roll(
        1 - aflt * up
    )
    yi, xi = torch.meshgrid(taps, taps, indexing="ij")
    xo, yo = (torch.stack([xi, yi], dim=2) @ mat[:2, :2].t()).unbind(2)

    # Convolution of two oriented 2-D sinc filters.
    fi = sinc(xi * cutoff_in) * sinc(yi * cutoff_in)
    fo = sinc(xo * cutoff_out) * sinc(yo * cutoff_out)
    f = torch.fft.ifftn(torch.fft.fftn(fi) * torch.fft.fftn(fo)).real

    # Convolution of two oriented 2-D Lanczos windows.
    wi = lanczos_window(xi, a) * lanczos_window(yi, a)
    wo = lanczos_window(xo, a) * lanczos_window(yo, a)
    w = torch.fft.ifftn(torch.fft.fftn(wi) * torch.fft.fftn(wo)).real

    f = f * w
    c = (aflt - amax) * up
    f = f.roll([aflt * up - 1] * 2, dims=[0, 1])[c:-c, c:-c]
    f = torch.nn.functional.pad(f, [0, 1, 0, 1]).reshape(amax * 2, up, amax * 2, up)
    f = f / f.sum([0, 2], keepdim=True) / (up**2)  # every polyphase component sums to 1 / up^2
    f = f.reshape(amax * 2 * up, amax * 2 * up)[:-1, :-1]
    return f


def apply_affine_transformation(
    x: torch.Tensor, mat, up: int = 4, **filter_kwargs
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resample images under the affine ``mat`` (output(p) = input(mat^-1 p), normalised
    coordinates): band-limited upsampling by ``up``, then bilinear sampling. The mask holds the
    output pixels whose filter support lies inside the input."""
    _, _, H, W = x.shape
    mat = torch.as_tensor(mat).to(dtype=torch.float32, device=x.device)

    f = construct_affine_bandlimit_filter(mat, up=up, **filter_kwargs)
    if not (f.ndim == 2 and f.shape[0] == f.shape[1] and f.shape[0] % 2 == 1):
        raise StyleGANError(f"unexpected filter shape {list(f.shape)}")
    p = f.shape[0] // 2

    theta = mat.inverse()
    theta[:2, 2] *= 2
    theta[0, 2] += 1 / up / W
    theta[1, 2] += 1 / up / H
    theta[0, :] *= W / (W + p / up * 2)
    theta[1, :] *= H / (H + p / up * 2)
    theta = theta[:2, :3].unsqueeze(0).repeat([x.shape[0], 1, 1])
    g = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)

    y = upfirdn2d.upsample2d(x, f, up=up, padding=p)
    z = torch.nn.functional.grid_sample(
        y, g, mode="bilinear", padding_mode="zeros", align_corners=False
    )

    m = torch.zeros_like(y)
    c = p * 2 + 1
    m[:, :, c:-c, c:-c] = 1
    m = torch.nn.functional.grid_sample(
        m, g, mode="nearest", padding_mode="zeros", align_corners=False
    )
    return z, m


def apply_fractional_rotation(
    x: torch.Tensor, angle: float | torch.Tensor, a: int = 3, **filter_kwargs
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate images by ``angle`` radians about their centre (operator R_alpha, E.3)."""
    angle = torch.as_tensor(angle).to(dtype=torch.float32, device=x.device)
    mat = rotation_matrix(angle)
    return apply_affine_transformation(x, mat, a=a, amax=a * 2, **filter_kwargs)


def apply_fractional_pseudo_rotation(
    x: torch.Tensor, angle: float | torch.Tensor, a: int = 3, **filter_kwargs
) -> tuple[torch.Tensor, torch.Tensor]:
    """Give images the spectrum a rotation by ``angle`` would leave, without rotating them
    (operator R*_alpha, E.3)."""
    angle = torch.as_tensor(angle).to(dtype=torch.float32, device=x.device)
    mat = rotation_matrix(-angle)
    f = construct_affine_bandlimit_filter(mat, a=a, amax=a * 2, up=1, **filter_kwargs)
    y = upfirdn2d.filter2d(x, f)
    m = torch.zeros_like(y)
    c = f.shape[0] // 2
    m[:, :, c:-c, c:-c] = 1
    return y, m


# ---- the metrics ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _saved_noise(G: nn.Module) -> Iterator[list[torch.Tensor]]:
    buffers = [buf for name, buf in G.named_buffers() if name.endswith(".noise_const")]
    saved = [buf.detach().clone() for buf in buffers]
    try:
        yield buffers
    finally:
        with torch.no_grad():
            for buf, old in zip(buffers, saved):
                buf.copy_(old)


def psnr_from_sums(err: float, mask: float) -> float:
    """``10 log10(2^2 / mse)`` for ``mse = err / mask``; ``inf`` when the error is zero."""
    mse = err / mask if mask > 0 else float("nan")
    if mse == 0:
        return float("inf")
    return float(np.log10(2) * 20 - np.log10(mse) * 10)


@torch.no_grad()
def equivariance_metrics(
    G: nn.Module,
    num_samples: int,
    batch_size: int = 4,
    device: torch.device | str | None = None,
    seed: int = 0,
    compute_eqt_int: bool = False,
    compute_eqt_frac: bool = False,
    compute_eqr: bool = False,
    c_sampler: Callable[[int], torch.Tensor] | None = None,
    translate_max: float = 0.125,
    rotate_max: float = 1.0,
    progress: bool = False,
) -> dict[str, float]:
    """PSNRs (dB) of the selected equivariances over ``num_samples`` latents.

    Returns ``{"eqt_int": ..., "eqt_frac": ..., "eqr": ...}`` (the selected ones), each the
    official ``10 log10(4 / mse)``. Per batch, as the official loop: fresh ``noise_const``
    buffers, ``z``, labels from ``c_sampler(n)`` (default: uniform random one-hot classes), then
    one translation / angle shared by the batch. ``translate_max`` is in image widths,
    ``rotate_max`` in half turns (1 = +-180 degrees). All draws come from a CPU generator seeded
    by ``seed``. ``G`` is left as it was (transform, constant, noise buffers, train/eval mode).
    """
    if not (compute_eqt_int or compute_eqt_frac or compute_eqr):
        raise StyleGANError("select at least one of compute_eqt_int, compute_eqt_frac, compute_eqr")
    if num_samples < 1 or batch_size < 1:
        raise StyleGANError(
            f"need num_samples and batch_size >= 1, got {num_samples}, {batch_size}"
        )
    if device is None:
        device = next(iter(G.parameters()), torch.empty(0)).device
    device = torch.device(device)
    if c_sampler is None:
        from stylegan.metrics.runner import label_sampler

        c_sampler = label_sampler(None, G.c_dim, seed)
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape) -> torch.Tensor:
        return torch.rand(shape, generator=gen)

    res = G.img_resolution
    identity = torch.eye(3)
    keys = [k for k, on in zip(EQ_KEYS, (compute_eqt_int, compute_eqt_frac, compute_eqr)) if on]
    sums = torch.zeros([len(keys), 2], dtype=torch.float64)
    was_training = G.training
    G.eval()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=num_samples, desc="eq sampling", unit="img", leave=False)
    try:
        with _saved_noise(G) as noise_buffers, InputTransform(G) as transform:

            def synth(ws: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
                transform.set(matrix)
                return G.synthesis(ws, noise_mode="const").to(torch.float32)

            for start in range(0, num_samples, batch_size):
                n = min(batch_size, num_samples - start)
                for buf in noise_buffers:
                    buf.copy_(torch.randn(buf.shape, generator=gen).to(buf))
                z = torch.randn([n, G.z_dim], generator=gen).to(device)
                c = c_sampler(n).to(device)
                ws = G.mapping(z, c)
                orig = synth(ws, identity)
                terms: list[tuple[torch.Tensor, torch.Tensor]] = []

                if compute_eqt_int:
                    t = (rand(2) * 2 - 1) * translate_max
                    t = (t * res).round() / res
                    img = synth(ws, translation_matrix(t[0], t[1]))
                    ref, mask = apply_integer_translation(orig, t[0], t[1])
                    terms.append((ref - img, mask))

                if compute_eqt_frac:
                    t = (rand(2) * 2 - 1) * translate_max
                    img = synth(ws, translation_matrix(t[0], t[1]))
                    ref, mask = apply_fractional_translation(orig, t[0], t[1])
                    terms.append((ref - img, mask))

                if compute_eqr:
                    angle = float((rand() * 2 - 1) * (rotate_max * math.pi))
                    img = synth(ws, rotation_matrix(-angle))
                    ref, ref_mask = apply_fractional_rotation(orig, angle)
                    pseudo, pseudo_mask = apply_fractional_pseudo_rotation(img, angle)
                    mask = ref_mask * pseudo_mask
                    terms.append((ref - pseudo, mask))

                for i, (diff, mask) in enumerate(terms):
                    sums[i, 0] += (diff.square() * mask).to(torch.float64).sum().cpu()
                    sums[i, 1] += mask.to(torch.float64).sum().cpu()
                if bar is not None:
                    bar.update(n)
    finally:
        G.train(was_training)
        if bar is not None:
            bar.close()
    return {key: psnr_from_sums(float(e), float(m)) for key, (e, m) in zip(keys, sums)}


def official_metric(
    name: str,
    G: nn.Module,
    num_samples: int | None = None,
    device: torch.device | str | None = None,
    seed: int = 0,
    c_sampler: Callable[[int], torch.Tensor] | None = None,
    progress: bool = False,
) -> float:
    """One of ``eqt50k_int``, ``eqt50k_frac``, ``eqr50k`` as NVIDIA's ``metric_main`` computes
    it (50k samples unless ``num_samples``, batches of 4); the PSNR in dB."""
    if name not in OFFICIAL_METRICS:
        raise StyleGANError(
            f"unknown equivariance metric {name!r}: use {', '.join(OFFICIAL_METRICS)}"
        )
    key = OFFICIAL_METRICS[name]
    result = equivariance_metrics(
        G,
        num_samples or OFFICIAL_NUM_SAMPLES,
        batch_size=OFFICIAL_BATCH_SIZE,
        device=device,
        seed=seed,
        c_sampler=c_sampler,
        progress=progress,
        **{f"compute_{key}": True},
    )
    return result[key]
