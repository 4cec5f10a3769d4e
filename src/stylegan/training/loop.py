"""The training loop of every generation (StyleGAN 1, 2 and 3): ``train()`` opens a run and
steps until ``total_kimg``.

Every step is :func:`~stylegan.training.step.training_step` on one minibatch. Every
``kimg_per_tick`` thousand images a tick line goes to ``log.txt``, and every few ticks a sample
grid, a resumable snapshot and the metrics are written. Ctrl-C or SIGTERM finishes the step,
writes a snapshot, closes the log and raises :class:`TrainingInterrupted` (exit status 130 or
143 in the CLI); the ``max_minutes`` limit and the end of ``total_kimg`` return normally.

Under ``torchrun`` every rank runs this loop on its share of the global batch, gradients are
summed over ranks, and rank 0 alone writes files (see ``distributed.py`` and
``docs/distributed.md``).
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from stylegan.devices import resolve_device
from stylegan.errors import StyleGANError, TrainingInterrupted, raise_if_disk_full
from stylegan.images import make_grid, save_image
from stylegan.io.atomic import clean_stale_temporaries, write_atomically
from stylegan.io.paths import check_writable_dir
from stylegan.training import distributed
from stylegan.training.accumulate import check_batch_split, micro_batch_size
from stylegan.training.config import TrainingConfig
from stylegan.training.data_stream import open_dataset, real_batches
from stylegan.training.progressive import apply_schedule, process_reals, schedule_at
from stylegan.training.run import Run
from stylegan.training.run_folder import (
    ResumePoint,
    new_run_dir,
    resolve_resume,
    run_description,
    save_snapshot,
    set_aside,
)
from stylegan.training.sample_grid import make_sample_grid, save_fakes
from stylegan.training.signals import GracefulStop
from stylegan.training.start import Start, derived_options, start_state, training_precision
from stylegan.training.state import TrainingState, restore_rng
from stylegan.training.stats import RunLog, StatsCollector
from stylegan.training.step import step_latents, training_step
from stylegan.training.tick_report import Tick, bar_text, check_finite, log_tick, progress_bar


def train(
    config: TrainingConfig,
    outdir: str | Path = "training-runs",
    resume: str | Path | None = None,
    progress: bool = True,
    networks_only: bool = False,
) -> Path:
    """Train StyleGAN as ``config`` says and return the run folder.

    ``resume``: ``"latest"`` (newest intact snapshot under ``outdir``, continued in its own run
    folder; damaged newer ones are skipped and named in the log), a run folder (continued in
    place) or a snapshot path (continued in a new run folder). Everything is restored:
    networks, optimisers, counters, pl_mean and RNG states. A training snapshot without its
    training state is refused unless ``networks_only``, which fine-tunes from its networks
    (kimg 0, fresh optimisers, a new run folder), as every foreign checkpoint is.

    Raises :class:`~stylegan.errors.TrainingInterrupted` (on every rank) when
    SIGINT or SIGTERM stopped the run, after writing its snapshot and closing its log.
    """
    context = distributed.from_environment()
    device = distributed.init(context, resolve_device(config.device))
    try:
        return _train(
            config, Path(outdir).expanduser(), resume, progress, context, device, networks_only
        )
    finally:
        distributed.shutdown(context)


@dataclass
class _Ending:
    """How a session's tick loop ended: the signal that stopped it (None: done or out of
    time) and the newest snapshot."""

    signal_name: str | None = None
    snapshot: Path | None = None


def _train(
    config: TrainingConfig,
    outdir: Path,
    resume: str | Path | None,
    progress: bool,
    context: distributed.Context,
    device: torch.device,
    networks_only: bool = False,
) -> Path:
    """Open the run (state, run folder, log, grid), run it, close the log."""
    # Mistakes in where the run goes or what it resumes cost nothing yet: no data read.
    check_writable_dir(outdir, what="--outdir")
    if networks_only and resume is None:
        raise StyleGANError("--networks-only fine-tunes the networks of --resume; give --resume")
    point: ResumePoint | None = None
    if resume is not None:
        point = resolve_resume(resume, outdir, networks_only=networks_only)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False  # accuracy over speed, as NVIDIA does
        torch.backends.cudnn.allow_tf32 = False
    dataset = open_dataset(config)
    c_dim = dataset.label_dim if config.cond else 0
    start = start_state(config, dataset, c_dim, point, device, networks_only)
    state = start.state
    check_batch_split(config, context)
    for net in state.networks().values():
        distributed.broadcast_module_(net, context)
    run_dir = start.run_dir
    if run_dir is None and context.is_main:
        # Run folders are never nested: --outdir naming a run folder puts a new run beside it.
        parent = outdir.parent if (outdir / "training_options.json").is_file() else outdir
        run_dir = new_run_dir(parent, run_description(config, dataset.name))
    run_dir = Path(distributed.broadcast_object(str(run_dir), context))
    if context.is_main:
        clean_stale_temporaries(run_dir)  # what killed sessions left: whole snapshots at times
        if start.run_dir is not None:  # continuing in place: a save must not meet their names
            for path in start.skipped:
                start.skipped[path] += f" (kept as {set_aside(path).name})"
        options = dict(config.to_dict(), derived=derived_options(dataset, state, device, run_dir))
        options["derived"]["world_size"] = context.world_size
        text = json.dumps(options, indent=2) + "\n"
        # A resume reads it back: never half-written, even on a full disk.
        write_atomically(
            run_dir / "training_options.json",
            lambda tmp: tmp.write_text(text, encoding="utf-8"),
            len(text.encode()),
            overwrite=True,
        )

    bar = progress_bar(config, state, progress) if context.is_main else None
    if context.is_main:
        log = RunLog(run_dir, echo=bar.write if bar is not None else None)
    else:
        log = distributed.NullLog()
    try:
        grid = make_sample_grid(dataset, config, state.G.z_dim)
        run = Run(config, state, dataset, device, context, run_dir, log, bar, grid)
        _log_header(run, start, resumed=resume is not None)
        if context.is_main and not (run_dir / "reals.png").exists():
            save_image(make_grid(grid.reals, cols=grid.columns), run_dir / "reals.png")
        if context.is_main and state.cur_nimg == 0:
            save_fakes(state.G_ema, grid, run_dir / "fakes_init.png")
        first = schedule_at(config, state.cur_nimg, dataset.resolution)
        batches = real_batches(
            dataset, config, state.data_position, device, first.batch_size, context
        )
        if start.saved_rng is not None:  # last: nothing above may disturb the restored streams
            restore_rng(start.saved_rng)
        ending = _run(run, batches)
    except StyleGANError as err:
        with contextlib.suppress(StyleGANError, OSError):  # e.g. the disk full that ended it
            log.line(f"Stopped by an error: {err}", echo=False)  # the caller shows it
        raise
    except OSError as err:  # a full disk in any other writer (metrics, events): one line too
        raise_if_disk_full(err, err.filename or run_dir)
        raise
    finally:
        if bar is not None:
            bar.close()
        log.close()
    if ending.signal_name is not None:
        raise TrainingInterrupted(run_dir, ending.snapshot, ending.signal_name)
    return run_dir


def _log_header(run: Run, start: Start, resumed: bool) -> None:
    """The run's first lines: folder, dataset, preset and precision, resume, batch split."""
    config, state, dataset, context, log = run.config, run.state, run.dataset, run.context, run.log
    c_dim = state.G.c_dim
    log.line()
    log.line(f"Run folder:  {run.run_dir}")
    log.line(
        f"Dataset:     {dataset.path} ({len(dataset)} images, {dataset.resolution} px, "
        f"{'labels ' + str(c_dim) if c_dim else 'no labels'})"
    )
    precision = training_precision(config, run.device)
    mixed = precision != "fp32" and config.num_fp16_res > 0
    how_precise = f"{precision} in the top {config.num_fp16_res} resolutions" if mixed else "fp32"
    log.line(
        f"Preset:      {config.preset} (batch {config.batch_size}, gamma "
        f"{config.r1_gamma:g}, {config.total_kimg:g} kimg) on {run.device}, {how_precise}"
    )
    if resumed:
        for skipped in start.skipped.values():
            log.line(f"Skipped:     {skipped}")
        how = "continuing in place" if start.run_dir is not None else "in a new run folder"
        what = "full training state" if start.saved_rng is not None else "networks only"
        if start.networks_only:
            what = "networks only, as --networks-only asks: kimg 0, fresh optimisers"
        log.line(f"Resuming:    {start.snapshot} at kimg {state.kimg:.1f} ({what}, {how})")
    batch = config.batch_size
    micro = micro_batch_size(config, context, batch)
    rounds = batch // (context.world_size * micro)
    if context.active:
        backend = torch.distributed.get_backend()
        log.line(f"Processes:   {context.world_size} (torch.distributed, {backend}), rank 0 writes")
    if context.active or rounds > 1:
        log.line(
            f"Batch split: {batch} = {context.world_size} process(es) x {rounds} round(s) x "
            f"{micro} (--batch-gpu), gradients summed before each optimiser step"
        )


def _run(run: Run, batches: Iterator[tuple[torch.Tensor, torch.Tensor]]) -> _Ending:
    """Steps until ``total_kimg``; at the end of every tick a log line, grids and snapshots."""
    config, state, dataset, context, device = (
        run.config,
        run.state,
        run.dataset,
        run.context,
        run.device,
    )
    batch_size = schedule_at(config, state.cur_nimg, dataset.resolution).batch_size
    total_nimg = round(config.total_kimg * 1000)
    tick_nimg = max(round(config.kimg_per_tick * 1000), 1)
    if state.cur_nimg >= total_nimg:
        run.log.line(f"Already trained {state.kimg:g} kimg of {config.total_kimg:g}; raise --kimg.")
        return _Ending()
    run.log.line(f"Training for {config.total_kimg:g} kimg...")
    run.log.line()
    stats = StatsCollector()
    now = time.time()
    tick = Tick(run_start=now, start=now, start_nimg=state.cur_nimg)
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
            apply_schedule(state, config, sched)

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
            check_finite(run, result, stats, tick)
            if run.bar is not None:
                elapsed = time.time() - tick.run_start
                sec_per_kimg = elapsed / ((state.cur_nimg - session_start_nimg) / 1000)
                run.bar.update(min(batch_size, total_nimg - bar_nimg) / 1000)
                bar_nimg = min(state.cur_nimg, total_nimg)
                run.bar.set_postfix_str(bar_text(result, sec_per_kimg), refresh=False)

            # Ticks end every kimg_per_tick, after the very first step, and at the end.
            out_of_time = time_limit is not None and time.time() - tick.run_start >= time_limit
            signum = stop.signum or 0
            if context.active:  # every rank stops at the same step, with the same exit status
                out_of_time, signum = distributed.max_over_ranks(
                    [out_of_time, signum], context, device
                )
                out_of_time, signum = bool(out_of_time), int(signum)
                if signum and stop.requested is None:
                    stop.requested = "another rank's signal"
            stopping = signum > 0
            done = state.cur_nimg >= total_nimg or out_of_time or stopping
            first_step = state.cur_tick == 0
            if not (done or first_step or state.cur_nimg >= tick.start_nimg + tick_nimg):
                continue
            tick_end = time.time()
            log_tick(run, tick, tick_end, stats)
            tick_index = state.cur_tick
            state.cur_tick += 1
            snapshot = _tick_outputs(run, tick_index, done, stats, snapshot)
            run.log.tick(stats.summary(), state.kimg, tick.run_start)
            stats.reset()
            now = time.time()
            tick = Tick(tick.run_start, now, state.cur_nimg, maintenance_sec=now - tick_end)
            if done:
                break
    # What decided the stop counts, not a signal after it (a finished run stays finished).
    _log_end(run, stop.requested if stopping else None, snapshot, total_nimg)
    return _Ending(signal.Signals(signum).name if stopping else None, snapshot)


def _tick_outputs(
    run: Run, tick_index: int, done: bool, stats: StatsCollector, snapshot: Path | None
) -> Path | None:
    """The files due at the end of this tick: sample grid, snapshot, metrics (of the newest
    snapshot, ``snapshot`` unless one is written now); returns the newest snapshot."""
    config, state, context = run.config, run.state, run.context

    def due(every: int | None) -> bool:  # at the end, and every `every` ticks
        return done or (every is not None and tick_index % every == 0)

    main = context.is_main  # files, grids and metrics come from rank 0 alone
    if main and due(config.image_snapshot_ticks or config.snapshot_ticks):
        save_fakes(state.G_ema, run.grid, run.run_dir / f"fakes{state.cur_nimg // 1000:06d}.png")
    if due(config.snapshot_ticks):
        # As NVIDIA's check_ddp_consistency: the ranks must hold identical networks.
        distributed.check_consistency(_synchronised(state), context)
        path = save_snapshot(state, config, run.run_dir) if main else None
        snapshot = Path(distributed.broadcast_object(str(path), context))
    if main and config.metrics and due(config.metrics_ticks or config.snapshot_ticks):
        _run_metrics(run, snapshot, stats)
    distributed.barrier(context)
    return snapshot


def _synchronised(state: TrainingState) -> dict:
    """What every rank must hold identically: networks, pl_mean, the augmentation pipe."""
    values = {**state.networks(), "pl_mean": state.pl_mean}
    if isinstance(state.augment_pipe, torch.nn.Module):
        values["augment_pipe"] = state.augment_pipe
    return values


def _run_metrics(run: Run, snapshot: Path | None, stats: StatsCollector) -> None:
    """Score G_ema on the training data: a log line, ``metric-*.jsonl``, and ``Metrics/*``
    entries in this tick's stats (so in ``stats.jsonl`` and TensorBoard too)."""
    from stylegan.metrics.runner import compute_metric, write_result

    for name in run.config.metrics:
        result = compute_metric(
            name,
            run.state.G_ema,
            run.dataset,
            device=run.device,
            seed=run.config.random_seed,
            progress=False,
        )
        write_result(result, run.run_dir, snapshot=str(snapshot) if snapshot else None)
        for key, value in result.results.items():
            stats.add(f"Metrics/{key}", value)
            run.log.line(
                f"Metric {key} = {value:.4g} at kimg {run.state.kimg:.1f} ({result.seconds:.0f} s)"
            )


def _log_end(run: Run, stopped_by: str | None, snapshot: Path | None, total_nimg: int) -> None:
    """Why the session ended, where its last snapshot is, and how to continue."""
    state, log = run.state, run.log
    log.line()
    if stopped_by is not None:
        log.line(
            f"Stopped by {stopped_by} at kimg {state.kimg:.3f}; resumable snapshot: {snapshot}"
        )
        log.line(f"Continue with: stylegan train --outdir {run.run_dir} --resume latest")
    elif state.cur_nimg < total_nimg:
        log.line(
            f"Time limit of {run.config.max_minutes:g} min reached at kimg {state.kimg:.3f}; "
            f"resumable snapshot: {snapshot}"
        )
        log.line(f"Continue with: stylegan train --outdir {run.run_dir} --resume latest")
    else:
        log.line(f"Done: {state.kimg:g} kimg. Final snapshot: {snapshot}")
