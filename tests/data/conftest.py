"""Small image folders made on the fly for the dataset tests."""

import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_image(path: Path, size=(8, 8), mode="RGB", seed=0, array=None) -> np.ndarray:
    """Save a random (or given) image at ``path``; return its pixels as Pillow reads them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if array is None:
        channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
        rng = np.random.default_rng(seed)
        array = rng.integers(0, 256, size=(size[1], size[0], channels), dtype=np.uint8)
        if channels == 1:
            array = array[:, :, 0]
    Image.fromarray(array).save(path)
    return np.asarray(Image.open(path))


@pytest.fixture
def rgb_folder(tmp_path):
    """A nested folder of six random 8x8 RGB PNGs in two class sub-folders.

    Returns ``(folder, {relative name: HWC array})`` with names in sorted order.
    """
    folder = tmp_path / "photos"
    images = {}
    for i, name in enumerate(["cat/a.png", "cat/b.png", "cat/sub/c.png", "dog/d.png", "dog/e.png"]):
        images[name] = write_image(folder / name, seed=i)
    images["dog/f.png"] = write_image(folder / "dog/f.png", seed=99)
    return folder, dict(sorted(images.items()))


@pytest.fixture
def make_image():
    """The :func:`write_image` helper, as a fixture."""
    return write_image


@pytest.fixture
def no_hang():
    """Fail (instead of hanging the whole run) if the test blocks for more than 20 s."""

    def on_alarm(signum, frame):
        raise TimeoutError("blocked: a read that must not hang did")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
