"""ImageDataset and the infinite loader: NVIDIA's reading rules, subsets, flips, workers."""

import itertools
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hostile_files import png_bytes, write_zip_bomb

from stylegan.data import ImageDataset, InfiniteSampler, convert_dataset, infinite_loader
from stylegan.errors import StyleGANError

SHARED_TWEMOJI = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "twemoji-64.zip"


@pytest.fixture
def dataset_zip(rgb_folder, tmp_path):
    """The six-image folder as a labelled zip (classes cat=0, dog=1)."""
    folder, images = rgb_folder
    convert_dataset(folder, tmp_path / "data.zip", 8, labels="folders", progress=False)
    return tmp_path / "data.zip", list(images.values())


def test_attributes_and_items(dataset_zip):
    path, images = dataset_zip
    dataset = ImageDataset(path, use_labels=True)
    assert dataset.name == "data" and len(dataset) == 6
    assert (dataset.resolution, dataset.num_channels, dataset.image_shape) == (8, 3, [3, 8, 8])
    assert dataset.label_dim == 2 and dataset.has_labels and dataset.has_onehot_labels
    image, label = dataset[4]
    assert image.dtype == np.uint8 and image.shape == (3, 8, 8) and image.flags.c_contiguous
    np.testing.assert_array_equal(image.transpose(1, 2, 0), images[4])
    assert label.dtype == np.float32 and label.tolist() == [0.0, 1.0]


def test_labels_off_by_default(dataset_zip):
    dataset = ImageDataset(dataset_zip[0])
    assert dataset.label_dim == 0 and not dataset.has_labels
    assert dataset[0][1].shape == (0,) and dataset[0][1].dtype == np.float32


def test_xflip_appends_mirrored_copies(dataset_zip):
    dataset = ImageDataset(dataset_zip[0], xflip=True, use_labels=True)
    assert len(dataset) == 12
    for i in range(6):
        original, label = dataset[i]
        mirrored, mirrored_label = dataset[i + 6]
        np.testing.assert_array_equal(mirrored, original[:, :, ::-1])
        np.testing.assert_array_equal(mirrored_label, label)


def test_max_size_is_a_deterministic_subset_like_nvidias(dataset_zip):
    path, images = dataset_zip
    a = ImageDataset(path, max_size=4, random_seed=7)
    b = ImageDataset(path, max_size=4, random_seed=7)
    assert len(a) == 4
    # NVIDIA: shuffle arange(n) with RandomState(seed), keep the first max_size, sort.
    order = np.arange(6)
    np.random.RandomState(7).shuffle(order)
    expected = np.sort(order[:4])
    for i, raw in enumerate(expected):
        np.testing.assert_array_equal(a[i][0], b[i][0])
        np.testing.assert_array_equal(a[i][0].transpose(1, 2, 0), images[raw])
    subsets = {tuple(ImageDataset(path, max_size=4, random_seed=s)._raw_idx) for s in range(5)}
    assert len(subsets) > 1
    assert len(ImageDataset(path, max_size=4, xflip=True)) == 8
    assert len(ImageDataset(path, max_size=100)) == 6


def test_folder_dataset_reads_like_the_zip(dataset_zip, tmp_path):
    path, _ = dataset_zip
    with zipfile.ZipFile(path) as z:
        z.extractall(tmp_path / "unzipped")
    from_zip = ImageDataset(path, use_labels=True)
    from_dir = ImageDataset(tmp_path / "unzipped", use_labels=True)
    assert from_dir.name == "unzipped" and len(from_dir) == len(from_zip)
    for i in range(len(from_zip)):
        np.testing.assert_array_equal(from_dir[i][0], from_zip[i][0])
        np.testing.assert_array_equal(from_dir[i][1], from_zip[i][1])


def test_float_vector_labels(make_image, tmp_path):
    for i in range(3):
        make_image(tmp_path / "d" / f"{i}.png", seed=i)
    labels = [[f"{i}.png", [i, 0.5]] for i in range(3)]
    (tmp_path / "d" / "dataset.json").write_text(json.dumps({"labels": labels}))
    dataset = ImageDataset(tmp_path / "d", use_labels=True)
    assert dataset.label_dim == 2 and not dataset.has_onehot_labels
    assert dataset[2][1].tolist() == [2.0, 0.5]


def test_null_labels_and_missing_entries(make_image, tmp_path):
    make_image(tmp_path / "d" / "a.png")
    make_image(tmp_path / "d" / "b.png")
    (tmp_path / "d" / "dataset.json").write_text(json.dumps({"labels": None}))
    assert ImageDataset(tmp_path / "d", use_labels=True).label_dim == 0
    (tmp_path / "d" / "dataset.json").write_text(json.dumps({"labels": [["a.png", 1]]}))
    with pytest.raises(StyleGANError, match="no label for 1 image"):
        ImageDataset(tmp_path / "d", use_labels=True)


@pytest.mark.parametrize(
    "sizes, match",
    [
        ([(8, 4)], "square"),
        ([(12, 12)], "power of two"),
        ([(8, 8), (16, 16)], "same size"),
    ],
)
def test_unsuitable_images_say_run_stylegan_dataset(make_image, tmp_path, sizes, match):
    for i, size in enumerate(sizes):
        make_image(tmp_path / "d" / f"{i}.png", size=size)
    with pytest.raises(StyleGANError, match=match) as err:
        ImageDataset(tmp_path / "d")
    assert "stylegan dataset" in str(err.value)


def test_rgba_and_wrong_resolution_and_missing_paths(make_image, tmp_path):
    make_image(tmp_path / "rgba" / "a.png", mode="RGBA")
    with pytest.raises(StyleGANError, match="RGB or greyscale"):
        ImageDataset(tmp_path / "rgba")
    make_image(tmp_path / "ok" / "a.png")
    with pytest.raises(StyleGANError, match="not the requested 16x16"):
        ImageDataset(tmp_path / "ok", resolution=16)
    assert ImageDataset(tmp_path / "ok", resolution=8).resolution == 8
    with pytest.raises(StyleGANError, match="does not exist"):
        ImageDataset(tmp_path / "nope.zip")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StyleGANError, match="no images"):
        ImageDataset(tmp_path / "empty")
    (tmp_path / "x.zip").write_text("nope")
    with pytest.raises(StyleGANError, match="not a readable zip"):
        ImageDataset(tmp_path / "x.zip")


def test_greyscale_datasets_have_one_channel(make_image, tmp_path):
    pixels = make_image(tmp_path / "d" / "a.png", mode="L")
    dataset = ImageDataset(tmp_path / "d")
    assert dataset.num_channels == 1
    np.testing.assert_array_equal(dataset[0][0][0], pixels)


def test_pickles_without_an_open_zip(dataset_zip):
    dataset = ImageDataset(dataset_zip[0])
    first = dataset[0][0]
    assert dataset._files._zip is not None
    clone = pickle.loads(pickle.dumps(dataset))
    assert clone._files._zip is None
    np.testing.assert_array_equal(clone[0][0], first)


@pytest.mark.skipif(not SHARED_TWEMOJI.exists(), reason="shared datasets folder not present")
def test_reads_a_dataset_made_by_nvidias_layout():
    dataset = ImageDataset(SHARED_TWEMOJI, use_labels=True)
    assert len(dataset) == 1911 and dataset.image_shape == [3, 64, 64] and dataset.label_dim == 0


# -- infinite stream ------------------------------------------------------------------------------


def test_sampler_is_deterministic_endless_and_splits_between_replicas():
    data = range(10)
    first = list(itertools.islice(InfiniteSampler(data, seed=3), 60))
    assert first == list(itertools.islice(InfiniteSampler(data, seed=3), 60))
    assert first != list(itertools.islice(InfiniteSampler(data, seed=4), 60))
    assert set(first) == set(range(10))
    rank0 = list(itertools.islice(InfiniteSampler(data, rank=0, num_replicas=2, seed=3), 30))
    rank1 = list(itertools.islice(InfiniteSampler(data, rank=1, num_replicas=2, seed=3), 30))
    assert first[0::2] == rank0 and first[1::2] == rank1
    ordered = list(itertools.islice(InfiniteSampler(data, shuffle=False), 25))
    assert ordered == [i % 10 for i in range(25)]


def test_infinite_loader_batches(dataset_zip):
    path, images = dataset_zip
    dataset = ImageDataset(path, use_labels=True)
    stream = infinite_loader(dataset, batch_size=4, seed=1)
    batches = [next(stream) for _ in range(5)]  # more than one pass
    again = infinite_loader(dataset, batch_size=4, seed=1)
    for (img, c), (img2, c2) in zip(batches, (next(again) for _ in range(5))):
        assert img.shape == (4, 3, 8, 8) and img.dtype == torch.float32
        assert c.shape == (4, 2) and c.dtype == torch.float32
        assert img.min() >= -1 and img.max() <= 1
        torch.testing.assert_close(img, img2)
        torch.testing.assert_close(c, c2)
    order = list(itertools.islice(InfiniteSampler(dataset, seed=1), 4))
    expected = torch.from_numpy(np.stack([images[i] for i in order])).permute(0, 3, 1, 2)
    torch.testing.assert_close(batches[0][0], expected.float() / 127.5 - 1)


def test_zip_dataset_with_dataloader_workers(dataset_zip):
    dataset = ImageDataset(dataset_zip[0], use_labels=True)
    dataset[0]  # the parent has a zip handle open; workers must open their own
    single = infinite_loader(dataset, batch_size=3, seed=5)
    workers = infinite_loader(dataset, batch_size=3, seed=5, num_workers=2)
    for _ in range(4):
        (a, ca), (b, cb) = next(single), next(workers)
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(ca, cb)


# -- hostile datasets: the reader's guards hold for training too ----------------------------------


def test_a_zip_bomb_in_a_dataset_is_a_one_line_error(dataset_zip, tmp_path):
    with zipfile.ZipFile(dataset_zip[0]) as z:
        members = {n: z.read(n) for n in z.namelist()}
    write_zip_bomb(tmp_path / "bomb.zip", "00000/img00000006.png", 64 << 20, members)
    with pytest.raises(StyleGANError, match=r"00000/img00000006.png .*zip bomb") as err:
        ImageDataset(tmp_path / "bomb.zip")
    assert "\n" not in str(err.value)

    del members["dataset.json"]
    write_zip_bomb(tmp_path / "labels.zip", "dataset.json", 6 << 30, members)
    assert len(ImageDataset(tmp_path / "labels.zip")) == 6  # labels unused: never read
    with pytest.raises(StyleGANError, match="dataset.json .*over the 256 MiB limit"):
        ImageDataset(tmp_path / "labels.zip", use_labels=True)


def test_fifos_and_pixel_bombs_in_a_dataset_folder_are_one_line_errors(
    dataset_zip, tmp_path, no_hang
):
    with zipfile.ZipFile(dataset_zip[0]) as z:
        z.extractall(tmp_path / "unzipped")
    folder = tmp_path / "unzipped" / "00000"
    os.mkfifo(folder / "img00000006.png")
    with pytest.raises(StyleGANError, match=r"img00000006.png .*not a regular file \(a FIFO\)"):
        ImageDataset(tmp_path / "unzipped")
    (folder / "img00000006.png").unlink()
    (folder / "img00000006.png").write_bytes(png_bytes(100_000, 100_000))
    with pytest.raises(StyleGANError, match=r"img00000006.png .*too many pixels"):
        ImageDataset(tmp_path / "unzipped")
    os.mkfifo(tmp_path / "fifo.zip")
    with pytest.raises(StyleGANError, match="neither a .zip nor a folder"):
        ImageDataset(tmp_path / "fifo.zip")
