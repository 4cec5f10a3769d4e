"""What a tick reports: the official-style tick line and its statistics, warnings about NaN and
infinite values (and the abort when losses stay so), and the progress bar between ticks."""

from __future__ import annotations

from dataclasses import dataclass

from stylegan.errors import StyleGANError
from stylegan.training.config import TrainingConfig
from stylegan.training.run import Run
from stylegan.training.state import TrainingState
from stylegan.training.stats import StatsCollector, cpu_memory_gb, format_time, gpu_memory_gb
from stylegan.training.step import StepResult

MAX_WARNINGS_PER_TICK = 3


@dataclass
class Tick:
    """Clock and counters of the tick in progress."""

    run_start: float
    start: float
    start_nimg: int
    maintenance_sec: float = 0.0
    nonfinite_steps: int = 0


def check_finite(run: Run, result: StepResult, stats: StatsCollector, tick: Tick) -> None:
    """Count and report NaN/inf losses and gradients; abort if the losses stay non-finite."""
    state, config, log = run.state, run.config, run.log
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
        log.line(nonfinite_warning(state, bad_losses, bad_grads))
    elif tick.nonfinite_steps == MAX_WARNINGS_PER_TICK + 1:
        log.line("warning: more non-finite values this tick; the tick line counts them")
    if state.nonfinite_streak >= config.max_nonfinite_steps:
        raise StyleGANError(
            f"training diverged: losses were NaN or infinite for {state.nonfinite_streak} steps "
            f"in a row (kimg {state.kimg:.1f}); resume from an earlier snapshot in {run.run_dir} "
            "with a lower --glr/--dlr, a larger --gamma or a larger --batch"
        )


def log_tick(run: Run, tick: Tick, tick_end: float, stats: StatsCollector) -> None:
    """The official-style tick line, and the same numbers into the tick's statistics."""
    state = run.state
    tick_sec = tick_end - tick.start
    sec_per_kimg = tick_sec / (max(state.cur_nimg - tick.start_nimg, 1) / 1000)
    cpu_gb, gpu_gb = cpu_memory_gb(), gpu_memory_gb(run.device)
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
    run.log.line(" ".join(fields))
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


def nonfinite_warning(state: TrainingState, bad_losses: list[str], bad_grads: dict) -> str:
    """One line naming the phases with non-finite losses and the gradient elements cleaned."""
    parts = []
    if bad_losses:
        parts.append(f"non-finite loss in {', '.join(bad_losses)}")
    if bad_grads:
        counts = ", ".join(f"{name} {n}" for name, n in bad_grads.items())
        parts.append(f"non-finite gradient elements ({counts}) set to 0 / +-1e5")
    return f"warning: step {state.batch_idx} (kimg {state.kimg:.3f}): {'; '.join(parts)}"


def progress_bar(config: TrainingConfig, state: TrainingState, enabled: bool):
    """A tqdm bar over the run's kimg (None when disabled)."""
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


def bar_text(result: StepResult, sec_per_kimg: float) -> str:
    """The bar's postfix: speed and the main losses of the last step."""
    g = result.losses.get("Gmain", result.losses.get("Gboth", float("nan")))
    d = result.losses.get("Dmain", result.losses.get("Dboth", float("nan")))
    return f"{sec_per_kimg:.1f} s/kimg, G {g:.3f}, D {d:.3f}"
