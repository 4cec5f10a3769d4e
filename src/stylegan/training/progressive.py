"""Progressive growing (ProGAN, StyleGAN 1): the schedule of resolutions, batches and rates.

Training starts at ``lod_initial_resolution`` and doubles the resolution every
``lod_training_kimg + lod_transition_kimg`` thousand images: first the new layers fade in
linearly over ``lod_transition_kimg``, then the network trains at that size for
``lod_training_kimg``. The level of detail ``lod`` is ``log2(final / current resolution)``,
fractional during a fade. Everything here is a pure function of the image count, so a run
resumed in the middle of a fade continues on exactly the same schedule (``training_schedule``
of NVlabs/stylegan ``training/training_loop.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from stylegan.ops.box_resample import box_downsample, nearest_upsample

if TYPE_CHECKING:  # the state module builds StyleGAN 1's networks with this module's schedule
    from stylegan.training.config import TrainingConfig
    from stylegan.training.state import TrainingState


@dataclass(frozen=True)
class Schedule:
    """Training parameters at one point of the run."""

    lod: float  # 0 = fully grown
    resolution: int  # the resolution being trained (faded in or stable)
    batch_size: int
    g_lr: float
    d_lr: float


def _per_resolution(table: Mapping | None, resolution: int, default):
    """``table[resolution]`` (keys may be strings after a JSON round trip) or ``default``."""
    if not table:
        return default
    for key, value in table.items():
        if int(key) == resolution:
            return value
    return default


def schedule_at(config, cur_nimg: int, final_resolution: int) -> Schedule:
    """The schedule after ``cur_nimg`` real images for a run that ends at
    ``final_resolution`` (no growing when ``config.lod_initial_resolution`` is None)."""
    log2_final = final_resolution.bit_length() - 1
    if config.lod_initial_resolution is None:
        lod = 0.0
    else:
        kimg = cur_nimg / 1000
        phase_kimg_total = config.lod_training_kimg + config.lod_transition_kimg
        phase = math.floor(kimg / phase_kimg_total) if phase_kimg_total > 0 else 0
        phase_kimg = kimg - phase * phase_kimg_total
        lod = log2_final - math.floor(math.log2(config.lod_initial_resolution)) - phase
        if config.lod_transition_kimg > 0:
            lod -= max(phase_kimg - config.lod_training_kimg, 0.0) / config.lod_transition_kimg
        lod = max(lod, 0.0)
    resolution = 2 ** (log2_final - math.floor(lod))
    return Schedule(
        lod=lod,
        resolution=resolution,
        batch_size=int(_per_resolution(config.batch_per_resolution, resolution, config.batch_size)),
        g_lr=float(_per_resolution(config.lr_per_resolution, resolution, config.g_lr)),
        d_lr=float(_per_resolution(config.lr_per_resolution, resolution, config.d_lr)),
    )


def new_layers_added(previous_lod: float | None, lod: float) -> bool:
    """Whether the set of active layers changed since ``previous_lod`` (a fade began or
    ended); the original resets Adam's moments then."""
    if previous_lod is None:
        return False
    return math.floor(lod) != math.floor(previous_lod) or math.ceil(lod) != math.ceil(previous_lod)


def process_reals(images: torch.Tensor, lod: float) -> torch.Tensor:
    """Real images as the networks see them at ``lod``: averaged down to the current
    resolution, blended towards the next lower one during a fade, then repeated back up to
    full size (``process_reals`` of the original)."""
    if lod <= 0:
        return images
    level = math.floor(lod)
    x = box_downsample(images, 2**level)
    fade = lod - level
    if fade > 0:
        lower = nearest_upsample(box_downsample(x, 2), 2)
        x = x + (lower - x) * fade
    return nearest_upsample(x, 2**level)


def set_lod(networks: Mapping[str, nn.Module] | list[nn.Module], lod: float) -> None:
    """Write ``lod`` into every network that grows (StyleGAN 1 G, G_ema and D)."""
    modules = networks.values() if isinstance(networks, Mapping) else networks
    for net in modules:
        holder = getattr(net, "synthesis", net)
        buffer = getattr(holder, "lod", None)
        if isinstance(buffer, torch.Tensor):
            buffer.fill_(lod)


def reset_adam_moments(optimizer: torch.optim.Optimizer) -> None:
    """Forget Adam's moments and step counts, keeping the hyperparameters."""
    optimizer.state.clear()


def apply_schedule(state: TrainingState, config: TrainingConfig, sched: Schedule) -> None:
    """Set the networks' level of detail and the optimisers' learning rates for this step;
    when layers are added or a fade ends, forget Adam's moments (as the original does)."""
    if config.lod_initial_resolution is None:
        return
    if new_layers_added(state.lod, sched.lod):
        reset_adam_moments(state.G_opt)
        reset_adam_moments(state.D_opt)
        state.count("lod/optimizer_resets")
    state.lod = sched.lod
    set_lod(state.networks(), sched.lod)
    for opt, lr, ratio in (
        (state.G_opt, sched.g_lr, config.g_lazy_ratio),
        (state.D_opt, sched.d_lr, config.d_lazy_ratio),
    ):
        for group in opt.param_groups:
            group["lr"] = lr * ratio
