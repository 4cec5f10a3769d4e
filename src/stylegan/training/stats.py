"""Statistics and logs of a run: per-tick averages, ``log.txt``, ``stats.jsonl``, TensorBoard."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import torch

from stylegan.errors import raise_if_disk_full

# Re-exported for the training loop's log line; defined below every layer that prints times.
from stylegan.runtime import format_time as format_time


class StatsCollector:
    """Accumulates named values over a tick; :meth:`summary` gives ``{name: {num, mean, std}}``.

    Tensors stay on their device until the tick ends (no synchronisation per step). Non-finite
    values are left out of the averages; they are counted by the training loop instead.
    """

    def __init__(self):
        self._moments: dict[str, torch.Tensor] = {}

    def add(self, name: str, value: torch.Tensor | float) -> None:
        """Add one number or every element of a tensor."""
        if isinstance(value, torch.Tensor):
            x = value.detach().flatten().to(torch.float64)
        else:
            x = torch.tensor([float(value)], dtype=torch.float64)
        finite = torch.isfinite(x)
        x = torch.where(finite, x, torch.zeros_like(x))
        moments = torch.stack([finite.sum().to(torch.float64), x.sum(), x.square().sum()])
        if name in self._moments:
            old = self._moments[name]
            self._moments[name] = old + moments.to(old.device)
        else:
            self._moments[name] = moments

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean, standard deviation and count of every name since the last reset."""
        out = {}
        for name, m in sorted(self._moments.items()):
            num, total, total_sq = m.tolist()
            if num == 0:
                continue
            mean = total / num
            var = max(total_sq / num - mean * mean, 0.0)
            out[name] = {"num": num, "mean": mean, "std": math.sqrt(var)}
        return out

    def reset(self) -> None:
        """Forget everything (called at the start of each tick)."""
        self._moments.clear()


class RunLog:
    """Lines to the console and to ``log.txt``; per-tick stats to ``stats.jsonl`` and TensorBoard.

    ``echo`` is the function that prints to the console (``tqdm.write`` while a bar is shown).
    A full disk while writing them ends the run with one line (:class:`StyleGANError`): the
    snapshots written so far are untouched.
    """

    def __init__(self, run_dir: Path, echo=None, tensorboard: bool = True):
        self.run_dir = Path(run_dir)
        self.echo = echo or print
        self._log = open(self.run_dir / "log.txt", "a", encoding="utf-8")  # noqa: SIM115
        self._jsonl = open(self.run_dir / "stats.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self._tb = None
        if tensorboard:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    from torch.utils.tensorboard import SummaryWriter

                    self._tb = SummaryWriter(str(self.run_dir))
            except Exception as err:  # tensorboard missing or broken: a warning, not a failure
                self.line(f"warning: skipping TensorBoard events ({type(err).__name__}: {err})")

    def line(self, text: str = "", echo: bool = True) -> None:
        """Print one line (unless not ``echo``) and append it to ``log.txt``."""
        if echo:
            self.echo(text)
            sys.stdout.flush()  # show progress promptly when the output goes to a file
        with _disk_full_as_error(self.run_dir / "log.txt"):
            self._log.write(text + "\n")
            self._log.flush()

    def tick(self, stats: dict[str, dict[str, float]], kimg: float, start_time: float) -> None:
        """Append one tick's statistics to ``stats.jsonl`` and the TensorBoard events."""
        timestamp = time.time()
        with _disk_full_as_error(self.run_dir / "stats.jsonl"):
            self._jsonl.write(json.dumps(dict(stats, timestamp=timestamp)) + "\n")
            self._jsonl.flush()
        if self._tb is not None:
            step = int(kimg)
            for name, value in stats.items():
                self._tb.add_scalar(
                    name, value["mean"], global_step=step, walltime=timestamp - start_time
                )
            self._tb.flush()

    def close(self) -> None:
        """Close every file; a failing flush (the full disk already reported) is not raised
        again, so it cannot hide the error that ended the run."""
        files = [self._tb, self._log, self._jsonl]
        for file in files:
            if file is not None:
                with contextlib.suppress(OSError):
                    file.close()


@contextlib.contextmanager
def _disk_full_as_error(path: Path):
    """A full disk (or quota) while writing ``path`` as one line; other errors unchanged."""
    try:
        yield
    except OSError as err:
        raise_if_disk_full(err, path)
        raise


def cpu_memory_gb() -> float:
    """Resident memory of this process in GiB (peak where the current value is unknown)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (OSError, ValueError, AttributeError):
        try:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return peak / (2**30 if sys.platform == "darwin" else 2**20)
        except Exception:
            return 0.0


def gpu_memory_gb(device: torch.device) -> float:
    """Peak CUDA memory allocated since the last call, in GiB (0 off CUDA)."""
    if device.type != "cuda":
        return 0.0
    peak = torch.cuda.max_memory_allocated(device) / 2**30
    torch.cuda.reset_peak_memory_stats(device)
    return peak
