"""Training StyleCLIP's latent mapper (:class:`~stylegan.networks.mapper.LevelsMapper`).

StyleCLIP trains on ws of real faces inverted by e4e, or on sampled ones; here on sampled ws
(``z -> w`` at ``truncation_psi``, broadcast to W+), a fresh batch every step, with its losses and
weights: ``CLIP distance(G(w + 0.1 M(w)), prompt) + 0.8 * MSE(w + 0.1 M(w), w)`` (its identity
loss is for faces and is left out). It optimises with Ranger (RAdam + Lookahead) at lr 0.5,
batch 2, for 50,000 steps at 1024 px; we keep RAdam at lr 0.5 and batch 2 (Lookahead is not in
PyTorch) and default to 5,000 steps, which our 32-64 px networks need. The checkpoint (folder
``outdir/mapper``) holds the mapper, the optimiser and the RNG, so an interrupted run resumes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from stylegan.errors import StyleGANError, ToolTrainingInterrupted
from stylegan.io.checkpoint import check_checkpoint_destination, load_checkpoint, save_checkpoint
from stylegan.latents import random_class_labels
from stylegan.networks.clip import TextImageModel
from stylegan.networks.mapper import LevelsMapper
from stylegan.runtime import GracefulStop
from stylegan.tools.generate import latents_to_ws, prepare_generator
from stylegan.tools.styleclip import clip_similarity, text_features

CHECKPOINT_NAME = "mapper"
NETWORK_KEY = "mapper"
MAPPER_STEPS = 5000
MAPPER_LR = 0.5
MAPPER_BATCH = 2
MAPPER_L2 = 0.8


@dataclasses.dataclass
class MapperTraining:
    """What :func:`train_mapper` returns."""

    mapper: LevelsMapper
    checkpoint: Path | None
    step: int
    losses: dict[str, float]
    seconds: float


class MapperTrainingInterrupted(ToolTrainingInterrupted):
    """Mapper training stopped by a signal after writing its resumable checkpoint."""

    what = "mapper training"


def train_mapper(
    G: nn.Module,
    clip: TextImageModel,
    prompt: str,
    *,
    steps: int = MAPPER_STEPS,
    batch_size: int = MAPPER_BATCH,
    lr: float = MAPPER_LR,
    l2_lambda: float = MAPPER_L2,
    truncation_psi: float = 0.7,
    groups: Sequence[str] = ("coarse", "medium", "fine"),
    templates: Sequence[str] | None = None,
    outdir: str | Path | None = None,
    resume: str | Path | None = None,
    snapshot_every: int = 1000,
    seed: int = 0,
    progress: bool = True,
) -> MapperTraining:
    """Train (or continue) a mapper for ``prompt`` up to ``steps`` steps (see the module doc);
    ``groups`` are the ws groups it may move (StyleCLIP's ``--no_fine_mapper`` leaves out fine)."""
    if steps < 1 or batch_size < 1 or not lr > 0 or l2_lambda < 0 or snapshot_every < 1:
        raise StyleGANError(
            "mapper training needs steps, batch size and snapshot interval >= 1, lr > 0 and "
            f"l2_lambda >= 0 (got {steps}, {batch_size}, {snapshot_every}, {lr}, {l2_lambda})"
        )
    unknown = sorted(set(groups) - {"coarse", "medium", "fine"})
    if unknown:
        raise StyleGANError(f"unknown mapper groups {unknown}: use coarse, medium and/or fine")
    G, device = prepare_generator(G)
    outdir = None if outdir is None else Path(outdir)
    ckpt_path = None if outdir is None else outdir / CHECKPOINT_NAME
    if ckpt_path is not None and (resume is None or Path(resume) != ckpt_path):
        check_checkpoint_destination(ckpt_path, overwrite=True)
    target = text_features(clip, [prompt], templates)[0].to(device)
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, Any] | None = None
    if resume is not None:
        ckpt = load_checkpoint(resume, nets=[NETWORK_KEY])
        mapper, state = ckpt.networks[NETWORK_KEY], ckpt.training_state
        if not isinstance(state, dict) or "step" not in state:
            raise StyleGANError(f"{resume} holds no mapper training state; cannot resume from it")
        check_mapper(mapper, G)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            mapper = LevelsMapper(
                num_ws=int(G.num_ws),
                w_dim=int(G.w_dim),
                map_coarse="coarse" in groups,
                map_medium="medium" in groups,
                map_fine="fine" in groups,
            )
    mapper = mapper.to(device).train()
    opt = torch.optim.RAdam(mapper.parameters(), lr=lr)
    step = 0
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["rng"])
        step = int(state["step"])

    def save() -> Path | None:
        if ckpt_path is None:
            return None
        training_state = {"step": step, "optimizer": opt.state_dict(), "rng": gen.get_state()}
        meta = {"kind": "styleclip-mapper", "prompt": prompt, "step": step, "lr": lr,
                "l2_lambda": l2_lambda, "truncation_psi": truncation_psi}  # fmt: skip
        return save_checkpoint(ckpt_path, {NETWORK_KEY: mapper}, training_state, meta, True)

    recent: dict[str, list[float]] = {"loss": [], "clip": [], "l2": []}
    start, saved = time.perf_counter(), None
    frozen = [p for p in G.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    bar = tqdm(total=steps, initial=min(step, steps), desc="mapper", disable=not progress)
    try:
        with GracefulStop() as signals:
            while step < steps:
                z = torch.randn([batch_size, G.z_dim], generator=gen).to(device)
                c = random_class_labels(G.c_dim, batch_size, gen, device)
                with torch.no_grad():
                    ws = latents_to_ws(G, z, c, truncation_psi, None)
                edited = mapper.edit(ws)
                images = G.synthesis(edited, noise_mode="const")
                clip_term = (1 - clip_similarity(clip, images, target)).mean()
                l2_term = (edited - ws).square().mean()
                loss = clip_term + l2_lambda * l2_term
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                for key, value in (("loss", loss), ("clip", clip_term), ("l2", l2_term)):
                    recent[key] = [*recent[key][-49:], float(value.detach())]
                bar.update(1)
                bar.set_postfix(clip=f"{np.mean(recent['clip']):.4f}", refresh=False)
                if step % snapshot_every == 0 and step < steps:
                    saved = save()
                if signals.requested:
                    bar.close()
                    raise MapperTrainingInterrupted(outdir, save(), signals.requested)
            bar.close()
            saved = save() if ckpt_path is not None else saved
    finally:
        for p in frozen:
            p.requires_grad_(True)
    losses = {key: float(np.mean(v)) for key, v in recent.items() if v}
    mapper.prompt = prompt
    return MapperTraining(mapper.eval(), saved, step, losses, time.perf_counter() - start)


def check_mapper(mapper: nn.Module, G: nn.Module) -> None:
    """A one-line error when a mapper was trained for a network of another shape."""
    if not isinstance(mapper, LevelsMapper):
        raise StyleGANError(f"expected a StyleCLIP mapper, got a {type(mapper).__name__}")
    if (mapper.num_ws, mapper.w_dim) != (int(G.num_ws), int(G.w_dim)):
        raise StyleGANError(
            f"this mapper is for ws [{mapper.num_ws}, {mapper.w_dim}], the network has "
            f"[{int(G.num_ws)}, {int(G.w_dim)}]: train a mapper for this network"
        )


def load_mapper(path: str | Path, G: nn.Module | None = None, device="cpu") -> LevelsMapper:
    """A trained mapper from its checkpoint (``outdir/mapper`` or a copy), checked against
    ``G`` when given."""
    ckpt = load_checkpoint(path, nets=[NETWORK_KEY], training_state=False, device=device)
    if NETWORK_KEY not in ckpt.networks:
        raise StyleGANError(f"{path} holds no mapper; give the folder `stylegan clip mapper` wrote")
    mapper = ckpt.networks[NETWORK_KEY].eval()
    mapper.prompt = str(ckpt.metadata.get("prompt", ""))  # what it was trained for
    if G is not None:
        check_mapper(mapper, G)
    return mapper
