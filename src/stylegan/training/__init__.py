"""StyleGAN2 training: presets, losses, EMA, the resumable training state and the loop.

>>> from stylegan.training import make_config, train
>>> run_dir = train(make_config("small", total_kimg=20), outdir="training-runs")

``resolve_run_config(overrides, resume, outdir)`` gives the config ``stylegan train`` would run.
"""

from stylegan.training.config import PRESETS, TrainingConfig, load_training_options, make_config
from stylegan.training.loop import find_latest_snapshot, train, training_step
from stylegan.training.run_config import resolve_run_config
from stylegan.training.state import TrainingState

__all__ = [
    "PRESETS",
    "TrainingConfig",
    "TrainingState",
    "find_latest_snapshot",
    "load_training_options",
    "make_config",
    "resolve_run_config",
    "train",
    "training_step",
]
