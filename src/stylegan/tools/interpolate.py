"""Interpolation through a looping sequence of keyframes: linear, spherical and cubic.

Time is measured in keyframe units: ``t = 0`` is keyframe 0, ``t = 1`` keyframe 1, and the curve
wraps from the last keyframe back to the first (videos loop, as in NVIDIA's ``gen_video.py``).
"""

from __future__ import annotations

import torch

from stylegan.errors import StyleGANError

INTERPOLATION_KINDS = ("linear", "slerp", "cubic")


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Straight-line interpolation ``a + t (b - a)``; ``t`` broadcasts against the leading dim."""
    return a + _expand(t, a) * (b - a)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float, eps: float = 1e-7):
    """Spherical interpolation over the last dim: the direction moves along the great circle and
    the length changes linearly, so endpoints of equal norm keep that norm all the way."""
    t = _expand(t, a)
    norm_a = a.norm(dim=-1, keepdim=True)
    norm_b = b.norm(dim=-1, keepdim=True)
    unit_a = a / norm_a.clamp_min(eps)
    unit_b = b / norm_b.clamp_min(eps)
    cos = (unit_a * unit_b).sum(dim=-1, keepdim=True).clamp(-1, 1)
    theta = torch.arccos(cos)
    sin = torch.sin(theta)
    # Nearly parallel directions: the great circle degenerates, the chord is just as good.
    parallel = sin.abs() < 1e-6
    safe_sin = torch.where(parallel, torch.ones_like(sin), sin)
    wa = torch.where(parallel, 1 - t, torch.sin((1 - t) * theta) / safe_sin)
    wb = torch.where(parallel, t, torch.sin(t * theta) / safe_sin)
    direction = wa * unit_a + wb * unit_b
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(eps)
    return direction * (norm_a + t * (norm_b - norm_a))


def periodic_spline_second_derivatives(keys: torch.Tensor) -> torch.Tensor:
    """Second derivatives ``M`` of the closed-loop cubic spline through ``keys [K, ...]``.

    Unit spacing; solves ``M[i-1] + 4 M[i] + M[i+1] = 6 (y[i+1] - 2 y[i] + y[i-1])`` cyclically.
    """
    k = keys.shape[0]
    y = keys.reshape(k, -1).to(torch.float64).cpu()
    eye = torch.eye(k, dtype=torch.float64)
    system = 4 * eye + eye.roll(1, dims=0) + eye.roll(-1, dims=0)
    rhs = 6 * (y.roll(-1, dims=0) - 2 * y + y.roll(1, dims=0))
    second = torch.linalg.solve(system, rhs)
    return second.reshape(keys.shape).to(dtype=keys.dtype, device=keys.device)


def interpolate_keyframes(keys: torch.Tensor, t: torch.Tensor, kind: str = "cubic") -> torch.Tensor:
    """Sample the looping curve through ``keys [K, ...]`` at times ``t [T]`` -> ``[T, ...]``.

    ``linear`` and ``slerp`` go keyframe to keyframe; ``cubic`` is the C2-smooth periodic cubic
    spline through all keyframes (what ``gen_video.py`` approximates by tiling scipy's spline).
    ``slerp`` works on the last dim, so give it ``[K, z_dim]``.
    """
    check_kind(kind)
    k = keys.shape[0]
    t = torch.as_tensor(t, dtype=torch.float64).reshape(-1)
    base = torch.floor(t)
    u = (t - base).to(keys.dtype).to(keys.device)
    i = (base.long() % k).to(keys.device)
    j = (i + 1) % k
    a, b = keys[i], keys[j]
    if kind == "linear":
        return lerp(a, b, u)
    if kind == "slerp":
        return slerp(a, b, u)
    second = periodic_spline_second_derivatives(keys)
    ue = _expand(u, a)
    ve = 1 - ue
    return ve * a + ue * b + ((ve**3 - ve) * second[i] + (ue**3 - ue) * second[j]) / 6


def check_kind(kind: str) -> str:
    """Validate an interpolation kind name (``linear``, ``slerp`` or ``cubic``)."""
    if kind not in INTERPOLATION_KINDS:
        raise StyleGANError(
            f"unknown interpolation {kind!r}; choose one of {', '.join(INTERPOLATION_KINDS)}"
        )
    return kind


def _expand(t: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """Shape a scalar or ``[T]`` tensor of weights to broadcast over ``like [T, ...]``."""
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.ndim == 1:
        t = t.reshape(-1, *([1] * (like.ndim - 1)))
    return t
