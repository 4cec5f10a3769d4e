"""How a run starts: its state fresh or from a checkpoint (checked against the run first), the
precision of the networks, the augmentation, and the facts written to training_options.json."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stylegan.errors import StyleGANError
from stylegan.networks.layers import set_mixed_precision
from stylegan.training.config import TrainingConfig
from stylegan.training.run_folder import ResumePoint
from stylegan.training.state import (
    TrainingState,
    build_networks,
    freeze_layers,
    with_frozen_layers,
)


@dataclass
class Start:
    """A state ready to train, and where it came from."""

    state: TrainingState
    snapshot: Path | str | None = None  # the checkpoint resumed or fine-tuned from
    run_dir: Path | None = None  # the run folder to continue in place (None = a new one)
    saved_rng: dict[str, Any] | None = None  # RNG states to restore last (a full resume)
    skipped: dict[Path, str] = field(default_factory=dict)  # newer damaged snapshots: why
    networks_only: bool = False  # asked for: fine-tune from the networks, not continue the run


def start_state(
    config: TrainingConfig,
    dataset,
    c_dim: int,
    resume: ResumePoint | None,
    device: torch.device,
    networks_only: bool = False,
) -> Start:
    """Networks, optimisers and counters, fresh (seeded by the config) or restored from
    ``resume`` (its networks alone with ``networks_only``); then the networks' precision and
    the augmentation."""
    torch.manual_seed(config.random_seed)
    np.random.seed(config.random_seed)
    random.seed(config.random_seed)
    start, fine_tune_p = None, None
    if resume is not None:
        from stylegan.io.formats import load_any

        snapshot, run_dir = resume.snapshot, resume.run_dir
        # ours, NVIDIA .pkl, rosinality .pt, URL
        ckpt = load_any(snapshot, device=device, training_state=not networks_only)
        check_fits(ckpt.networks, config, dataset, c_dim, snapshot)
        if "D" in ckpt.networks and freeze_layers(ckpt.networks["D"]) != config.freezed:
            # Freeze-D changes which tensors are trained, so saved optimiser moments no longer
            # fit: fine-tune from the networks (the usual case: a pre-trained NVIDIA .pkl).
            ckpt.networks["D"] = with_frozen_layers(ckpt.networks["D"], config.freezed)
            ckpt.training_state = None
        state = TrainingState.from_checkpoint(ckpt, config, restore_random=False)
        saved_rng = ckpt.training_state["rng"] if ckpt.training_state is not None else None
        start = Start(state, snapshot, run_dir, saved_rng, resume.skipped, networks_only)
        if saved_rng is None:  # networks only, e.g. an NVIDIA snapshot
            fine_tune_p = ((ckpt.metadata or {}).get("augment_pipe") or {}).get("p")
    else:
        G, D = build_networks(config, dataset.resolution, dataset.num_channels, c_dim)
        start = Start(TrainingState.create(config, G.to(device), D.to(device)))
    precision = training_precision(config, device)
    for net in start.state.networks().values():
        set_mixed_precision(net, precision)
    fine_tuning = resume is not None and start.saved_rng is None
    setup_training_augmentation(start.state, config, device, fine_tuning, fine_tune_p)
    return start


def check_fits(networks: dict, config: TrainingConfig, dataset, c_dim: int, snapshot) -> None:
    """Clear errors when a checkpoint cannot continue (or transfer to) the requested run."""
    G = networks.get("G", networks.get("G_ema"))
    if G is None:
        raise StyleGANError(f"{snapshot} holds no generator (G or G_ema); cannot train it")
    family = type(G).__module__.rsplit(".", 1)[-1]  # stylegan1, stylegan2 or stylegan3
    if not config.generator.startswith(family):
        raise StyleGANError(
            f"{snapshot} holds a {family} generator but the run asks for {config.generator}: "
            f"use a --cfg of the same generation (e.g. --cfg {family}) to resume or fine-tune it"
        )
    if G.img_resolution != dataset.resolution or G.img_channels != dataset.num_channels:
        raise StyleGANError(
            f"{snapshot} generates {G.img_resolution} px images with {G.img_channels} channels, "
            f"but the dataset has {dataset.resolution} px with {dataset.num_channels}; to "
            f"resume or fine-tune it, use a dataset of {G.img_resolution} px "
            f"(stylegan dataset --resolution {G.img_resolution})"
        )
    if G.c_dim != c_dim:
        raise StyleGANError(
            f"{snapshot} has {G.c_dim} label dimensions but the run uses {c_dim}; "
            "match --cond to the snapshot (and use a dataset with as many classes)"
        )
    D = networks.get("D")
    if config.freezed and D is not None and not hasattr(D.config, "freeze_layers"):
        raise StyleGANError(
            f"--freezed needs the StyleGAN2 discriminator; {snapshot} has a {family} one"
        )


def setup_training_augmentation(
    state: TrainingState,
    config: TrainingConfig,
    device: torch.device,
    fine_tuning: bool,
    fine_tune_p: float | None = None,
) -> None:
    """Give ``state`` the augmentation of the config: ADA's pipe and controller (p restored on
    resume, or taken from a snapshot's pipe when fine-tuning one), a fixed-p pipe, DiffAugment,
    or nothing. When fine-tuning networks without a training state, ADA reacts faster (100 kimg
    per unit of p) as NVIDIA's train.py does on resume; a true resume keeps its speed, so it
    follows the same curve as an uninterrupted run."""
    from stylegan.training.ada import setup_augmentation
    from stylegan.training.diffaugment import DiffAugment

    state.augment_pipe = state.ada = None
    if config.aug == "diffaugment":
        state.augment_pipe = DiffAugment(config.diffaugment)
        return
    speed = 100.0 if fine_tuning and config.ada_kimg == 500 else config.ada_kimg
    pipe, ada = setup_augmentation(
        config.aug, config.augpipe, config.ada_target, config.augment_p, speed
    )
    if pipe is None:
        return
    if ada is not None:
        ada.interval = config.ada_interval
        if state.ada_state is not None:  # a full training state: continue where it stopped
            pipe.p.fill_(state.augment_p)
            ada.load_state_dict(state.ada_state)
        elif fine_tune_p is not None and config.augment_p is None:
            pipe.p.fill_(fine_tune_p)
    state.augment_pipe = pipe.train().requires_grad_(False).to(device)
    state.ada = ada
    state.augment_p = float(pipe.p)


def training_precision(config: TrainingConfig, device: torch.device) -> str:
    """The precision of the networks' fp16 blocks: the config's on CUDA, fp32 elsewhere (CPUs
    gain nothing from fp16, and the official code keeps fp32 off CUDA too)."""
    return config.precision if device.type == "cuda" else "fp32"


def derived_options(dataset, state: TrainingState, device, run_dir: Path) -> dict:
    """Facts about the run that the config does not state (for training_options.json)."""
    return {
        "run_dir": str(run_dir),
        "dataset": {
            "path": str(dataset.path),
            "name": dataset.name,
            "num_images": len(dataset),
            "resolution": dataset.resolution,
            "num_channels": dataset.num_channels,
            "label_dim": dataset.label_dim,
        },
        "device": str(device),
        "torch": torch.__version__,
        "G_kwargs": state.G.init_kwargs,
        "D_kwargs": state.D.init_kwargs,
        "G_opt": {k: state.G_opt.param_groups[0][k] for k in ("lr", "betas", "eps")},
        "D_opt": {k: state.D_opt.param_groups[0][k] for k in ("lr", "betas", "eps")},
    }
