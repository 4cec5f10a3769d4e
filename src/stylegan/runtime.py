"""How the process runs: CPU allocator tuning, Ctrl-C / SIGTERM handling for long loops, and
durations written as NVIDIA's logs write them.

Nothing here knows about networks; any layer may use it (the CLI, the training log, metric
records).

Tuning glibc's malloc for CPU inference, where every layer allocates large temporaries:
glibc serves each allocation above ``M_MMAP_THRESHOLD`` (128 KiB, adapting up to 32 MiB) with
a fresh ``mmap`` and returns it with ``munmap`` when freed. A generator at 256 px allocates
tensors of 30-130 MiB layer after layer, so every one of them is mapped, page-faulted in 4 KiB
at a time and unmapped again: filling new pages costs more than the arithmetic done on them
(a 128 MiB out-of-place add takes ~60 ms against ~6 ms in place). Raising the mmap threshold
(to 1 GiB) and the trim threshold keeps freed blocks in the heap, so the next layer reuses
pages that are already mapped: a 256 px batch-8 generator forward went from 1.84 s to 1.34 s
on one thread.

The cost is memory: freed blocks are kept by the process instead of being returned to the OS,
so resident memory stays near its peak. That suits a benchmark or a generating CLI, not a
library import, so nothing here runs unless :func:`tune_cpu_allocator` is called, once, at the
start of a process (before large tensors exist).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys
import threading

# mallopt parameters, from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4

# Blocks below this come from the heap and are reused; above it they are still mmapped. 1 GiB
# covers every activation of a 1024 px generator at batch 8. (glibc's own dynamic threshold
# stops at 32 MiB, below the 64-134 MiB tensors of a 256 px batch-8 forward.)
_MMAP_THRESHOLD = 1 << 30
_TRIM_THRESHOLD = 1 << 30  # keep up to 1 GiB of free heap top instead of returning it
_TOP_PAD = 64 << 20  # grow the heap in 64 MiB steps

_tuned: bool | None = None


def tune_cpu_allocator() -> bool:
    """Make glibc malloc keep large freed blocks for reuse; return whether it was applied.

    Idempotent (later calls return the first call's result) and a no-op returning ``False``
    off Linux or where the C library is not glibc (musl, macOS, Windows). Call it at process
    start, e.g. first thing in a CLI's ``main``; the library never calls it by itself.
    """
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        if not hasattr(libc, "gnu_get_libc_version"):  # musl and others lack it
            return False
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # A glibc that caps the threshold (older ones stop at 32 MiB) rejects 1 GiB: then serve
    # every block from the heap instead.
    if mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) != 1 and mallopt(_M_MMAP_MAX, 0) != 1:
        return False
    ok = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1
    ok = mallopt(_M_TOP_PAD, _TOP_PAD) == 1 and ok
    _tuned = ok
    return ok


def format_time(seconds: float) -> str:
    """``42s``, ``5m 03s``, ``2h 07m``, ``3d 04h`` like NVIDIA's logs."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {(s // 60) % 60:02d}m"
    return f"{s // 86400}d {(s // 3600) % 24:02d}h"


class GracefulStop:
    """While active, SIGINT and SIGTERM only set ``requested`` (the signal's name, or what
    stopped the run) and ``signum``; a second Ctrl-C stops at once.

    Long loops (training, encoder training) check ``requested`` between steps, write what they
    need to resume, then end; signal handlers are only installed in the main thread.
    """

    def __init__(self):
        self.requested: str | None = None
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, _frame):
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        self.signum = int(signum)

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class _CallersStop:
    """A caller's stop flag used as the context :class:`GracefulStop` would be."""

    def __init__(self, stop: object):
        self.stop = stop

    def __enter__(self) -> object:
        return self.stop

    def __exit__(self, *exc) -> None:
        return None


def stop_signals(stop: object | None = None) -> GracefulStop | _CallersStop:
    """The context a long loop checks ``requested`` on: a fresh :class:`GracefulStop`, or, when
    the caller passes its own flag (an object with a ``requested`` attribute), that flag as is."""
    return GracefulStop() if stop is None else _CallersStop(stop)
