"""StyleGAN2's modulated convolution (styles scale the weight per input channel, then demod).

Two exact formulations exist. *Fused*: build every sample's weight ``W * s`` (times the
demodulation coefficients) and run one grouped conv with the batch as groups. *Non-fused*:
scale the activations by the styles, run one ordinary conv with the shared weight, then scale
by the demodulation coefficients. They differ only by float rounding. The grouped conv scales
badly with the batch on CPU, so there the non-fused route is used whatever the caller asked.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from stylegan.ops.conv2d_resample import conv2d_resample, conv2d_resample_reference
from stylegan.ops.upfirdn2d import Padding


def _check(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError("x must be a 4-D tensor [N, in_channels, H, W]")
    if not isinstance(weight, torch.Tensor) or weight.ndim != 4:
        raise ValueError("weight must be a 4-D tensor [out_channels, in_channels, kh, kw]")
    batch_size, in_channels = x.shape[0], weight.shape[1]
    if x.shape[1] != in_channels:
        raise ValueError(f"x has {x.shape[1]} channels but weight expects {in_channels}")
    if not isinstance(styles, torch.Tensor) or tuple(styles.shape) != (batch_size, in_channels):
        shape = list(styles.shape) if isinstance(styles, torch.Tensor) else type(styles).__name__
        raise ValueError(f"styles must have shape [{batch_size}, {in_channels}], got {shape}")


def use_fused_route(x: torch.Tensor, fused_modconv: bool) -> bool:
    """Whether :func:`modulated_conv2d` runs the grouped conv for this input.

    On CPU one shared conv beats the grouped conv at every batch size (several times over at
    batch 8), so the non-fused route is always taken there; elsewhere the caller's choice
    stands (the official code asks for fused at inference on GPUs, where it is faster).
    """
    return fused_modconv and x.device.type != "cpu"


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    flip_weight: bool = True,
    fused_modconv: bool = True,
    overwrite_x: bool = False,
) -> torch.Tensor:
    """Modulated, by default demodulated, conv of ``x [N, I, H, W]`` with ``weight [O, I, k, k]``.

    ``styles [N, I]`` scale the weight per input channel; demodulation divides each output
    channel by ``sqrt(sum w^2 + 1e-8)``; ``noise`` (broadcast to the output) is added last.
    ``fused_modconv`` names the official formulation asked for, but both are exact and this
    function computes whichever is faster on the device (see :func:`use_fused_route`).

    ``overwrite_x=True`` says the caller no longer needs ``x`` (a temporary of its own): when
    autograd records nothing, the non-fused route then scales ``x`` by the styles in place
    instead of allocating a copy. The result is the same; ``x`` is left scaled.
    """
    _check(x, weight, styles)
    if x.dtype == torch.float16 and demodulate:
        # As the official code: pre-scale so the modulated weights cannot overflow in fp16;
        # demodulation cancels both scales.
        _, in_channels, kh, kw = weight.shape
        max_w = weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True)
        weight = weight * (1 / math.sqrt(in_channels * kh * kw) / max_w)
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    route = _fused if use_fused_route(x, fused_modconv) else _nonfused
    conv_kwargs = _conv_kwargs(resample_filter, up, down, padding, flip_weight)
    return route(x, weight, styles, noise, demodulate, conv_kwargs, overwrite_x)


def _conv_kwargs(
    resample_filter: torch.Tensor | None, up: int, down: int, padding: Padding, flip_weight: bool
) -> dict[str, Any]:
    """The keyword arguments of the conv2d_resample call every route makes."""
    return dict(f=resample_filter, up=up, down=down, padding=padding, flip_weight=flip_weight)


def _plus_noise(x: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
    """``x + noise``, into ``x`` (the conv's own output) when autograd records nothing."""
    if noise is None:
        return x
    return x.add_(noise.to(x.dtype)) if untracked(x, noise) else x + noise.to(x.dtype)


def _fused(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None,
    demodulate: bool,
    conv_kwargs: dict,
    overwrite_x: bool = False,
) -> torch.Tensor:
    """Every sample's own weight, one grouped conv with the batch as groups."""
    del overwrite_x  # x is read as it is
    batch_size = x.shape[0]
    _, in_channels, kh, kw = weight.shape
    w = weight.unsqueeze(0) * styles.reshape(batch_size, 1, -1, 1, 1)  # [N, O, I, k, k]
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # [N, O]
        w = w * dcoefs.reshape(batch_size, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    w = w.reshape(-1, in_channels, kh, kw).to(x.dtype)
    x = conv2d_resample(x, w, groups=batch_size, **conv_kwargs)
    return _plus_noise(x.reshape(batch_size, -1, *x.shape[2:]), noise)


def _nonfused(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None,
    demodulate: bool,
    conv_kwargs: dict,
    overwrite_x: bool = False,
) -> torch.Tensor:
    """Scale activations by the styles, one conv with the shared weight, scale by dcoefs."""
    batch_size = x.shape[0]
    s = styles.to(x.dtype).reshape(batch_size, -1, 1, 1)
    x = x.mul_(s) if overwrite_x and untracked(x, s) else x * s
    x = conv2d_resample(x, weight.to(x.dtype), **conv_kwargs)
    if demodulate:
        # sum_{i,k} (W[o,i,k] s[n,i])^2 == (s^2 @ (sum_k W^2)^T)[n, o]: a small matmul instead
        # of materialising every sample's weight.
        dtype = torch.promote_types(styles.dtype, weight.dtype)
        energy = weight.to(dtype).square().sum(dim=[2, 3])  # [O, I]
        dcoefs = (styles.to(dtype).square() @ energy.t() + 1e-8).rsqrt()  # [N, O]
        dcoefs = dcoefs.to(x.dtype).reshape(batch_size, -1, 1, 1)
        if untracked(x, dcoefs, noise):
            # Inference: the conv output is ours, and reusing it skips a fresh allocation,
            # which on CPU costs more than the arithmetic (page faults on every new buffer).
            # addcmul into x: x * dcoefs + noise in one pass, rounded as the autograd branch
            # below and as the official fma op (both torch.addcmul).
            if noise is not None:
                return torch.addcmul(noise.to(x.dtype), x, dcoefs, out=x)
            return x.mul_(dcoefs)
        if noise is not None:
            return torch.addcmul(noise.to(x.dtype), x, dcoefs)
        return x * dcoefs
    return _plus_noise(x, noise)


def untracked(*tensors: torch.Tensor | None) -> bool:
    """Whether autograd records nothing here, so in-place updates of our own buffers are safe."""
    if not torch.is_grad_enabled():
        return True
    return not any(t is not None and t.requires_grad for t in tensors)


def modulated_conv2d_reference(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    flip_weight: bool = True,
    fused_modconv: bool = True,
) -> torch.Tensor:
    """Slow, literal version for tests: one sample at a time, its own weight, reference conv.

    ``fused_modconv`` is accepted for signature parity and ignored; no fp16 pre-scaling is done
    (it cancels under demodulation anyway).
    """
    _check(x, weight, styles)
    conv_kwargs = _conv_kwargs(resample_filter, up, down, padding, flip_weight)
    outputs = []
    for n in range(x.shape[0]):
        w = weight * styles[n].reshape(1, -1, 1, 1)  # scale input channel i by s[n, i]
        if demodulate:
            w = w / torch.sqrt(w.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8)
        outputs.append(conv2d_resample_reference(x[n : n + 1], w.to(x.dtype), **conv_kwargs))
    out = torch.cat(outputs)
    return out + noise.to(out.dtype) if noise is not None else out
