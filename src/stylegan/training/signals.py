"""Ctrl-C and SIGTERM during training: finish the step, write a snapshot, then end the session
with :class:`~stylegan.errors.TrainingInterrupted`, whose ``exit_code`` (128 + the signal's
number, 130 for SIGINT, 143 for SIGTERM) tells job scripts an interrupted run from a finished
one.

:class:`GracefulStop` itself lives in the base layer (:mod:`stylegan.runtime`), so that tools
(encoder training) can use it too; it is re-exported here for the training loop.
"""

from __future__ import annotations

from stylegan.runtime import GracefulStop

__all__ = ["GracefulStop"]
