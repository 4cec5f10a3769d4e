"""The training loop of every generation (StyleGAN 1, 2 and 3).

One training step shows D one minibatch of real images and runs up to four phases, each an
optimiser step on one network::

    Gmain  every step                 non-saturating loss on fresh fakes
    Greg   every g_reg_interval steps path length regularisation, loss x interval
    Dmain  every step                 logistic loss on fakes and reals (w_avg moves here)
    Dreg   every d_reg_interval steps R1 on reals, loss x interval

then G_ema follows G. Every ``kimg_per_tick`` thousand images a tick line goes to ``log.txt``,
and every few ticks a sample grid and a resumable snapshot are written. Ctrl-C or SIGTERM
finishes the step, writes a snapshot and returns.

Under ``torchrun`` every rank runs this loop on its share of the global batch, gradients are
summed over ranks, and rank 0 alone writes files (see ``distributed.py`` and
``docs/distributed.md``).
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from stylegan.devices import resolve_device
from stylegan.errors import StyleGANError
from stylegan.images import make_grid, save_image, to_uint8_nhwc
from stylegan.latents import z_from_seeds
from stylegan.networks.layers import set_mixed_precision
from stylegan.training import distributed, loss
from stylegan.training.config import TrainingConfig, load_training_options, validate
from stylegan.training.config import check_batch_split as config_check_batch_split
from stylegan.training.config import micro_batch_size as config_micro_batch_size
from stylegan.training.ema import ema_beta, update_ema
from stylegan.training.progressive import (
    Schedule,
    new_layers_added,
    process_reals,
    reset_adam_moments,
    schedule_at,
    set_lod,
)
from stylegan.training.state import (
    TrainingState,
    build_networks,
    freeze_layers,
    restore_rng,
    with_frozen_layers,
)
from stylegan.training.stats import (
    RunLog,
    StatsCollector,
    cpu_memory_gb,
    format_time,
    gpu_memory_gb,
)

PHASES = ("Gmain", "Greg", "Dmain", "Dreg")
SNAPSHOT_PATTERN = re.compile(r"^network-snapshot-(\d+)$")
RUN_PATTERN = re.compile(r"^(\d+)-")
MAX_WARNINGS_PER_TICK = 3


# ---- one training step --------------------------------------------------------------------------


@dataclass
class StepResult:
    """What one step did: each phase's loss value, its non-finite gradient count, its report."""

    losses: dict[str, float] = field(default_factory=dict)
    nonfinite_grads: dict[str, int] = field(default_factory=dict)
    reports: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)

    @property
    def nonfinite_phases(self) -> list[str]:
        """Phases whose loss was NaN or infinite."""
        return [name for name, value in self.losses.items() if not np.isfinite(value)]


def is_due(batch_idx: int, interval: int | None) -> bool:
    """Whether a lazily regularised phase runs at this step (None = every step)."""
    return interval is None or batch_idx % interval == 0


def clean_gradients(module: torch.nn.Module) -> torch.Tensor:
    """Replace NaN gradients by 0 and +-inf by +-1e5 (as the official loop does) and return how
    many elements were not finite, as a tensor (no synchronisation)."""
    bad = torch.zeros([], dtype=torch.int64, device=next(module.parameters()).device)
    for p in module.parameters():
        if p.grad is not None:
            bad += (~torch.isfinite(p.grad)).sum()
            torch.nan_to_num(p.grad, nan=0.0, posinf=1e5, neginf=-1e5, out=p.grad)
    return bad


PHASE_SEEDS = {"Gmain": 0, "Gboth": 0, "Greg": 1, "Dmain": 2, "Dboth": 2, "Dreg": 3}


@contextlib.contextmanager
def micro_batch_rng(seed: int, step: int, phase: str, index: int, device: torch.device):
    """Run under a torch RNG seeded by (seed, step, phase, micro-batch): a micro-batch draws
    the same numbers (noise, style-mixing cutoffs, ...) whichever rank or round computes it,
    and the global stream continues untouched afterwards."""
    value = int(
        np.random.SeedSequence([seed, step, PHASE_SEEDS[phase], index]).generate_state(1)[0]
    )
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


def _float_buffers(module: torch.nn.Module) -> list[torch.Tensor]:
    return [b for b in module.buffers() if b.is_floating_point()]


def _merge_reports(reports: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One report from the micro-batches' (per-sample values concatenated)."""
    if len(reports) == 1:
        return reports[0]
    keys = [k for k in reports[0] if all(k in r for r in reports)]
    return {k: torch.cat([r[k].detach().reshape(-1) for r in reports]) for k in keys}


def _gather_reports(
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


def step_latents(
    dataset, seed: int, step: int, batch_size: int, z_dim: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The latents and labels of every phase of step ``step`` for the whole global batch,
    ``[4, batch, z_dim]`` and ``[4, batch, c_dim]``: drawn from generators seeded by (seed,
    step), so they are the same on every rank, on any device, and after a resume."""
    state = np.random.SeedSequence([seed, step]).generate_state(2)
    gen = torch.Generator().manual_seed(int(state[0]))
    z = torch.randn([len(PHASES), batch_size, z_dim], generator=gen).to(device)
    rng = np.random.default_rng(int(state[1]))
    c = sample_labels(dataset, len(PHASES) * batch_size, device, rng)
    return z, c.reshape(len(PHASES), batch_size, -1)


def training_step(
    state: TrainingState,
    config: TrainingConfig,
    real_img: torch.Tensor,
    real_c: torch.Tensor,
    gen_z: torch.Tensor,
    gen_c: torch.Tensor,
    context: distributed.Context = distributed.SINGLE,
    batch_gpu: int | None = None,
) -> StepResult:
    """One minibatch: the four phases, the G_ema update, the counters.

    ``real_img`` is this rank's ``[n, C, H, W]`` in [-1, 1] (the whole batch in one process);
    ``gen_z`` and ``gen_c`` hold this rank's latents and labels per phase (``[4, n, ...]``).
    Each phase runs ``n / batch_gpu`` micro-batches (micro-batch ``k = rank * rounds + j``
    draws its random numbers from ``micro_batch_rng(seed, step, phase, k)``), sums their
    weighted gradients pairwise (:class:`PairwiseSum`) and over ranks (one all-reduce), then
    takes one optimiser step: the update is that of the global batch, the same whichever way
    the micro-batches are spread over ranks and rounds.
    """
    G, D = state.G, state.D
    mixing_prob = config.style_mixing_prob
    step = state.batch_idx
    pending: list[tuple[str, torch.Tensor, torch.Tensor]] = []
    result = StepResult()
    local = real_img.shape[0]
    micro = batch_gpu or local
    if local % micro != 0:
        raise StyleGANError(f"the per-rank batch {local} is not a multiple of --batch-gpu {micro}")
    rounds = local // micro
    global_batch = local * context.world_size
    weight = micro / global_batch
    device = real_img.device

    def run_phase(name, module, optimizer, compute, gain=1, tracks_emas=False):
        optimizer.zero_grad(set_to_none=True)
        module.requires_grad_(True)
        params = list(module.parameters())
        # Running averages (w_avg, StyleGAN3's magnitude_ema) move by the global batch's
        # statistics: every micro-batch starts from the same values and their weighted changes
        # are summed. (D has none; check_consistency would notice one at the next snapshot.)
        tracked = _float_buffers(G) if tracks_emas else []
        before = [b.detach().clone() for b in tracked]
        total, reports = PairwiseSum(), []
        for j in range(rounds):
            part = slice(j * micro, (j + 1) * micro)
            with micro_batch_rng(config.random_seed, step, name, context.rank * rounds + j, device):
                for b, b0 in zip(tracked, before):
                    b.copy_(b0)
                phase = compute(part)
                (phase.loss * (gain * weight)).backward()
            grads = [p.grad for p in params]
            for p in params:
                p.grad = None
            changes = [(b.detach() - b0) * weight for b, b0 in zip(tracked, before)]
            if phase.pl_mean is not None:
                changes.append(((phase.pl_mean - state.pl_mean) * weight).reshape(1))
            total.add(grads + changes + [phase.loss.detach().reshape(1) * weight])
            reports.append(phase.report)
        module.requires_grad_(False)
        summed = total.result()
        grads, changes, phase_loss = summed[: len(params)], summed[len(params) : -1], summed[-1]
        for p, g in zip(params, grads):
            p.grad = g
        # One all-reduce per phase: the gradients, the running averages' changes, pl_mean's.
        distributed.sum_gradients_(module, context, extra=changes)
        for b, b0, change in zip(tracked, before, changes):
            b.copy_(b0 + change)
        if len(changes) > len(tracked):
            state.pl_mean.add_(changes[-1].reshape(state.pl_mean.shape))
        bad_grads = clean_gradients(module)
        optimizer.step()
        pending.append((name, phase_loss[0], bad_grads))
        result.reports[name] = _merge_reports(reports)
        state.count(f"phase/{name}")

    sigma = loss.blur_sigma(state.cur_nimg, config.blur_init_sigma, config.blur_fade_kimg)
    wgan = config.loss == "wgan-gp"
    aug = state.augment_pipe

    def g_main(part: slice) -> loss.PhaseLoss:
        # Make D call the fakes real.
        z, c = gen_z[0][part], gen_c[0][part]
        if wgan:
            return loss.generator_wgan(G, D, z, c, mixing_prob, aug)
        return loss.generator_main(G, D, z, c, mixing_prob, sigma, aug)

    def g_reg(part: slice) -> loss.PhaseLoss:
        return loss.generator_path_length(
            G,
            gen_z[1][part],
            gen_c[1][part],
            state.pl_mean,
            weight=config.pl_weight,
            batch_shrink=config.pl_batch_shrink,
            decay=config.pl_decay,
            style_mixing_prob=mixing_prob,
        )

    def d_main(part: slice) -> loss.PhaseLoss:
        # Fakes down, reals up.
        x, xc, z, c = real_img[part], real_c[part], gen_z[2][part], gen_c[2][part]
        if wgan:
            return loss.discriminator_wgan(G, D, x, xc, z, c, mixing_prob, config.wgan_epsilon, aug)
        return loss.discriminator_main(G, D, x, xc, z, c, mixing_prob, sigma, aug)

    def d_reg(part: slice) -> loss.PhaseLoss:
        x, xc = real_img[part], real_c[part]
        if wgan:
            return loss.discriminator_gradient_penalty(
                G, D, x, xc, gen_z[3][part], config.wgan_lambda, config.wgan_target, aug
            )
        return loss.discriminator_r1(D, x, xc, config.r1_gamma, sigma, aug)

    g_reg_on = config.pl_weight > 0
    d_reg_on = config.wgan_lambda > 0 if wgan else config.r1_gamma > 0

    # G: the main loss, and path length regularisation lazily (loss x interval) or, without
    # an interval, in the same optimiser step.
    if g_reg_on and config.g_reg_interval is None:
        run_phase("Gboth", G, state.G_opt, lambda part: loss.combine(g_main(part), g_reg(part)))
    else:
        run_phase("Gmain", G, state.G_opt, g_main)
        if g_reg_on and is_due(step, config.g_reg_interval):
            run_phase("Greg", G, state.G_opt, g_reg, gain=config.g_reg_interval)

    # D: likewise with R1 (or the WGAN gradient penalty).
    if d_reg_on and config.d_reg_interval is None:
        both = lambda part: loss.combine(d_main(part), d_reg(part))  # noqa: E731
        run_phase("Dboth", D, state.D_opt, both, tracks_emas=True)
    else:
        run_phase("Dmain", D, state.D_opt, d_main, tracks_emas=True)
        if d_reg_on and is_due(step, config.d_reg_interval):
            run_phase("Dreg", D, state.D_opt, d_reg, gain=config.d_reg_interval)

    # G_ema follows G with a half-life of ema_kimg (ramped up early in training).
    batch_size = global_batch
    beta = ema_beta(batch_size, state.cur_nimg, config.ema_kimg, config.ema_rampup)
    update_ema(state.G_ema, G, beta)

    state.cur_nimg += batch_size
    state.batch_idx += 1

    # Every rank gets the whole batch's per-sample reports (statistics and ADA's signs).
    result.reports = _gather_reports(result.reports, context)

    # ADA: every interval steps, move p by the sign of (E[sign(D(real))] - target).
    if state.ada is not None:
        for report in result.reports.values():
            if "Loss/signs/real" in report:
                state.ada.accumulate(report["Loss/signs/real"])
        if state.batch_idx % state.ada.interval == 0:
            state.ada.update(state.augment_pipe, batch_size)
            # p only moves here; reading it (a device sync) once per adjustment is enough.
            state.augment_p = float(state.augment_pipe.p)

    # One synchronisation per step: read every phase's loss and non-finite gradient count.
    losses = torch.stack([value.float() for _, value, _ in pending])
    distributed.all_reduce_sum_([losses], context)  # the global batch's mean loss per phase
    bad = torch.stack([bad.float() for _, _, bad in pending])
    values = torch.stack([losses, bad], dim=1).tolist()
    for (name, _, _), (value, bad) in zip(pending, values, strict=True):
        result.losses[name] = value
        result.nonfinite_grads[name] = int(bad)
    return result


# ---- data ---------------------------------------------------------------------------------------


def open_dataset(config: TrainingConfig):
    """The training images named by the config (the bundled sample when ``data`` is None)."""
    from stylegan.data import ImageDataset, sample_dataset_path

    path = config.data if config.data is not None else sample_dataset_path()
    dataset = ImageDataset(
        path,
        resolution=config.resolution,
        use_labels=config.cond,
        xflip=config.mirror,
        max_size=config.max_size,
        random_seed=config.random_seed,
    )
    if config.cond and not dataset.has_labels:
        raise StyleGANError(
            f"--cond needs class labels, but dataset {path} has none in dataset.json; "
            "train unconditionally or add labels (stylegan dataset --labels CSV)"
        )
    return dataset


def dataset_resolution(path: str | Path | None) -> int:
    """The image resolution of a dataset (the bundled sample for None)."""
    from stylegan.data import ImageDataset, sample_dataset_path

    return ImageDataset(path if path is not None else sample_dataset_path()).resolution


class ShuffledStream(torch.utils.data.Sampler):
    """Endless dataset indices: a fresh permutation every epoch, starting at position ``start``.

    Index ``p`` of the stream depends only on ``seed`` and ``p`` (epoch ``p // len``), so a
    resumed run jumps straight to where it stopped instead of replaying the stream.
    """

    def __init__(self, size: int, seed: int, start: int = 0):
        self.size, self.seed, self.start = size, seed, start

    def __iter__(self) -> Iterator[int]:
        epoch, offset = divmod(self.start, self.size)
        while True:
            order = np.random.default_rng([self.seed, epoch]).permutation(self.size)
            yield from (int(i) for i in order[offset:])
            epoch, offset = epoch + 1, 0


class ShardedStream(ShuffledStream):
    """This rank's share of the global stream: of every ``global_batch`` consecutive indices
    (counted from ``start``), the ``rank``-th of ``world_size`` equal slices. The stream and
    the position stay global, so a run resumes with any number of ranks."""

    def __init__(
        self, size: int, seed: int, start: int, global_batch: int, rank: int, world_size: int
    ):
        super().__init__(size, seed, start)
        self.global_batch, self.rank, self.world_size = global_batch, rank, world_size

    def __iter__(self) -> Iterator[int]:
        share = self.global_batch // self.world_size
        lo, hi = self.rank * share, (self.rank + 1) * share
        for position, index in enumerate(super().__iter__()):
            if lo <= position % self.global_batch < hi:
                yield index


def _ignore_sigint(_worker_id: int) -> None:
    # Ctrl-C reaches the whole process group; workers leave it to the training process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def real_batches(
    dataset,
    config: TrainingConfig,
    start: int,
    device: torch.device,
    batch_size: int | None = None,
    context: distributed.Context = distributed.SINGLE,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless ``(images in [-1, 1], labels)`` batches from stream position ``start``: this
    rank's share of each global batch (``batch_size``, default the config's).

    The order depends only on the seed and the position, so a resumed run sees the same images.
    """
    batch_size = batch_size or config.batch_size
    sampler = ShardedStream(
        len(dataset), config.random_seed, start, batch_size, context.rank, context.world_size
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size // context.world_size,
        sampler=sampler,
        num_workers=config.num_workers,
        pin_memory=device.type == "cuda",
        worker_init_fn=_ignore_sigint if config.num_workers > 0 else None,
        # A private generator: creating the iterator must not consume the global RNG.
        generator=torch.Generator().manual_seed(config.random_seed),
        persistent_workers=config.num_workers > 0,
    )
    for images, labels in loader:
        images = images.to(device, non_blocking=True).to(torch.float32) / 127.5 - 1
        yield images, labels.to(device, torch.float32, non_blocking=True)


def sample_labels(
    dataset, n: int, device: torch.device, rng: np.random.Generator | None = None
) -> torch.Tensor:
    """Labels for ``n`` fakes, drawn from the dataset's label distribution (``rng``, or
    numpy's global RNG)."""
    if dataset.label_dim == 0:
        return torch.zeros([n, 0], device=device)
    if rng is not None:
        idx = rng.integers(len(dataset), size=n)
    else:
        idx = np.random.randint(len(dataset), size=n)
    return torch.from_numpy(np.stack([dataset.get_label(int(i)) for i in idx])).to(device)


# ---- sample grids -------------------------------------------------------------------------------


@dataclass
class SampleGrid:
    """Fixed reals and latents shown in ``reals.png`` and every ``fakes*.png``."""

    columns: int
    rows: int
    reals: np.ndarray  # uint8 [N, H, W, C]
    z: torch.Tensor  # latents of seeds 0 .. N-1 (as `stylegan generate --seeds` draws them)
    c: torch.Tensor


def make_sample_grid(dataset, config: TrainingConfig, z_dim: int) -> SampleGrid:
    """Pick the reals (grouped by class for conditional runs) and the fixed seeds for fakes."""
    res = dataset.resolution
    if config.grid_size is not None:
        columns, rows = config.grid_size
    else:
        columns, rows = int(np.clip(1280 // res, 4, 16)), int(np.clip(720 // res, 4, 12))
    rnd = np.random.RandomState(config.random_seed)
    n = columns * rows
    if not dataset.has_labels:
        order = np.arange(len(dataset))
        rnd.shuffle(order)
        indices = [int(order[i % len(order)]) for i in range(n)]
    else:
        groups: dict[tuple, list[int]] = {}
        for i in range(len(dataset)):
            groups.setdefault(tuple(dataset.get_label(i).tolist()), []).append(i)
        keys = sorted(groups, reverse=True)
        for key in keys:
            rnd.shuffle(groups[key])
        indices = []
        for row in range(rows):  # one class per row, cycling through the classes
            members = groups[keys[row % len(keys)]]
            start = (row // len(keys)) * columns
            indices += [members[(start + col) % len(members)] for col in range(columns)]
    items = [dataset[i] for i in indices]
    reals = np.stack([img.transpose(1, 2, 0) for img, _ in items])
    c = torch.from_numpy(np.stack([label for _, label in items])).to(torch.float32)
    z = z_from_seeds(list(range(n)), z_dim)
    return SampleGrid(columns, rows, reals, z, c)


@torch.no_grad()
def save_fakes(G_ema, grid: SampleGrid, path: Path, batch_size: int = 32) -> Path:
    """Render the grid's seeds with G_ema (constant noise) into one PNG."""
    device = next(G_ema.parameters()).device
    images = []
    for z, c in zip(grid.z.split(batch_size), grid.c.split(batch_size), strict=True):
        img = G_ema(z.to(device), c.to(device), truncation_psi=1, noise_mode="const")
        images.append(to_uint8_nhwc(img))
    return save_image(make_grid(torch.cat(images).numpy(), cols=grid.columns), path)


# ---- run folders and snapshots ------------------------------------------------------------------


def snapshot_name(cur_nimg: int) -> str:
    """``network-snapshot-<kimg:06d>``, as NVIDIA names them."""
    return f"network-snapshot-{cur_nimg // 1000:06d}"


def list_snapshots(run_dir: Path) -> list[Path]:
    """Snapshot folders of a run, oldest first."""
    if not run_dir.is_dir():
        return []
    found = [
        (int(m.group(1)), p.stat().st_mtime, p)
        for p in run_dir.iterdir()
        if p.is_dir() and (m := SNAPSHOT_PATTERN.match(p.name))
    ]
    return [p for *_, p in sorted(found)]


def find_latest_snapshot(outdir: str | Path) -> Path | None:
    """The newest snapshot in ``outdir`` itself (a run folder) or else in its newest run folder."""
    outdir = Path(outdir)
    own = list_snapshots(outdir)
    if own:
        return own[-1]
    if not outdir.is_dir():
        return None
    runs = sorted(
        (int(m.group(1)), p)
        for p in outdir.iterdir()
        if p.is_dir() and (m := RUN_PATTERN.match(p.name))
    )
    for _, run in reversed(runs):
        snapshots = list_snapshots(run)
        if snapshots:
            return snapshots[-1]
    return None


def new_run_dir(outdir: Path, description: str) -> Path:
    """``outdir/<NNNNN>-<description>`` with the next free number."""
    outdir.mkdir(parents=True, exist_ok=True)
    ids = [int(m.group(1)) for p in outdir.iterdir() if (m := RUN_PATTERN.match(p.name))]
    run_dir = outdir / f"{max(ids, default=-1) + 1:05d}-{description}"
    run_dir.mkdir()
    return run_dir


def run_description(config: TrainingConfig, dataset_name: str) -> str:
    """``<dataset>-<cfg>[-cond][-mirror]-batch<B>-gamma<g>``."""
    parts = [dataset_name, config.preset]
    parts += ["cond"] if config.cond else []
    parts += ["mirror"] if config.mirror else []
    parts += [f"batch{config.batch_size}", f"gamma{config.r1_gamma:g}"]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts))


def resolve_resume(resume: str | Path, outdir: Path) -> tuple[Path | str, Path | None]:
    """Turn ``--resume`` into ``(snapshot, run folder to continue in or None for a new one)``.

    ``latest`` and run folders continue in place; an explicit snapshot starts a new run folder.
    """
    if str(resume) == "latest":
        snapshot = find_latest_snapshot(outdir)
        if snapshot is None:
            raise StyleGANError(
                f"--resume latest: no network-snapshot-* found in {outdir} or its run folders; "
                "give --outdir of an earlier run or a snapshot path"
            )
        return snapshot, snapshot.parent
    from stylegan.io.download import is_url

    if is_url(str(resume)):
        return resume, None  # downloaded (and cached) when loaded
    path = Path(resume).expanduser()
    if not path.exists():
        raise StyleGANError(
            f"--resume: {path} does not exist; give a network-snapshot-* folder, a run folder "
            "or 'latest'"
        )
    if path.is_dir() and (path / "training_options.json").is_file():
        snapshots = list_snapshots(path)
        if not snapshots:
            raise StyleGANError(f"--resume: run folder {path} has no network-snapshot-* yet")
        return snapshots[-1], path
    return path, None


def saved_config(resume: str | Path, outdir: str | Path) -> TrainingConfig | None:
    """The options of the run that ``resume`` points at (None for foreign checkpoints)."""
    from stylegan.io.checkpoint import read_config
    from stylegan.io.formats import detect_format

    snapshot, run_dir = resolve_resume(resume, Path(outdir).expanduser())
    if run_dir is not None and (run_dir / "training_options.json").is_file():
        return load_training_options(run_dir)
    if not isinstance(snapshot, Path) or detect_format(snapshot) != "stylegan":
        return None  # a URL or another format (NVIDIA .pkl, rosinality .pt): no options
    options = read_config(snapshot).get("metadata", {}).get("training_options")
    return TrainingConfig.from_dict(options) if options else None


# ---- Ctrl-C and SIGTERM -------------------------------------------------------------------------


class GracefulStop:
    """While active, SIGINT and SIGTERM only set ``requested``; a second Ctrl-C stops at once."""

    def __init__(self):
        self.requested: str | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, _frame):
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


# ---- the run ------------------------------------------------------------------------------------


def train(
    config: TrainingConfig,
    outdir: str | Path = "training-runs",
    resume: str | Path | None = None,
    progress: bool = True,
) -> Path:
    """Train StyleGAN2 as ``config`` says and return the run folder.

    ``resume``: ``"latest"`` (newest snapshot under ``outdir``, continued in its own run
    folder), a run folder (continued in place) or a snapshot path (continued in a new run
    folder). Everything is restored: networks, optimisers, counters, pl_mean and RNG states.
    """
    validate(config)
    context = distributed.from_environment()
    device = distributed.init(context, resolve_device(config.device))
    try:
        return _train(config, outdir, resume, progress, context, device)
    finally:
        distributed.shutdown(context)


def _train(config, outdir, resume, progress, context: distributed.Context, device) -> Path:
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False  # accuracy over speed, as NVIDIA does
        torch.backends.cudnn.allow_tf32 = False
    outdir = Path(outdir).expanduser()
    dataset = open_dataset(config)
    c_dim = dataset.label_dim if config.cond else 0

    # Networks, optimisers and counters: fresh, or restored from a snapshot.
    torch.manual_seed(config.random_seed)
    np.random.seed(config.random_seed)
    random.seed(config.random_seed)
    saved_rng = None
    run_dir = None
    if resume is not None:
        from stylegan.io.formats import load_any

        snapshot, run_dir = resolve_resume(resume, outdir)
        ckpt = load_any(snapshot, device=device)  # ours, NVIDIA .pkl, rosinality .pt, URL
        _check_fits(ckpt.networks, config, dataset, c_dim, snapshot)
        if "D" in ckpt.networks and freeze_layers(ckpt.networks["D"]) != config.freezed:
            # Freeze-D changes which tensors are trained, so saved optimiser moments no longer
            # fit: fine-tune from the networks (the usual case: a pre-trained NVIDIA .pkl).
            ckpt.networks["D"] = with_frozen_layers(ckpt.networks["D"], config.freezed)
            ckpt.training_state = None
        state = TrainingState.from_checkpoint(ckpt, config, restore_random=False)
        if ckpt.training_state is not None:
            saved_rng = ckpt.training_state["rng"]
    else:
        G, D = build_networks(config, dataset.resolution, dataset.num_channels, c_dim)
        state = TrainingState.create(config, G.to(device), D.to(device))
    precision = training_precision(config, device)
    for net in state.networks().values():
        set_mixed_precision(net, precision)
    fine_tune_p = None
    if resume is not None and saved_rng is None:  # networks only, e.g. an NVIDIA snapshot
        fine_tune_p = ((ckpt.metadata or {}).get("augment_pipe") or {}).get("p")
    fine_tuning = resume is not None and saved_rng is None
    setup_training_augmentation(state, config, device, fine_tuning, fine_tune_p)
    check_batch_split(config, context)
    for net in state.networks().values():
        distributed.broadcast_module_(net, context)
    continuing = run_dir is not None
    if run_dir is None and context.is_main:
        run_dir = new_run_dir(outdir, run_description(config, dataset.name))
    run_dir = Path(distributed.broadcast_object(str(run_dir), context))
    if context.is_main:
        options = dict(config.to_dict(), derived=_derived_options(dataset, state, device, run_dir))
        options["derived"]["world_size"] = context.world_size
        (run_dir / "training_options.json").write_text(json.dumps(options, indent=2) + "\n")

    bar = _progress_bar(config, state, progress) if context.is_main else None
    if context.is_main:
        log = RunLog(run_dir, echo=bar.write if bar is not None else None)
    else:
        log = distributed.NullLog()
    try:
        log.line()
        log.line(f"Run folder:  {run_dir}")
        log.line(
            f"Dataset:     {dataset.path} ({len(dataset)} images, {dataset.resolution} px, "
            f"{'labels ' + str(c_dim) if c_dim else 'no labels'})"
        )
        mixed = precision != "fp32" and config.num_fp16_res > 0
        how_precise = (
            f"{precision} in the top {config.num_fp16_res} resolutions" if mixed else "fp32"
        )
        log.line(
            f"Preset:      {config.preset} (batch {config.batch_size}, gamma "
            f"{config.r1_gamma:g}, {config.total_kimg:g} kimg) on {device}, {how_precise}"
        )
        if resume is not None:
            how = "continuing in place" if continuing else "in a new run folder"
            what = "full training state" if saved_rng is not None else "networks only"
            log.line(f"Resuming:    {snapshot} at kimg {state.kimg:.1f} ({what}, {how})")
        batch = config.batch_size
        micro = micro_batch_size(config, context, batch)
        rounds = batch // (context.world_size * micro)
        if context.active:
            backend = torch.distributed.get_backend()
            log.line(
                f"Processes:   {context.world_size} (torch.distributed, {backend}), rank 0 writes"
            )
        if context.active or rounds > 1:
            log.line(
                f"Batch split: {batch} = {context.world_size} process(es) x {rounds} round(s) x "
                f"{micro} (--batch-gpu), gradients summed before each optimiser step"
            )
        grid = make_sample_grid(dataset, config, state.G.z_dim)
        if context.is_main and not (run_dir / "reals.png").exists():
            save_image(make_grid(grid.reals, cols=grid.columns), run_dir / "reals.png")
        if context.is_main and state.cur_nimg == 0:
            save_fakes(state.G_ema, grid, run_dir / "fakes_init.png")
        first = schedule_at(config, state.cur_nimg, dataset.resolution)
        batches = real_batches(
            dataset, config, state.data_position, device, first.batch_size, context
        )
        if saved_rng is not None:  # last, so that nothing above disturbs the restored streams
            restore_rng(saved_rng)
        _run(state, config, dataset, batches, grid, run_dir, device, log, bar, context)
    finally:
        if bar is not None:
            bar.close()
        log.close()
    return run_dir


@dataclass
class _Tick:
    """Clock and counters of the tick in progress."""

    run_start: float
    start: float
    start_nimg: int
    maintenance_sec: float = 0.0
    nonfinite_steps: int = 0


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
    from stylegan.training.augment import setup_augmentation
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


def _apply_schedule(state: TrainingState, config: TrainingConfig, sched: Schedule) -> None:
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


def check_batch_split(config: TrainingConfig, context: distributed.Context) -> None:
    """Every batch of the run (per resolution too) must split into ranks and micro-batches."""
    config_check_batch_split(config, context.world_size)


def micro_batch_size(config: TrainingConfig, context: distributed.Context, batch: int) -> int:
    """Images per forward pass on one rank: ``batch_gpu``, at most the rank's share."""
    return config_micro_batch_size(config, context.world_size, batch)


def _run(
    state, config, dataset, batches, grid, run_dir, device, log, bar, context=distributed.SINGLE
) -> None:
    """Steps until ``total_kimg``; at the end of every tick a log line, grids and snapshots."""
    batch_size = schedule_at(config, state.cur_nimg, dataset.resolution).batch_size
    total_nimg = round(config.total_kimg * 1000)
    tick_nimg = max(round(config.kimg_per_tick * 1000), 1)
    if state.cur_nimg >= total_nimg:
        log.line(f"Already trained {state.kimg:g} kimg of {config.total_kimg:g}; raise --kimg.")
        return
    log.line(f"Training for {config.total_kimg:g} kimg...")
    log.line()
    stats = StatsCollector()
    now = time.time()
    tick = _Tick(run_start=now, start=now, start_nimg=state.cur_nimg)
    session_start_nimg = bar_nimg = state.cur_nimg
    time_limit = None if config.max_minutes is None else config.max_minutes * 60
    snapshot = None

    with GracefulStop() as stop:
        while True:
            # Progressive growing: level of detail, batch and learning rates from the count.
            sched = schedule_at(config, state.cur_nimg, dataset.resolution)
            if sched.batch_size != batch_size:
                batch_size = sched.batch_size
                batches = real_batches(
                    dataset, config, state.data_position, device, batch_size, context
                )
            _apply_schedule(state, config, sched)

            # This rank's share of a real batch and of the latents and labels of each phase
            # (drawn for the whole batch, identically on every rank), then the phases.
            real_img, real_c = next(batches)
            real_img = process_reals(real_img, sched.lod)
            state.data_position += batch_size
            gen_z, gen_c = step_latents(
                dataset, config.random_seed, state.batch_idx, batch_size, state.G.z_dim, device
            )
            share = slice(context.rank * real_img.shape[0], (context.rank + 1) * real_img.shape[0])
            micro = micro_batch_size(config, context, batch_size)
            result = training_step(
                state, config, real_img, real_c, gen_z[:, share], gen_c[:, share], context, micro
            )

            for report in result.reports.values():
                for name, value in report.items():
                    stats.add(name, value)
            _check_finite(result, state, config, stats, tick, log, run_dir)
            if bar is not None:
                elapsed = time.time() - tick.run_start
                sec_per_kimg = elapsed / ((state.cur_nimg - session_start_nimg) / 1000)
                bar.update(min(batch_size, total_nimg - bar_nimg) / 1000)
                bar_nimg = min(state.cur_nimg, total_nimg)
                bar.set_postfix_str(_bar_text(result, sec_per_kimg), refresh=False)

            # Ticks end every kimg_per_tick, after the very first step, and at the end.
            out_of_time = time_limit is not None and time.time() - tick.run_start >= time_limit
            stopping = stop.requested is not None
            if context.active:  # every rank stops at the same step
                out_of_time, stopping = distributed.any_rank(
                    [out_of_time, stopping], context, device
                )
                if stopping and stop.requested is None:
                    stop.requested = "another rank's signal"
            done = state.cur_nimg >= total_nimg or out_of_time or stopping
            first_step = state.cur_tick == 0
            if not (done or first_step or state.cur_nimg >= tick.start_nimg + tick_nimg):
                continue
            tick_end = time.time()
            _log_tick(state, tick, tick_end, stats, device, log)
            tick_index = state.cur_tick
            state.cur_tick += 1

            kimg_name = f"{state.cur_nimg // 1000:06d}"
            image_every = config.image_snapshot_ticks or config.snapshot_ticks
            main = context.is_main  # files, grids and metrics come from rank 0 alone
            if main and (done or (image_every is not None and tick_index % image_every == 0)):
                save_fakes(state.G_ema, grid, run_dir / f"fakes{kimg_name}.png")
            snap_every = config.snapshot_ticks
            if done or (snap_every is not None and tick_index % snap_every == 0):
                # As NVIDIA's check_ddp_consistency: the ranks must hold identical networks.
                distributed.check_consistency(_synchronised(state), context)
                path = _save_snapshot(state, config, run_dir) if main else None
                snapshot = Path(distributed.broadcast_object(str(path), context))
            metrics_every = config.metrics_ticks or config.snapshot_ticks
            if (
                main
                and config.metrics
                and (done or (metrics_every is not None and tick_index % metrics_every == 0))
            ):
                _run_metrics(state, config, dataset, run_dir, snapshot, stats, log, device)
            distributed.barrier(context)

            log.tick(stats.summary(), state.kimg, tick.run_start)
            stats.reset()
            now = time.time()
            tick = _Tick(tick.run_start, now, state.cur_nimg, maintenance_sec=now - tick_end)
            if done:
                break

    log.line()
    if stop.requested is not None:
        log.line(
            f"Stopped by {stop.requested} at kimg {state.kimg:.3f}; resumable snapshot: {snapshot}"
        )
        log.line(f"Continue with: stylegan train --outdir {run_dir} --resume latest")
    elif state.cur_nimg < total_nimg:
        log.line(
            f"Time limit of {config.max_minutes:g} min reached at kimg {state.kimg:.3f}; "
            f"resumable snapshot: {snapshot}"
        )
    else:
        log.line(f"Done: {state.kimg:g} kimg. Final snapshot: {snapshot}")


def _synchronised(state: TrainingState) -> dict:
    """What every rank must hold identically: networks, pl_mean, the augmentation pipe."""
    values = {**state.networks(), "pl_mean": state.pl_mean}
    if isinstance(state.augment_pipe, torch.nn.Module):
        values["augment_pipe"] = state.augment_pipe
    return values


def _run_metrics(state, config, dataset, run_dir, snapshot, stats, log, device) -> None:
    """Score G_ema on the training data: a log line, ``metric-*.jsonl``, and ``Metrics/*``
    entries in this tick's stats (so in ``stats.jsonl`` and TensorBoard too)."""
    from stylegan.metrics.runner import compute_metric, write_result

    for name in config.metrics:
        result = compute_metric(
            name, state.G_ema, dataset, device=device, seed=config.random_seed, progress=False
        )
        write_result(result, run_dir, snapshot=str(snapshot) if snapshot else None)
        for key, value in result.results.items():
            stats.add(f"Metrics/{key}", value)
            log.line(
                f"Metric {key} = {value:.4g} at kimg {state.kimg:.1f} ({result.seconds:.0f} s)"
            )


def _check_finite(result, state, config, stats, tick, log, run_dir) -> None:
    """Count and report NaN/inf losses and gradients; abort if the losses stay non-finite."""
    bad_losses = result.nonfinite_phases
    bad_grads = {name: n for name, n in result.nonfinite_grads.items() if n}
    state.nonfinite_streak = state.nonfinite_streak + 1 if bad_losses else 0
    if not (bad_losses or bad_grads):
        return
    state.count("nonfinite/loss", len(bad_losses))
    state.count("nonfinite/grads", sum(bad_grads.values()))
    stats.add("Nonfinite/loss", len(bad_losses))
    stats.add("Nonfinite/grads", sum(bad_grads.values()))
    tick.nonfinite_steps += 1
    if tick.nonfinite_steps <= MAX_WARNINGS_PER_TICK:
        log.line(_nonfinite_warning(state, bad_losses, bad_grads))
    elif tick.nonfinite_steps == MAX_WARNINGS_PER_TICK + 1:
        log.line("warning: more non-finite values this tick; the tick line counts them")
    if state.nonfinite_streak >= config.max_nonfinite_steps:
        raise StyleGANError(
            f"training diverged: losses were NaN or infinite for {state.nonfinite_streak} steps "
            f"in a row (kimg {state.kimg:.1f}); resume from an earlier snapshot in {run_dir} "
            "with a lower --glr/--dlr, a larger --gamma or a larger --batch"
        )


def _log_tick(state, tick: _Tick, tick_end: float, stats, device, log) -> None:
    """The official-style tick line, and the same numbers into the tick's statistics."""
    tick_sec = tick_end - tick.start
    sec_per_kimg = tick_sec / (max(state.cur_nimg - tick.start_nimg, 1) / 1000)
    cpu_gb, gpu_gb = cpu_memory_gb(), gpu_memory_gb(device)
    summary = stats.summary()
    fields = [
        f"tick {state.cur_tick:<5d}",
        f"kimg {state.kimg:<8.1f}",
        f"time {format_time(tick_end - tick.run_start):<12s}",
        f"sec/tick {tick_sec:<7.1f}",
        f"sec/kimg {sec_per_kimg:<7.2f}",
        f"maintenance {tick.maintenance_sec:<6.1f}",
        f"cpumem {cpu_gb:<6.2f}",
        f"gpumem {gpu_gb:<6.2f}",
        f"augment {state.augment_p:.3f}",
        *([f"lod {state.lod:.2f}"] if state.lod is not None else []),
        f"G {_mean(summary, 'Loss/G/loss', '.3f')}",
        f"D {_mean(summary, 'Loss/D/loss', '.3f')}",
        f"pl {_mean(summary, 'Loss/pl_penalty', '.4f')}",
        f"r1 {_mean(summary, 'Loss/r1_penalty', '.4f')}",
    ]
    if tick.nonfinite_steps:
        fields.append(f"nonfinite-steps {tick.nonfinite_steps}")
    log.line(" ".join(fields))
    for name, value in {
        "Progress/tick": state.cur_tick,
        "Progress/kimg": state.kimg,
        "Progress/augment": state.augment_p,
        **({"Progress/lod": state.lod} if state.lod is not None else {}),
        "Progress/pl_mean": float(state.pl_mean),
        "Timing/total_sec": tick_end - tick.run_start,
        "Timing/sec_per_tick": tick_sec,
        "Timing/sec_per_kimg": sec_per_kimg,
        "Timing/maintenance_sec": tick.maintenance_sec,
        "Resources/cpu_mem_gb": cpu_gb,
        "Resources/peak_gpu_mem_gb": gpu_gb,
    }.items():
        stats.add(name, value)


def _mean(summary: dict, name: str, spec: str) -> str:
    """A tick average for the log line; ``-`` when the phase did not run this tick."""
    return format(summary[name]["mean"], spec) if name in summary else "-"


def _save_snapshot(state: TrainingState, config: TrainingConfig, run_dir: Path) -> Path:
    """Write a resumable snapshot, then drop the oldest beyond ``keep_snapshots``."""
    path = run_dir / snapshot_name(state.cur_nimg)
    state.save(path, metadata={"run": run_dir.name, "training_options": config.to_dict()})
    for old in list_snapshots(run_dir)[: -config.keep_snapshots]:
        if old != path:
            shutil.rmtree(old, ignore_errors=True)
    return path


def _check_fits(networks: dict, config: TrainingConfig, dataset, c_dim: int, snapshot) -> None:
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


def _derived_options(dataset, state: TrainingState, device, run_dir: Path) -> dict:
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


def _nonfinite_warning(state: TrainingState, bad_losses: list[str], bad_grads: dict) -> str:
    parts = []
    if bad_losses:
        parts.append(f"non-finite loss in {', '.join(bad_losses)}")
    if bad_grads:
        counts = ", ".join(f"{name} {n}" for name, n in bad_grads.items())
        parts.append(f"non-finite gradient elements ({counts}) set to 0 / +-1e5")
    return f"warning: step {state.batch_idx} (kimg {state.kimg:.3f}): {'; '.join(parts)}"


def _progress_bar(config: TrainingConfig, state: TrainingState, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=config.total_kimg,
        initial=min(state.kimg, config.total_kimg),
        disable=None,  # no bar when the output is not a terminal (logs, CI)
        unit="kimg",
        dynamic_ncols=True,
        bar_format="{l_bar}{bar}| {n:.2f}/{total:g} kimg [{elapsed}<{remaining}{postfix}]",
    )


def _bar_text(result: StepResult, sec_per_kimg: float) -> str:
    g = result.losses.get("Gmain", result.losses.get("Gboth", float("nan")))
    d = result.losses.get("Dmain", result.losses.get("Dboth", float("nan")))
    return f"{sec_per_kimg:.1f} s/kimg, G {g:.3f}, D {d:.3f}"
