"""Exponential moving average of the generator's weights (``G_ema``), with the official ramp-up."""

from __future__ import annotations

import torch
from torch import nn


def ema_beta(
    batch_size: int, cur_nimg: int, ema_kimg: float, ema_rampup: float | None = None
) -> float:
    """Per-step decay so that the average has a half-life of ``ema_kimg`` thousand images.

    With ``ema_rampup`` the half-life is at most ``ema_rampup * cur_nimg`` images, so early,
    quickly improving weights are not averaged with the random initialisation for long.
    """
    ema_nimg = ema_kimg * 1000
    if ema_rampup is not None:
        ema_nimg = min(ema_nimg, cur_nimg * ema_rampup)
    return 0.5 ** (batch_size / max(ema_nimg, 1e-8))


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, beta: float) -> None:
    """``p_ema = beta * p_ema + (1 - beta) * p`` for parameters; buffers (w_avg, noise_const)
    are copied as they are."""
    for p_ema, p in zip(G_ema.parameters(), G.parameters(), strict=True):
        p_ema.copy_(p.lerp(p_ema, beta))
    for b_ema, b in zip(G_ema.buffers(), G.buffers(), strict=True):
        b_ema.copy_(b)
