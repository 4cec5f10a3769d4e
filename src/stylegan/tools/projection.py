"""Projecting real images into a generator's latent space, as NVIDIA's ``projector.py``; and PTI.

:func:`project` follows ``stylegan2-ada-pytorch/projector.py`` step for step: ``w`` starts at the
average of 10,000 mapped z (``RandomState(123)``), Adam (lr 0.1, betas 0.9/0.999) optimises it
together with every ``noise_const`` buffer, the learning rate ramps up over the first 5 % and down
(cosine) over the last 25 %, Gaussian noise of ``w_std * 0.05 * max(0, 1 - t / 0.75)^2`` is added
to ``w`` before synthesis, the noise buffers are regularised by their multi-scale
autocorrelation (weight 1e5) and renormalised after every step, and synthesis uses
``noise_mode='const'``. ``space='w+'`` optimises one w per layer instead (all starting at the
average). StyleGAN3 has no noise buffers, so it has no regulariser; StyleGAN (v1) has them.

The perceptual loss is a :class:`stylegan.metrics.perceptual.PerceptualDistance` passed in
(``load_perceptual_distance("auto")``: LPIPS when its weights are at hand, else the offline
EfficientNet-Lite0 distance plus a pixel MSE). Tools do not import metrics, so the caller (the
CLI, a script) loads it.

As NVIDIA's, the optimised noise only helps the search: the images written (``proj.png``) and
``generate --projected-w`` render the projected ws with the network's own constant noise, so
that the npz alone reproduces them. :func:`tune` (Pivotal Tuning, Roich et al.) then fine-tunes a
copy of the generator at that pivot.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from tqdm import tqdm

from stylegan.errors import StyleGANError
from stylegan.images import psnr, save_image, to_uint8_nhwc
from stylegan.latents import class_labels

SPACES = ("w", "w+")
W_AVG_SEED = 123  # NVIDIA's projector draws its 10,000 z from RandomState(123)
PROJECTED_W_FILE = "projected_w.npz"

# A distance: ``embed(images in 0..255) -> [N, D]``, with ``name``, ``pixel_weight`` and
# ``tune_threshold`` attributes (stylegan.metrics.perceptual.PerceptualDistance).
Distance = Any


# ---- the schedule -------------------------------------------------------------------------------


def learning_rate(
    step: int,
    num_steps: int,
    initial_lr: float = 0.1,
    lr_rampup: float = 0.05,
    lr_rampdown: float = 0.25,
) -> float:
    """NVIDIA's projector schedule: linear ramp-up, then a cosine ramp-down at the end."""
    t = step / num_steps
    ramp = min(1.0, (1.0 - t) / lr_rampdown)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    ramp = ramp * min(1.0, t / lr_rampup)
    return initial_lr * ramp


def w_noise_scale(
    step: int,
    num_steps: int,
    w_std: float,
    initial_noise_factor: float = 0.05,
    noise_ramp_length: float = 0.75,
) -> float:
    """Std of the noise added to w at ``step``: it decays to 0 over the first 75 % of steps."""
    t = step / num_steps
    return w_std * initial_noise_factor * max(0.0, 1.0 - t / noise_ramp_length) ** 2


# ---- w statistics, noise buffers ----------------------------------------------------------------


@torch.no_grad()
def w_statistics(
    G: nn.Module, num_samples: int = 10_000, class_idx: int | None = None, batch_size: int = 1000
) -> tuple[torch.Tensor, float]:
    """``(w_avg [1, 1, w_dim], w_std)`` of ``num_samples`` mapped z from ``RandomState(123)``.

    For a conditional network the z are mapped with class ``class_idx``, so the start is that
    class's average w (NVIDIA's projector takes no label and works on unconditional ones only).
    """
    device = next(G.parameters()).device
    z = np.random.RandomState(W_AVG_SEED).randn(num_samples, G.z_dim)
    ws = []
    for i in range(0, num_samples, batch_size):
        chunk = torch.from_numpy(z[i : i + batch_size]).float().to(device)
        c = class_labels(class_idx, G.c_dim, len(chunk), device=device)
        ws.append(G.mapping(chunk, c)[:, :1].float().cpu().double())
    w = torch.cat(ws)  # [N, 1, C]
    w_avg = w.mean(dim=0, keepdim=True)
    w_std = float(((w - w_avg).square().sum() / num_samples).sqrt())
    return w_avg.float().to(device), w_std


def noise_buffers(G: nn.Module) -> dict[str, torch.Tensor]:
    """The synthesis network's ``noise_const`` buffers by name (none for StyleGAN3)."""
    return {name: buf for name, buf in G.synthesis.named_buffers() if "noise_const" in name}


def noise_regularization(buffers: Sequence[torch.Tensor]) -> torch.Tensor | float:
    """NVIDIA's noise regulariser: squared autocorrelation at a 1-pixel shift in x and in y,
    summed over the buffer and its 2x average-pooled versions down to 8x8."""
    loss: torch.Tensor | float = 0.0
    for buf in buffers:
        noise = buf[None, None, :, :]
        while True:
            loss = loss + (noise * torch.roll(noise, shifts=1, dims=3)).mean() ** 2
            loss = loss + (noise * torch.roll(noise, shifts=1, dims=2)).mean() ** 2
            if noise.shape[2] <= 8:
                break
            noise = F.avg_pool2d(noise, kernel_size=2)
    return loss


@torch.no_grad()
def normalize_noise(buffers: Sequence[torch.Tensor]) -> None:
    """Zero mean and unit RMS for each buffer, in place (after every step, as NVIDIA)."""
    for buf in buffers:
        buf -= buf.mean()
        buf *= buf.square().mean().rsqrt()


# ---- targets ------------------------------------------------------------------------------------


def load_target(path: str | Path, resolution: int, channels: int = 3) -> np.ndarray:
    """A target image as uint8 ``[H, W, C]``: centre-cropped to a square and LANCZOS-resized to
    ``resolution`` (NVIDIA's projector); transparency over white, greyscale for 1-channel nets."""
    from stylegan.data.image_convert import load_rgb
    from stylegan.data.reader import UnreadableFile, read_regular_file

    path = Path(path).expanduser()
    if not path.exists():
        raise StyleGANError(f"cannot read target image {path}: not found; give a PNG/JPEG file")
    try:
        img = load_rgb(read_regular_file(path), background=(255, 255, 255))
    except (UnreadableFile, OSError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise StyleGANError(
            f"cannot read target image {path}: {reason}; give a PNG/JPEG file"
        ) from None
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2))
    img = img.resize((resolution, resolution), Image.LANCZOS)
    if channels == 1:
        img = img.convert("L")
    array = np.asarray(img, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array.copy()


def list_targets(path: str | Path) -> list[Path]:
    """One file, or the image files of a folder (sorted by name; not recursive)."""
    from stylegan.data.dataset import is_image_name

    path = Path(path).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and is_image_name(p.name))
        if not files:
            raise StyleGANError(f"no images in {path}: give a PNG/JPEG file or a folder of them")
        return files
    if not path.exists():
        raise StyleGANError(f"target not found: {path}; give a PNG/JPEG file or a folder of them")
    return [path]


def _as_image_tensor(target: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 ``[H, W, C]`` (or ``[C, H, W]`` tensor) -> float ``[1, C, H, W]`` in 0..255."""
    t = torch.as_tensor(np.asarray(target)) if not isinstance(target, torch.Tensor) else target
    if t.ndim == 3 and t.shape[-1] in (1, 3) and t.shape[0] not in (1, 3):
        t = t.permute(2, 0, 1)
    return t[None].to(device=device, dtype=torch.float32)


def _check_target(G: nn.Module, target: torch.Tensor) -> None:
    want = [1, G.img_channels, G.img_resolution, G.img_resolution]
    if list(target.shape) != want:
        raise StyleGANError(
            f"the target is {list(target.shape[1:])} but the network makes {want[1:]} images; "
            "load it with load_target(path, G.img_resolution, G.img_channels)"
        )


# ---- projection ---------------------------------------------------------------------------------


@dataclass
class Projection:
    """What :func:`project` found: ``w`` ``[1, num_ws, w_dim]`` (either space), the ws recorded
    every ``record_every`` steps (``[K, num_ws, w_dim]``, for the video), the final loss and
    perceptual distance, the optimised noise buffers, and which loss was used. ``method`` is
    ``"optimisation"`` (:func:`project`) or ``"encoder"`` (:func:`stylegan.tools.encoder.
    invert_target`, whose ``num_steps`` are its refinement steps)."""

    w: torch.Tensor
    loss_name: str
    space: str
    num_steps: int
    loss: float
    distance: float
    steps: torch.Tensor | None = None
    noise: dict[str, torch.Tensor] = field(default_factory=dict)
    method: str = "optimisation"


def project(
    G: nn.Module,
    target: np.ndarray | torch.Tensor,
    *,
    loss: Distance,
    space: str = "w",
    num_steps: int = 1000,
    seed: int = 303,
    class_idx: int | None = None,
    w_avg_samples: int = 10_000,
    initial_lr: float = 0.1,
    lr_rampup: float = 0.05,
    lr_rampdown: float = 0.25,
    initial_noise_factor: float = 0.05,
    noise_ramp_length: float = 0.75,
    regularize_noise_weight: float = 1e5,
    pixel_weight: float | None = None,
    record_every: int | None = None,
    progress: bool = True,
    callback: Callable[[int, float], None] | None = None,
) -> Projection:
    """Find the latent of ``G`` whose image is closest to ``target`` (uint8 ``[H, W, C]`` at G's
    resolution, e.g. from :func:`load_target`), with NVIDIA's schedule (module docstring).

    ``loss`` is a perceptual distance; ``pixel_weight`` (default: the distance's own) adds the
    pixel MSE of images in [-1, 1]. ``seed`` draws the initial noise buffers and the w noise.
    ``G`` itself is not changed (a copy is optimised).
    """
    if space not in SPACES:
        raise StyleGANError(f"unknown latent space {space!r}; choose w or w+")
    if num_steps < 1:
        raise StyleGANError(f"need at least one step, got {num_steps}")
    device = next(G.parameters()).device
    G = copy.deepcopy(G).eval().requires_grad_(False)
    target_images = _as_image_tensor(target, device)
    _check_target(G, target_images)
    pixel_weight = loss.pixel_weight if pixel_weight is None else pixel_weight

    w_avg, w_std = w_statistics(G, w_avg_samples, class_idx)
    num_ws = G.num_ws
    w_opt = (w_avg if space == "w" else w_avg.repeat(1, num_ws, 1)).clone().requires_grad_(True)
    generator = torch.Generator(device=device).manual_seed(seed)
    buffers = noise_buffers(G)
    with torch.no_grad():
        for buf in buffers.values():
            buf.copy_(torch.randn(buf.shape, generator=generator, device=device))
            buf.requires_grad_(True)
    optimizer = torch.optim.Adam([w_opt, *buffers.values()], betas=(0.9, 0.999), lr=initial_lr)
    with torch.no_grad():
        target_features = loss.embed(target_images)
        target_pixels = target_images / 127.5 - 1

    recorded = []
    bar = tqdm(range(num_steps), desc="projecting", unit="step", disable=not progress)
    total = dist = torch.zeros([])
    for step in bar:
        lr = learning_rate(step, num_steps, initial_lr, lr_rampup, lr_rampdown)
        for group in optimizer.param_groups:
            group["lr"] = lr
        scale = w_noise_scale(step, num_steps, w_std, initial_noise_factor, noise_ramp_length)
        w_noise = torch.randn(w_opt.shape, generator=generator, device=device) * scale
        ws = w_opt + w_noise
        ws = ws.repeat(1, num_ws, 1) if space == "w" else ws
        synth = G.synthesis(ws, noise_mode="const").float()
        dist = (loss.embed((synth + 1) * (255 / 2)) - target_features).square().sum()
        total = dist + regularize_noise_weight * noise_regularization(list(buffers.values()))
        if pixel_weight:
            total = total + pixel_weight * (synth - target_pixels).square().mean()
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        normalize_noise(list(buffers.values()))
        if record_every and (step % record_every == 0 or step == num_steps - 1):
            recorded.append(_full_ws(w_opt.detach(), num_ws)[0].cpu())
        bar.set_postfix(dist=f"{dist.item():.4f}", loss=f"{total.item():.4f}", refresh=False)
        if callback is not None:
            callback(step, float(total))
    bar.close()
    return Projection(
        w=_full_ws(w_opt.detach(), num_ws).cpu(),
        loss_name=loss.name,
        space=space,
        num_steps=num_steps,
        loss=total.item(),
        distance=dist.item(),
        steps=torch.stack(recorded) if recorded else None,
        noise={name: buf.detach().cpu().clone() for name, buf in buffers.items()},
    )


def _full_ws(w: torch.Tensor, num_ws: int) -> torch.Tensor:
    """``[1, 1 | num_ws, C]`` -> ``[1, num_ws, C]`` float32."""
    return (w.repeat(1, num_ws, 1) if w.shape[1] == 1 else w).float()


@torch.no_grad()
def render(G: nn.Module, ws: torch.Tensor) -> np.ndarray:
    """uint8 ``[N, H, W, C]`` images of ``ws`` with the network's constant noise."""
    device = next(G.parameters()).device
    was_training = G.training
    G.eval()
    try:
        images = G.synthesis(ws.to(device), noise_mode="const")
    finally:
        G.train(was_training)
    return to_uint8_nhwc(images).numpy()


# ---- PTI ----------------------------------------------------------------------------------------


@dataclass
class Tuning:
    """What :func:`tune` did: the tuned copy of G, steps run, final pixel MSE and distance."""

    G: nn.Module
    steps: int
    mse: float
    distance: float


def tune(
    G: nn.Module,
    target: np.ndarray | torch.Tensor,
    w: torch.Tensor,
    *,
    loss: Distance,
    num_steps: int = 350,
    lr: float = 3e-4,
    l2_weight: float = 1.0,
    perceptual_weight: float = 1.0,
    threshold: float | None = None,
    progress: bool = True,
) -> Tuning:
    """Pivotal Tuning (PTI): fine-tune a copy of ``G`` so that the pivot ``w`` renders ``target``.

    PTI's settings: Adam lr 3e-4, loss ``l2_weight * MSE + perceptual_weight * distance``, at
    most 350 steps, stopping once the distance is at most ``threshold`` (default: the distance's
    own, 0.06 for LPIPS as PTI). ``G`` itself is not changed.
    """
    device = next(G.parameters()).device
    tuned = copy.deepcopy(G).eval()
    tuned.requires_grad_(False)
    tuned.synthesis.requires_grad_(True)
    target_images = _as_image_tensor(target, device)
    _check_target(tuned, target_images)
    threshold = loss.tune_threshold if threshold is None else threshold
    ws = w.to(device).float()
    optimizer = torch.optim.Adam([p for p in tuned.synthesis.parameters()], lr=lr)
    with torch.no_grad():
        target_features = loss.embed(target_images)
        target_pixels = target_images / 127.5 - 1
    steps, mse, dist = 0, float("nan"), float("nan")
    bar = tqdm(range(num_steps), desc="tuning", unit="step", disable=not progress)
    for _ in bar:
        synth = tuned.synthesis(ws, noise_mode="const").float()
        mse_t = (synth - target_pixels).square().mean()
        dist_t = (loss.embed((synth + 1) * (255 / 2)) - target_features).square().sum()
        mse, dist = float(mse_t.detach()), float(dist_t.detach())
        if dist <= threshold:  # PTI checks before the step
            break
        optimizer.zero_grad(set_to_none=True)
        (l2_weight * mse_t + perceptual_weight * dist_t).backward()
        optimizer.step()
        steps += 1
        bar.set_postfix(dist=f"{dist:.4f}", mse=f"{mse:.4f}", refresh=False)
    bar.close()
    tuned.requires_grad_(False)
    return Tuning(G=tuned.eval(), steps=steps, mse=mse, distance=dist)


# ---- files --------------------------------------------------------------------------------------


def _check_projected_w(array: np.ndarray, G: nn.Module | None, where: str) -> None:
    """The one shape check of projected ws: finite ``[N, num_ws, w_dim]``, G's when given."""
    shape = list(array.shape)
    if array.ndim == 3 and (G is None or shape[1:] == [G.num_ws, G.w_dim]):
        if np.isfinite(array).all():
            return
        raise StyleGANError(f"{where} holds ws that are not finite; project again")
    if array.ndim != 3 or G is None:
        raise StyleGANError(f"{where} holds ws of shape {shape}; expected [N, num_ws, w_dim]")
    raise StyleGANError(
        f"{where} holds ws of shape {shape}: w_dim {shape[2]}, num_ws {shape[1]} but the network "
        f"has w_dim {G.w_dim}, num_ws {G.num_ws}; project with this network"
    )


def save_projected_w(path: str | Path, w: torch.Tensor | np.ndarray, **extra: np.ndarray) -> Path:
    """Write ``w`` ``[N, num_ws, w_dim]`` as NVIDIA's ``projected_w.npz`` (key ``w``, float32),
    atomically; ``extra`` arrays are stored beside it under their own keys."""
    from stylegan.io.atomic import write_atomically

    array = np.asarray(torch.as_tensor(w).detach().cpu(), dtype=np.float32)
    _check_projected_w(array, None, "projected w")

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would add .npz to a name
            np.savez(f, **extra, w=array)

    size = array.nbytes + sum(np.asarray(a).nbytes for a in extra.values()) + 1024
    return write_atomically(Path(path), write, size, overwrite=True)


def load_projected_w(path: str | Path, G: nn.Module | None = None) -> torch.Tensor:
    """``[N, num_ws, w_dim]`` float32 ws of a ``projected_w.npz`` (ours or NVIDIA's; a single
    ``[num_ws, w_dim]`` is one row), checked against ``G``'s ``num_ws`` and ``w_dim`` when given."""
    path = Path(path).expanduser()
    try:
        with np.load(path, allow_pickle=False) as data:
            if "w" not in data:
                keys = ", ".join(data.files) or "none"
                raise StyleGANError(
                    f"{path} holds no key 'w' (keys: {keys}); give a projected_w.npz"
                )
            array = np.asarray(data["w"], dtype=np.float32)
    except StyleGANError:
        raise
    except Exception as err:  # missing, not a zip, damaged: all the file's fault
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise StyleGANError(f"cannot read latent file {path}: {reason}") from None
    if array.ndim == 2:
        array = array[None]
    _check_projected_w(array, G, f"latent file {path}")
    return torch.from_numpy(array)


def write_projection(
    outdir: str | Path,
    target: np.ndarray,
    G: nn.Module,
    w: torch.Tensor,
    proj: np.ndarray | None = None,
) -> dict[str, Path]:
    """NVIDIA's projector outputs in ``outdir``: ``target.png`` (the uint8 ``[H, W, C]``
    target), ``proj.png`` (G's image of ``w`` ``[1, num_ws, w_dim]`` with constant noise, or
    ``proj`` when already rendered) and ``projected_w.npz`` (what ``generate --projected-w``
    reads). Returns the paths by name: ``target``, ``proj``, ``w``."""
    outdir = Path(outdir)
    w = w.reshape(1, G.num_ws, G.w_dim).float().cpu()
    proj = render(G, w)[0] if proj is None else proj
    return {
        "target": save_image(target, outdir / "target.png"),
        "proj": save_image(proj, outdir / "proj.png"),
        "w": save_projected_w(outdir / PROJECTED_W_FILE, w),
    }


@dataclass
class ProjectionReport:
    """One target's outcome: where its files are, the loss used, PSNR (dB) of ``proj.png``
    (and of ``proj_tuned.png`` with PTI), the final perceptual distance, the seconds the
    projection (or inversion) took."""

    target: Path
    outdir: Path
    loss_name: str
    psnr: float
    distance: float
    tuned_psnr: float | None = None
    tuned_distance: float | None = None
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def project_to_folder(
    G: nn.Module,
    target_path: str | Path,
    outdir: str | Path,
    *,
    loss: Distance | None,
    encoder: nn.Module | None = None,
    refine_steps: int = 0,
    save_video: bool = True,
    tune_generator: bool = False,
    tune_steps: int = 350,
    write_summary: bool = True,
    progress: bool = True,
    **settings: Any,
) -> ProjectionReport:
    """Project one image file and write NVIDIA's outputs into ``outdir``: ``target.png``,
    ``proj.png``, ``projected_w.npz``, ``proj.mp4`` (target beside synthesis, every step, 10 fps),
    ``projection.json`` (settings, loss, PSNR; unless ``write_summary`` is off); with
    ``tune_generator`` also the PTI checkpoint ``tuned/`` (loadable with :func:`stylegan.load`)
    and ``proj_tuned.png``.

    With an ``encoder`` the target is inverted in one pass (and ``refine_steps`` steps,
    :func:`stylegan.tools.encoder.invert`) instead of optimised: no video, and ``loss`` may be
    None (pixels only). ``settings`` go to :func:`project`."""
    from stylegan.io.checkpoint import save_checkpoint
    from stylegan.tools.video import write_video

    outdir = Path(outdir)
    target = load_target(target_path, G.img_resolution, G.img_channels)
    start = time.perf_counter()
    if encoder is None:
        record_every = 1 if save_video else None
        result = project(
            G, target, loss=loss, record_every=record_every, progress=progress, **settings
        )
    else:
        from stylegan.tools.encoder import invert_target

        result = invert_target(encoder, G, target, loss=loss, refine_steps=refine_steps)
    seconds = time.perf_counter() - start
    proj = render(G, result.w)[0]
    files = list(write_projection(outdir, target, G, result.w, proj).values())
    report = ProjectionReport(
        Path(target_path), outdir, result.loss_name, psnr(proj, target, drange=(0, 255)),
        result.distance, seconds=seconds,
    )  # fmt: skip
    if save_video and result.steps is not None:
        frames = (np.concatenate([target, image], axis=1) for image in _rendered(G, result.steps))
        files.append(write_video(frames, outdir / "proj.mp4", fps=10))
    if tune_generator:
        tuning = tune(G, target, result.w, loss=loss, num_steps=tune_steps, progress=progress)
        tuned_image = render(tuning.G, result.w)[0]
        files.append(save_image(tuned_image, outdir / "proj_tuned.png"))
        metadata = {"pti": {"target": str(target_path), "steps": tuning.steps}}
        checkpoint = outdir / "tuned"
        files.append(
            save_checkpoint(checkpoint, {"G_ema": tuning.G}, metadata=metadata, overwrite=True)
        )
        report.tuned_psnr = psnr(tuned_image, target, drange=(0, 255))
        report.tuned_distance = tuning.distance
    if write_summary:
        summary = {
            "target": str(target_path),
            "method": result.method,
            "space": result.space,
            "num_steps": result.num_steps,
            "loss": result.loss_name,
            "pixel_weight": settings.get("pixel_weight", getattr(loss, "pixel_weight", 0.0)),
            "settings": {k: v for k, v in settings.items() if k != "pixel_weight"},
            "final_loss": result.loss,
            "distance": result.distance,
            "psnr_db": report.psnr,
            "seconds": seconds,
            "tuned": None
            if not tune_generator
            else {"psnr_db": report.tuned_psnr, "distance": report.tuned_distance},
        }
        if result.method == "encoder":
            summary["refine_steps"] = result.num_steps
        files.append(_write_json(outdir / "projection.json", summary))
    report.files = files
    return report


def project_files(
    G: nn.Module, targets: str | Path, outdir: str | Path, **kwargs: Any
) -> list[ProjectionReport]:
    """:func:`project_to_folder` for one file (into ``outdir``) or every image of a folder (into
    ``outdir/<file stem>``)."""
    files = list_targets(targets)
    if len(files) == 1 and not Path(targets).expanduser().is_dir():
        return [project_to_folder(G, files[0], outdir, **kwargs)]
    return [project_to_folder(G, f, Path(outdir) / f.stem, **kwargs) for f in files]


def _rendered(G: nn.Module, steps: torch.Tensor, batch_size: int = 16):
    for i in range(0, len(steps), batch_size):
        yield from render(G, steps[i : i + batch_size])


def _write_json(path: Path, doc: dict[str, Any]) -> Path:
    from stylegan.io.atomic import write_atomically

    text = json.dumps(doc, indent=2, default=str) + "\n"
    return write_atomically(path, lambda tmp: tmp.write_text(text), len(text), overwrite=True)
