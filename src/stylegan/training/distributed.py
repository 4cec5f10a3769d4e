"""Training on several processes with ``torch.distributed`` (``torchrun``), one rank per GPU.

``torchrun --nproc_per_node=N -m stylegan train ...`` sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; :func:`init` reads them and joins the process group (NCCL on CUDA, gloo on CPU).
Without them everything here is a no-op and training runs in one process as before.

The loop keeps every rank identical: the same latents (drawn from one seeded stream on every
rank, then sliced), gradients summed over ranks before each optimiser step, running averages
(``w_avg``, path length mean) updated from all ranks' contributions, ADA's statistics summed,
and stop decisions (Ctrl-C, time limit) agreed on. Only rank 0 writes files.
"""

from __future__ import annotations

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
            dist.init_process_group(backend=backend)
        except Exception as e:  # rendezvous problems are the user's to fix, say so in one line
            raise StyleGANError(
                f"could not join the torch.distributed group ({backend}): {e}; launch with "
                "torchrun (see docs/distributed.md)"
            ) from None
    return device


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


def sum_gradients_(module: torch.nn.Module, context: Context) -> None:
    """Sum the gradients of ``module`` over ranks (missing ones count as zero)."""
    if not context.active:
        return
    params = [p for p in module.parameters() if p.requires_grad or p.grad is not None]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    all_reduce_sum_([p.grad for p in params], context)


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


def any_rank(flags: list[bool], context: Context, device: torch.device) -> list[bool]:
    """Each flag, true if it is true on any rank (Ctrl-C on one rank stops all of them)."""
    if not context.active:
        return flags
    t = torch.tensor([float(f) for f in flags], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


class NullLog:
    """What ranks other than 0 log to: nothing."""

    def line(self, text: str = "") -> None:
        pass

    def tick(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass
