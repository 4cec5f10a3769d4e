"""One training session's objects, held together so the loop's parts take one argument."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from stylegan.training import distributed
from stylegan.training.config import TrainingConfig
from stylegan.training.sample_grid import SampleGrid
from stylegan.training.state import TrainingState
from stylegan.training.stats import RunLog


@dataclass
class Run:
    """What the tick loop reads and writes: the state and how it is trained, shown and logged."""

    config: TrainingConfig
    state: TrainingState
    dataset: Any  # stylegan.data.ImageDataset
    device: torch.device
    context: distributed.Context
    run_dir: Path
    log: RunLog | distributed.NullLog  # rank 0 logs, the others do not
    bar: Any  # a tqdm progress bar, or None
    grid: SampleGrid
