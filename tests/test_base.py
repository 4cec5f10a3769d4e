"""Base helpers: seed parsing, the official latent protocol, labels, images, devices."""

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan.devices import resolve_device
from stylegan.errors import StyleGANError
from stylegan.images import make_grid, save_image, to_uint8_nhwc
from stylegan.latents import class_labels, parse_seeds, z_from_seeds


def test_parse_seeds_ranges_and_lists():
    assert parse_seeds("0-3,7, 10-11") == [0, 1, 2, 3, 7, 10, 11]
    assert parse_seeds("5") == [5]
    assert parse_seeds(9) == [9]
    assert parse_seeds([3, 1]) == [3, 1]


@pytest.mark.parametrize("bad", ["", "a", "3-1", "1-2-3", ",", "4294967296"])
def test_parse_seeds_rejects_bad_specs(bad):
    with pytest.raises(StyleGANError):
        parse_seeds(bad)


def test_z_follows_the_official_protocol():
    z = z_from_seeds([0, 42], 512)
    assert z.dtype == torch.float32 and z.shape == (2, 512)
    expected = np.random.RandomState(42).randn(512).astype(np.float32)
    assert np.array_equal(z[1].numpy(), expected)


def test_class_labels():
    c = class_labels(2, 4, 3)
    assert c.shape == (3, 4) and torch.equal(c.argmax(1), torch.tensor([2, 2, 2]))
    assert class_labels(None, 0, 2).shape == (2, 0)
    with pytest.raises(StyleGANError, match="unconditional"):
        class_labels(1, 0, 2)
    with pytest.raises(StyleGANError, match="give --class"):
        class_labels(None, 4, 2)
    with pytest.raises(StyleGANError, match="out of range"):
        class_labels(4, 4, 2)


def test_to_uint8_nhwc_maps_range_and_layout():
    x = torch.tensor([-1.0, 0.0, 1.0, 2.0]).view(1, 1, 2, 2)
    out = to_uint8_nhwc(x)
    assert out.dtype == torch.uint8 and out.shape == (1, 2, 2, 1)
    assert out.flatten().tolist() == [0, 128, 255, 255]


def test_grid_and_save(tmp_path):
    imgs = np.stack([np.full((2, 3, 3), i, np.uint8) for i in range(5)])
    grid = make_grid(imgs, cols=3)
    assert grid.shape == (4, 9, 3)
    assert grid[0, 3, 0] == 1 and grid[2, 0, 0] == 3 and grid[3, 8, 0] == 0
    path = save_image(grid, tmp_path / "sub" / "g.png")
    assert np.array_equal(np.asarray(Image.open(path)), grid)
    grey = save_image(np.zeros((4, 4, 1), np.uint8), tmp_path / "grey.png")
    assert Image.open(grey).mode == "L"


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(StyleGANError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(StyleGANError, match="unknown device"):
        resolve_device("tpu")


def test_huge_seed_ranges_cost_no_memory():
    seeds = parse_seeds("0-100000000,5")
    assert len(seeds) == 100_000_002
    assert seeds[0] == 0 and seeds[100_000_000] == 100_000_000 and seeds[-1] == 5
    assert seeds[10:13] == [10, 11, 12]
    assert next(seeds.batches(4)) == [0, 1, 2, 3]
    assert list(parse_seeds("3-4,9").batches(2)) == [[3, 4], [9]]
    with pytest.raises(IndexError):
        seeds[len(seeds)]


def test_save_image_never_leaves_a_partial_png(tmp_path, monkeypatch):
    import errno

    target = tmp_path / "out" / "reals.png"
    save_image(np.zeros([4, 4, 3], np.uint8), target)
    before = target.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(Image.SAVE, "PNG", full_disk)
    with pytest.raises(StyleGANError, match=r"disk full while writing .*reals\.png.*MiB free"):
        save_image(np.full([4, 4, 3], 255, np.uint8), target)
    assert target.read_bytes() == before  # the earlier image is intact
    assert sorted(p.name for p in target.parent.iterdir()) == ["reals.png"]  # no temporary
