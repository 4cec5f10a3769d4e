"""Small datasets and configs so training tests run in seconds on a CPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from stylegan.training import make_config

RESOLUTION = 16
BATCH = 4  # the tiny preset's batch size


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny convolutions run fastest on one thread, and a shared CI machine makes OpenMP threads
    spin against each other; restore the setting afterwards for other test folders."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_shapes_dataset(root: Path, num_images: int = 24, labels: bool = True) -> Path:
    """A folder of 16 px squares, discs and crosses in random colours; the shape is the label."""
    root.mkdir(parents=True, exist_ok=True)
    rnd = np.random.RandomState(123)
    entries = []
    for i in range(num_images):
        shape = i % 3
        img = Image.new("RGB", (RESOLUTION, RESOLUTION), (255, 255, 255))
        draw = ImageDraw.Draw(img)
        colour = tuple(int(v) for v in rnd.randint(0, 200, size=3))
        lo, hi = int(rnd.randint(1, 5)), int(rnd.randint(11, 15))
        if shape == 0:
            draw.rectangle([lo, lo, hi, hi], fill=colour)
        elif shape == 1:
            draw.ellipse([lo, lo, hi, hi], fill=colour)
        else:
            draw.line([lo, lo, hi, hi], fill=colour, width=3)
            draw.line([lo, hi, hi, lo], fill=colour, width=3)
        name = f"img{i:05d}.png"
        img.save(root / name)
        entries.append([name, shape])
    (root / "dataset.json").write_text(json.dumps({"labels": entries if labels else None}))
    return root


@pytest.fixture(scope="session")
def shapes_dataset(tmp_path_factory) -> Path:
    """24 labelled 16 px images (3 classes)."""
    return write_shapes_dataset(tmp_path_factory.mktemp("data") / "shapes")


@pytest.fixture(scope="session")
def unlabelled_dataset(tmp_path_factory) -> Path:
    """24 16 px images without labels."""
    return write_shapes_dataset(tmp_path_factory.mktemp("data") / "plain", labels=False)


def steps_kimg(steps: int, batch: int = BATCH) -> float:
    """total_kimg (or kimg_per_tick) that makes exactly ``steps`` training steps."""
    return steps * batch / 1000


@pytest.fixture
def tiny_config(shapes_dataset):
    """``tiny_config(steps=N, **overrides)``: the tiny preset on the shapes dataset."""

    def make(steps: int = 4, **overrides):
        values = dict(
            data=str(shapes_dataset),
            total_kimg=steps_kimg(steps),
            kimg_per_tick=steps_kimg(2),
            snapshot_ticks=None,
            grid_size=(2, 2),
            device="cpu",
        )
        values.update(overrides)
        return make_config("tiny", **values)

    return make
