"""Training StyleGAN 1, 2 and 3: presets, losses, EMA, the resumable training state and the loop.

>>> from stylegan.training import make_config, train
>>> run_dir = train(make_config("small", total_kimg=20), outdir="training-runs")

``resolve_run_config(overrides, resume, outdir)`` gives the config ``stylegan train`` would run.
Ctrl-C or SIGTERM ends ``train`` with :class:`TrainingInterrupted` (its ``exit_code``, 130 or
143, is what ``stylegan train`` exits with) once the resumable snapshot is written.
"""

from stylegan.errors import TrainingInterrupted
from stylegan.training.config import TrainingConfig, load_training_options
from stylegan.training.loop import train
from stylegan.training.presets import PRESETS, make_config
from stylegan.training.run_config import resolve_run_config
from stylegan.training.run_folder import find_latest_snapshot
from stylegan.training.state import TrainingState
from stylegan.training.step import training_step

__all__ = [
    "PRESETS",
    "TrainingConfig",
    "TrainingInterrupted",
    "TrainingState",
    "find_latest_snapshot",
    "load_training_options",
    "make_config",
    "resolve_run_config",
    "train",
    "training_step",
]
