"""Training on several processes with ``torch.distributed`` (``torchrun``), one rank per GPU.

``torchrun --nproc_per_node=N -m stylegan train ...`` sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; :func:`init` reads them and joins the process group (NCCL on CUDA, gloo on CPU).
Without them everything here is a no-op and training runs in one process as before.

The loop keeps every rank identical: the same latents (drawn for the whole batch from a
generator seeded by the step, then sliced), gradients summed over ranks before each optimiser
step (one flat all-reduce per phase), running averages (``w_avg``, path length mean) moved by
the whole batch, per-sample statistics and ADA's signs gathered from every rank, and stop
decisions (Ctrl-C, SIGTERM, time limit) agreed on. :func:`check_consistency` verifies it at
every snapshot. Only rank 0 writes files.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from stylegan.errors import StyleGANError


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank among ``world_size`` and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


SINGLE = Context()


def from_environment() -> Context:
    """The context torchrun describes in the environment (one process if it is absent)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    return Context(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def init(context: Context, device: torch.device) -> torch.device:
    """Join the process group (once) and return this rank's device (``cuda:LOCAL_RANK``)."""
    if not context.active:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", context.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        try:
            # Rank 0 computes the metrics alone while the others wait at a barrier: allow
            # that to take a while (NCCL's default is 10 minutes).
            dist.init_process_group(backend=backend, timeout=group_timeout())
        except Exception as e:  # rendezvous problems are the user's to fix, say so in one line
            raise StyleGANError(
                f"could not join the torch.distributed group ({backend}): {e}; launch with "
                "torchrun (see docs/distributed.md)"
            ) from None
    return device


def group_timeout() -> datetime.timedelta:
    """How long a collective may wait for the other ranks: ``STYLEGAN_DIST_TIMEOUT_MIN``
    minutes, 120 by default (metrics on rank 0 hold the others at a barrier)."""
    value = os.environ.get("STYLEGAN_DIST_TIMEOUT_MIN", "120")
    try:
        minutes = float(value)
    except ValueError:
        minutes = -1.0
    if not minutes > 0:
        raise StyleGANError(f"STYLEGAN_DIST_TIMEOUT_MIN must be a positive number, got {value!r}")
    return datetime.timedelta(minutes=minutes)


def shutdown(context: Context) -> None:
    """Leave the process group (safe to call on errors too)."""
    if context.active and dist.is_initialized():
        dist.destroy_process_group()


def barrier(context: Context) -> None:
    if context.active:
        dist.barrier()


def all_reduce_sum_(tensors: list[torch.Tensor], context: Context) -> None:
    """Sum tensors over ranks in place, as one flat bucket (one message, not one per tensor)."""
    if not context.active or not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    offset = 0
    for t in tensors:
        t.copy_(flat[offset : offset + t.numel()].reshape(t.shape))
        offset += t.numel()


def sum_gradients_(
    module: torch.nn.Module, context: Context, extra: list[torch.Tensor] | None = None
) -> None:
    """Sum the gradients of ``module`` and the ``extra`` tensors over ranks, in one all-reduce.

    A gradient missing on one rank counts as zero; one missing on every rank stays ``None``
    (so the optimiser skips that parameter, as in one process)."""
    if not context.active:
        return
    params = list(module.parameters())
    present = torch.tensor(
        [float(p.grad is not None) for p in params], device=params[0].device if params else None
    )
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    all_reduce_sum_(grads + list(extra or []) + [present], context)
    for p, g, n in zip(params, grads, present.tolist()):
        p.grad = g if n > 0 else None


def gather_cat(tensors: list[torch.Tensor], context: Context) -> list[torch.Tensor]:
    """Each tensor flattened and concatenated over ranks (rank 0's values first), as one
    flat float32 bucket. Every rank must pass tensors of the same sizes."""
    if not context.active or not tensors:
        return tensors
    flat = torch.cat([t.detach().reshape(-1).to(torch.float32) for t in tensors])
    parts = [torch.empty_like(flat) for _ in range(context.world_size)]
    dist.all_gather(parts, flat)
    sizes = [t.numel() for t in tensors]
    pieces = [part.split(sizes) for part in parts]
    return [torch.cat([p[i] for p in pieces]) for i in range(len(tensors))]


def check_consistency(values: dict[str, torch.nn.Module | torch.Tensor], context: Context) -> None:
    """Raise if any parameter, buffer or tensor differs from rank 0's (as NVIDIA's
    ``check_ddp_consistency``): the ranks must hold bit-identical networks."""
    if not context.active:
        return
    for name, value in values.items():
        if isinstance(value, torch.Tensor):
            named = [("", value)]
        else:
            named = list(value.named_parameters()) + list(value.named_buffers())
        if not named:
            continue
        bad: list[str] = []
        # One broadcast per kind of tensor: float32 holds fp16/bf16/fp32 exactly, int64 ints.
        for kind in (torch.float64, torch.float32, torch.int64):
            group = [(n, t) for n, t in named if _comparison_dtype(t) == kind]
            if not group:
                continue
            mine = torch.nan_to_num(torch.cat([t.detach().reshape(-1).to(kind) for _, t in group]))
            ours = mine.clone()
            dist.broadcast(ours, src=0)
            if not torch.equal(mine, ours):
                sizes = [t.numel() for _, t in group]
                for (tensor_name, _), a, b in zip(group, mine.split(sizes), ours.split(sizes)):
                    if not torch.equal(a, b):
                        bad.append(f"{name}.{tensor_name}" if tensor_name else name)
        differs = torch.tensor([float(len(bad))], device=named[0][1].device)
        dist.all_reduce(differs, op=dist.ReduceOp.MAX)
        if differs.item():
            where = (
                f" (on rank {context.rank}: {bad[0]}, {len(bad)} tensor(s) in all)" if bad else ""
            )
            raise StyleGANError(
                f"the ranks' copies of {name} differ from rank 0's{where}; a bug in the "
                "distributed training loop, please report it"
            )


def _comparison_dtype(t: torch.Tensor) -> torch.dtype:
    if t.dtype == torch.float64:
        return torch.float64
    return torch.float32 if t.is_floating_point() else torch.int64


def broadcast_module_(module: torch.nn.Module, context: Context) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not context.active:
        return
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)


def broadcast_object(value: Any, context: Context) -> Any:
    """Rank 0's ``value`` on every rank (e.g. the run folder's path)."""
    if not context.active:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def max_over_ranks(values: list[float], context: Context, device: torch.device) -> list[float]:
    """Each value's maximum over the ranks (e.g. the number of a signal one rank received)."""
    if not context.active:
        return list(values)
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.tolist()


def any_rank(flags: list[bool], context: Context, device: torch.device) -> list[bool]:
    """Each flag, true if it is true on any rank (Ctrl-C on one rank stops all of them)."""
    return [bool(v) for v in max_over_ranks([float(f) for f in flags], context, device)]


class NullLog:
    """What ranks other than 0 log to: nothing."""

    def line(self, text: str = "") -> None:
        pass

    def tick(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass
