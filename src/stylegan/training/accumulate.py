"""One phase's optimiser step over micro-batches, bit-identical however the batch is split.

A phase (G main, G reg, D main, D reg) sees the global batch as micro-batches of ``batch_gpu``
images: micro-batch ``k = rank * rounds + j`` is computed by one rank in round ``j``, under a
torch RNG seeded by (seed, step, phase, k) (:func:`micro_batch_rng`). Their weighted gradients,
the changes of running averages (w_avg, magnitude_ema) and of pl_mean are summed as a balanced
binary tree (:class:`PairwiseSum`) and over ranks (one all-reduce), so 1 rank x 4 rounds and 2
ranks x 2 rounds round identically. :func:`accumulate_phase` does all of it and takes the
optimiser step; the rest of this module is its parts and the batch-split checks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from stylegan.errors import StyleGANError
from stylegan.training import distributed
from stylegan.training.config import TrainingConfig
from stylegan.training.config_checks import check_batch_split as config_check_batch_split
from stylegan.training.config_checks import micro_batch_size as config_micro_batch_size
from stylegan.training.loss import PhaseLoss


def check_batch_split(config: TrainingConfig, context: distributed.Context) -> None:
    """Every batch of the run (per resolution too) must split into ranks and micro-batches."""
    config_check_batch_split(config, context.world_size)


def micro_batch_size(config: TrainingConfig, context: distributed.Context, batch: int) -> int:
    """Images per forward pass on one rank: ``batch_gpu``, at most the rank's share."""
    return config_micro_batch_size(config, context.world_size, batch)


@dataclass(frozen=True)
class MicroBatches:
    """How this rank's share of step ``step`` splits into micro-batches of ``size`` images."""

    size: int
    rounds: int  # micro-batches per rank
    global_batch: int  # images of the step over all ranks
    seed: int
    step: int
    context: distributed.Context
    device: torch.device

    @classmethod
    def split(
        cls,
        local: int,
        batch_gpu: int | None,
        seed: int,
        step: int,
        context: distributed.Context,
        device: torch.device,
    ) -> MicroBatches:
        """``local`` images of this rank in micro-batches of ``batch_gpu`` (None = all at once)."""
        size = batch_gpu or local
        if local % size != 0:
            raise StyleGANError(
                f"the per-rank batch {local} is not a multiple of --batch-gpu {size}"
            )
        return cls(size, local // size, local * context.world_size, seed, step, context, device)

    @property
    def weight(self) -> float:
        """A micro-batch's share of the global batch: its losses are weighted by it."""
        return self.size / self.global_batch

    def parts(self) -> Iterator[tuple[int, slice]]:
        """``(global micro-batch index, slice of this rank's share)`` of every round."""
        for j in range(self.rounds):
            yield self.context.rank * self.rounds + j, slice(j * self.size, (j + 1) * self.size)


@dataclass
class PhaseOutcome:
    """What a phase's optimiser step leaves to read later (tensors: no synchronisation)."""

    loss: torch.Tensor  # the global batch's mean loss on this rank's micro-batches
    nonfinite_grads: torch.Tensor  # gradient elements that were NaN or infinite
    report: dict[str, torch.Tensor]  # per-sample values of this rank's micro-batches


def accumulate_phase(
    batches: MicroBatches,
    stream: int,
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    compute: Callable[[slice], PhaseLoss],
    gain: float,
    tracked: list[torch.Tensor],
    pl_mean: torch.Tensor,
) -> PhaseOutcome:
    """Run ``compute`` on every micro-batch (RNG stream ``stream``), sum the weighted gradients
    (x ``gain``) pairwise and over ranks, then take one optimiser step on ``module``.

    ``tracked`` running averages move by the global batch's statistics: every micro-batch
    starts from the same values and their weighted changes are summed; likewise ``pl_mean``
    (updated in place) when ``compute`` returns a new path length mean.
    """
    optimizer.zero_grad(set_to_none=True)
    module.requires_grad_(True)
    params = list(module.parameters())
    before = [b.detach().clone() for b in tracked]
    weight = batches.weight
    total, reports = PairwiseSum(), []
    for index, part in batches.parts():
        with micro_batch_rng(batches.seed, batches.step, stream, index, batches.device):
            for b, b0 in zip(tracked, before):
                b.copy_(b0)
            phase = compute(part)
            (phase.loss * (gain * weight)).backward()
        grads = [p.grad for p in params]
        for p in params:
            p.grad = None
        changes = [(b.detach() - b0) * weight for b, b0 in zip(tracked, before)]
        if phase.pl_mean is not None:
            changes.append(((phase.pl_mean - pl_mean) * weight).reshape(1))
        total.add(grads + changes + [phase.loss.detach().reshape(1) * weight])
        reports.append(phase.report)
    module.requires_grad_(False)
    summed = total.result()
    grads, changes, phase_loss = summed[: len(params)], summed[len(params) : -1], summed[-1]
    for p, g in zip(params, grads):
        p.grad = g
    # One all-reduce per phase: the gradients, the running averages' changes, pl_mean's.
    distributed.sum_gradients_(module, batches.context, extra=changes)
    for b, b0, change in zip(tracked, before, changes):
        b.copy_(b0 + change)
    if len(changes) > len(tracked):
        pl_mean.add_(changes[-1].reshape(pl_mean.shape))
    bad_grads = clean_gradients(module)
    optimizer.step()
    return PhaseOutcome(phase_loss[0], bad_grads, merge_reports(reports))


def float_buffers(module: torch.nn.Module) -> list[torch.Tensor]:
    """The running averages a module keeps in buffers (w_avg, magnitude_ema, ...)."""
    return [b for b in module.buffers() if b.is_floating_point()]


def clean_gradients(module: torch.nn.Module) -> torch.Tensor:
    """Replace NaN gradients by 0 and +-inf by +-1e5 (as the official loop does) and return how
    many elements were not finite, as a tensor (no synchronisation)."""
    bad = torch.zeros([], dtype=torch.int64, device=next(module.parameters()).device)
    for p in module.parameters():
        if p.grad is not None:
            bad += (~torch.isfinite(p.grad)).sum()
            torch.nan_to_num(p.grad, nan=0.0, posinf=1e5, neginf=-1e5, out=p.grad)
    return bad


@contextlib.contextmanager
def micro_batch_rng(seed: int, step: int, stream: int, index: int, device: torch.device):
    """Run under a torch RNG seeded by (seed, step, phase stream, micro-batch): a micro-batch
    draws the same numbers (noise, style-mixing cutoffs, ...) whichever rank or round computes
    it, and the global stream continues untouched afterwards."""
    value = int(np.random.SeedSequence([seed, step, stream, index]).generate_state(1)[0])
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(value)
        yield


class PairwiseSum:
    """Sums lists of tensors (one list per micro-batch, ``None`` = zero) as a balanced binary
    tree in micro-batch order: 4 micro-batches give ``(g0 + g1) + (g2 + g3)``, which is also
    what 2 ranks of 2 rounds each compute (all-reduce of ``g0 + g1`` and ``g2 + g3``), so the
    split between ranks and rounds does not even change the rounding."""

    def __init__(self):
        self._stack: list[tuple[int, list[torch.Tensor | None]]] = []

    @staticmethod
    def _add(left: list, right: list) -> list:
        return [r if l is None else l if r is None else l.add_(r) for l, r in zip(left, right)]

    def add(self, tensors: list[torch.Tensor | None]) -> None:
        size = 1
        while self._stack and self._stack[-1][0] == size:
            _, left = self._stack.pop()
            tensors, size = self._add(left, tensors), size * 2
        self._stack.append((size, tensors))

    def result(self) -> list[torch.Tensor | None]:
        total = self._stack[0][1]
        for _, tensors in self._stack[1:]:
            total = self._add(total, tensors)
        return total


def merge_reports(reports: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One report from the micro-batches' (per-sample values concatenated)."""
    if len(reports) == 1:
        return reports[0]
    keys = [k for k in reports[0] if all(k in r for r in reports)]
    return {k: torch.cat([r[k].detach().reshape(-1) for r in reports]) for k in keys}


def gather_reports(
    reports: dict[str, dict[str, torch.Tensor]], context: distributed.Context
) -> dict[str, dict[str, torch.Tensor]]:
    """The reports of all ranks' micro-batches, in micro-batch order (one all-gather)."""
    if not context.active:
        return reports
    keys = [(phase, name) for phase, report in reports.items() for name in report]
    values = distributed.gather_cat([reports[p][n] for p, n in keys], context)
    out: dict[str, dict[str, torch.Tensor]] = {phase: {} for phase in reports}
    for (phase, name), value in zip(keys, values, strict=True):
        out[phase][name] = value
    return out
