"""The bundled Twemoji sample: loads without the shared folder, labelled, reproducible."""

import csv
import zipfile
from pathlib import Path

import numpy as np
import pytest

from stylegan.data import ImageDataset, convert_dataset, sample_dataset_path

SHARED_TWEMOJI = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "twemoji-64"
NUM_CATEGORIES = 10


def test_sample_loads_with_category_labels():
    path = sample_dataset_path()
    assert path.name == "twemoji-32.zip" and path.is_file()
    assert path.stat().st_size < 3 * 2**20
    dataset = ImageDataset(path, use_labels=True)
    assert len(dataset) == 1911 and dataset.image_shape == [3, 32, 32]
    assert dataset.label_dim == NUM_CATEGORIES and dataset.has_onehot_labels
    image, label = dataset[0]
    assert image.dtype == np.uint8 and label.sum() == 1
    with zipfile.ZipFile(path) as z:
        assert all(info.compress_type == zipfile.ZIP_STORED for info in z.infolist())


def test_attribution_names_the_license_and_every_class():
    text = (sample_dataset_path().parent / "TWEMOJI-ATTRIBUTION.txt").read_text()
    assert "Twitter, Inc and other contributors" in text
    assert "https://creativecommons.org/licenses/by/4.0/" in text
    assert "32x32" in text and "white" in text
    for index in range(NUM_CATEGORIES):
        assert f"{index:2d}: " in text


@pytest.mark.skipif(not SHARED_TWEMOJI.exists(), reason="shared datasets folder not present")
def test_labels_follow_the_manifest_categories():
    with open(SHARED_TWEMOJI / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    categories = sorted({row["category"] for row in rows})
    assert len(categories) == NUM_CATEGORIES
    dataset = ImageDataset(sample_dataset_path(), use_labels=True)
    for i in (0, 500, 1910):
        assert dataset.get_label(i).argmax() == categories.index(rows[i]["category"])


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_TWEMOJI.exists(), reason="shared datasets folder not present")
def test_sample_is_reproducible_from_the_shared_folder(tmp_path):
    with open(SHARED_TWEMOJI / "manifest.csv", newline="") as f:
        categories = {row["file"]: row["category"] for row in csv.DictReader(f)}
    convert_dataset(
        SHARED_TWEMOJI,
        tmp_path / "twemoji-32.zip",
        32,
        resize_filter="box",
        labels=categories,
        png_compression=9,
        progress=False,
    )
    assert (tmp_path / "twemoji-32.zip").read_bytes() == sample_dataset_path().read_bytes()
