"""Ctrl-C and SIGTERM during training: finish the step, write a snapshot, then end the session
with :class:`~stylegan.errors.TrainingInterrupted`, whose ``exit_code`` (128 + the signal's
number, 130 for SIGINT, 143 for SIGTERM) tells job scripts an interrupted run from a finished
one."""

from __future__ import annotations

import signal
import threading


class GracefulStop:
    """While active, SIGINT and SIGTERM only set ``requested`` (the signal's name, or what
    stopped the run) and ``signum``; a second Ctrl-C stops at once."""

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
