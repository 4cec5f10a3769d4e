"""Run a training command in a subprocess and signal it once its log shows a given tick, as a
user's Ctrl-C or a scheduler's SIGTERM would."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


def signal_after_tick(
    command: list[str], outdir: Path, tick: int, signum: int
) -> tuple[int, str, str]:
    """``(exit status, stdout, stderr)`` of ``command`` sent ``signum`` after ``tick``."""
    proc = subprocess.Popen(
        command,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            logs = list(outdir.glob("*/log.txt"))
            if logs and f"tick {tick} " in logs[0].read_text():
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, stdout, stderr
