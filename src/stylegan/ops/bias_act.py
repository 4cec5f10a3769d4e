"""Bias, activation, gain and clamp in one call (``bias_act``), as NVIDIA's op defines it.

Order of operations: ``x + b`` (broadcast along ``dim``), activation, ``* gain``, clamp to
``[-clamp, clamp]``. The activation table and its default alphas and gains match the official
``activation_funcs``; the fast path differs from the reference only by reusing its own buffers
when autograd does not need them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class ActivationSpec:
    """One entry of the activation table: the function and its default alpha and gain."""

    func: Callable[[torch.Tensor, float], torch.Tensor]
    def_alpha: float
    def_gain: float


activation_funcs: dict[str, ActivationSpec] = {
    "linear": ActivationSpec(lambda x, alpha: x, 0.0, 1.0),
    "relu": ActivationSpec(lambda x, alpha: F.relu(x), 0.0, math.sqrt(2)),
    "lrelu": ActivationSpec(lambda x, alpha: F.leaky_relu(x, alpha), 0.2, math.sqrt(2)),
    "tanh": ActivationSpec(lambda x, alpha: torch.tanh(x), 0.0, 1.0),
    "sigmoid": ActivationSpec(lambda x, alpha: torch.sigmoid(x), 0.0, 1.0),
    "elu": ActivationSpec(lambda x, alpha: F.elu(x), 0.0, 1.0),
    "selu": ActivationSpec(lambda x, alpha: F.selu(x), 0.0, 1.0),
    "softplus": ActivationSpec(lambda x, alpha: F.softplus(x), 0.0, 1.0),
    "swish": ActivationSpec(lambda x, alpha: torch.sigmoid(x) * x, 0.0, math.sqrt(2)),
}


def _parse(
    x: torch.Tensor,
    b: torch.Tensor | None,
    dim: int,
    act: str,
    alpha: float | None,
    gain: float | None,
    clamp: float | None,
) -> tuple[ActivationSpec, float, float, float | None]:
    """Validate the arguments and fill in the table's defaults."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if act not in activation_funcs:
        raise ValueError(f"unknown activation {act!r}; choose one of {sorted(activation_funcs)}")
    if clamp is not None and clamp < 0:
        raise ValueError(f"clamp must be >= 0 or None, got {clamp}")
    if b is not None:
        if not isinstance(b, torch.Tensor) or b.ndim != 1:
            raise ValueError("bias must be a 1-D tensor")
        if not 0 <= dim < x.ndim:
            raise ValueError(f"dim={dim} is out of range for a {x.ndim}-D input")
        if b.shape[0] != x.shape[dim]:
            raise ValueError(
                f"bias has {b.shape[0]} elements but x has {x.shape[dim]} along dim {dim}"
            )
    spec = activation_funcs[act]
    alpha = float(alpha if alpha is not None else spec.def_alpha)
    gain = float(gain if gain is not None else spec.def_gain)
    return spec, alpha, gain, (float(clamp) if clamp is not None else None)


def _bias_shape(x: torch.Tensor, dim: int) -> list[int]:
    return [-1 if i == dim else 1 for i in range(x.ndim)]


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
    inplace: bool = False,
) -> torch.Tensor:
    """Add bias ``b`` along ``dim``, apply ``act``, scale by ``gain``, clamp to ``±clamp``.

    ``alpha`` and ``gain`` default to the activation's entry in the official table (lrelu:
    slope 0.2, gain sqrt(2)); ``clamp=None`` disables clamping. With nothing to do (linear, no
    bias, gain 1, no clamp) ``x`` itself is returned, as the official op does.

    ``inplace=True`` says ``x`` is the caller's own temporary (a fresh conv output, say) that it
    no longer needs: when autograd records nothing, every step then overwrites ``x`` instead of
    allocating a new tensor, which on CPU costs more than the arithmetic. The values are
    identical either way; with autograd recording, ``inplace`` is ignored.
    """
    spec, alpha, gain, clamp = _parse(x, b, dim, act, alpha, gain, clamp)
    needs_grad = torch.is_grad_enabled() and (
        x.requires_grad or (b is not None and b.requires_grad)
    )
    owned = inplace and not needs_grad  # whether `y` is a buffer we may overwrite
    y = x
    if b is not None:
        bias = b.reshape(_bias_shape(x, dim))
        # In place only where `x + b` would keep x's dtype (no type promotion to mimic).
        y = y.add_(bias) if owned and torch.result_type(x, b) == x.dtype else y + bias
        owned = True
    if act == "lrelu" and owned and not needs_grad:
        y = F.leaky_relu_(y, alpha)
    elif act == "relu" and owned and not needs_grad:
        y = F.relu_(y)
    elif act != "linear":
        y = spec.func(y, alpha)
        owned = True
    if gain != 1:
        y = y.mul_(gain) if owned and not needs_grad else y * gain
        owned = True
    if clamp is not None:
        y = y.clamp_(-clamp, clamp) if owned and not needs_grad else y.clamp(-clamp, clamp)
        owned = True
    return y


def bias_act_reference(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """Slow, literal version of :func:`bias_act` for tests: one out-of-place step at a time."""
    spec, alpha, gain, clamp = _parse(x, b, dim, act, alpha, gain, clamp)
    if b is not None:
        x = x + b.reshape(_bias_shape(x, dim))
    x = spec.func(x, alpha)
    x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x
