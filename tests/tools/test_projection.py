"""Projection (NVIDIA's projector schedule, W and W+), PTI, and the projected_w.npz files."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

import stylegan
from stylegan.errors import StyleGANError
from stylegan.images import psnr
from stylegan.metrics.perceptual import PixelDistance, load_perceptual_distance
from stylegan.tools.projection import (
    learning_rate,
    load_projected_w,
    load_target,
    noise_buffers,
    normalize_noise,
    project,
    project_files,
    render,
    save_projected_w,
    tune,
    w_noise_scale,
    w_statistics,
)

W_AVG_SAMPLES = 500  # NVIDIA's 10,000 would only cost time on tiny networks
STEPS = 40
W_PLUS_PSNR = 13.0  # measured 15.4 dB after 40 steps (7.5 dB at the start)


@pytest.fixture(scope="module")
def generator(make_real, noise_strength):
    """A tiny real StyleGAN2 generator with some noise, and a target it made itself."""
    G = make_real(seed=3)
    noise_strength(G, 0.05)
    ws = G.mapping(torch.randn([1, G.z_dim], generator=torch.Generator().manual_seed(5)), None)
    return G, render(G, ws)[0]


def _psnr(image, target):
    return psnr(torch.from_numpy(image), torch.from_numpy(target), drange=(0, 255))


def test_schedule_matches_nvidia():
    """lr and w noise at a few steps, from projector.py's formula written out by hand."""
    n = 1000
    assert learning_rate(0, n) == 0
    assert learning_rate(25, n) == pytest.approx(0.1 * 0.5)  # half-way up the 5 % ramp
    assert learning_rate(500, n) == pytest.approx(0.1)
    t = 900 / n
    expected = 0.1 * (0.5 - 0.5 * math.cos(min(1, (1 - t) / 0.25) * math.pi))
    assert learning_rate(900, n) == pytest.approx(expected)
    assert w_noise_scale(0, n, 2.0) == pytest.approx(2.0 * 0.05)
    assert w_noise_scale(375, n, 2.0) == pytest.approx(2.0 * 0.05 * 0.25)
    assert w_noise_scale(800, n, 2.0) == 0


def test_w_statistics_from_randomstate_123(generator):
    G, _ = generator
    w_avg, w_std = w_statistics(G, 64)
    z = torch.from_numpy(np.random.RandomState(123).randn(64, G.z_dim)).float()
    w = G.mapping(z, None)[:, 0]
    assert torch.allclose(w_avg[0, 0], w.mean(0), atol=1e-5)
    expected = float(((w - w.mean(0)).square().sum() / 64).sqrt().detach())
    assert w_std == pytest.approx(expected, rel=1e-4)


def test_noise_renormalised_after_each_step(generator):
    G, target = generator
    result = project(
        G, target, loss=PixelDistance(), num_steps=3, w_avg_samples=W_AVG_SAMPLES, progress=False
    )
    assert set(result.noise) == set(noise_buffers(G)) and result.noise
    for buf in result.noise.values():
        assert abs(float(buf.mean())) < 1e-5
        assert float(buf.square().mean().sqrt()) == pytest.approx(1, abs=1e-4)
    buf = torch.randn(8, 8) * 3 + 1
    normalize_noise([buf])
    assert abs(float(buf.mean())) < 1e-6 and float(buf.square().mean()) == pytest.approx(1)
    # G itself is untouched: its own constant noise is what proj.png is rendered with.
    assert all(not torch.equal(noise_buffers(G)[k], v) for k, v in result.noise.items())


def test_w_plus_projection_of_own_image(generator):
    G, target = generator
    start = render(G, w_statistics(G, W_AVG_SAMPLES)[0].repeat(1, G.num_ws, 1))[0]
    result = project(
        G, target, loss=PixelDistance(), space="w+", num_steps=STEPS,
        w_avg_samples=W_AVG_SAMPLES, progress=False, record_every=10,
    )  # fmt: skip
    assert result.w.shape == (1, G.num_ws, G.w_dim)
    assert not torch.equal(result.w[0, 0], result.w[0, -1])  # one w per layer
    assert result.steps.shape[1:] == (G.num_ws, G.w_dim)
    assert result.loss_name == "mse"
    got = _psnr(render(G, result.w)[0], target)
    assert got > _psnr(start, target) + 5
    assert got > W_PLUS_PSNR


def test_w_projection_is_one_w_and_effnet_loss(generator):
    G, target = generator
    loss = load_perceptual_distance("effnet")
    result = project(G, target, loss=loss, num_steps=2, w_avg_samples=W_AVG_SAMPLES, progress=False)
    assert result.loss_name == "effnet"
    assert torch.equal(result.w[0, 0], result.w[0, -1])  # W: the same w on every layer
    assert math.isfinite(result.loss)


@pytest.mark.parametrize("name", ["stylegan1.Generator", "stylegan3.Generator"])
def test_other_generations_project(make_tiny_network, name):
    G = make_tiny_network(name).eval()
    target = render(G, G.mapping(torch.randn([1, G.z_dim]), None))[0]
    result = project(
        G, target, loss=PixelDistance(), space="w+", num_steps=3,
        w_avg_samples=W_AVG_SAMPLES, progress=False,
    )  # fmt: skip
    assert result.w.shape == (1, G.num_ws, G.w_dim)
    assert bool(noise_buffers(G)) == (name != "stylegan3.Generator")


def test_conditional_needs_its_class(make_tiny_network):
    G = make_tiny_network("stylegan2.Generator", c_dim=3).eval()
    target = np.zeros([16, 16, 3], np.uint8)
    with pytest.raises(StyleGANError, match="--class"):
        project(G, target, loss=PixelDistance(), num_steps=1, w_avg_samples=8, progress=False)
    result = project(
        G, target, loss=PixelDistance(), num_steps=1, w_avg_samples=8, class_idx=1, progress=False
    )
    w_avg, _ = w_statistics(G, 8, class_idx=1)
    assert not torch.equal(w_avg, w_statistics(G, 8, class_idx=0)[0])  # the class's own average
    assert result.w.shape == (1, G.num_ws, G.w_dim)


def test_npz_round_trip_and_nvidia_layout(tmp_path, generator):
    G, _ = generator
    w = torch.randn(1, G.num_ws, G.w_dim)
    path = save_projected_w(tmp_path / "projected_w.npz", w)
    with np.load(path) as data:  # what NVIDIA's generate.py reads
        assert data.files == ["w"]
        assert data["w"].dtype == np.float32 and data["w"].shape == (1, G.num_ws, G.w_dim)
    assert torch.equal(load_projected_w(path, G), w)
    np.savez(tmp_path / "theirs.npz", w=w.numpy().astype(np.float32))  # as NVIDIA writes it
    assert torch.equal(load_projected_w(tmp_path / "theirs.npz", G), w)


def test_npz_of_another_network_is_a_one_line_error(tmp_path, generator):
    G, _ = generator
    path = save_projected_w(tmp_path / "w.npz", torch.zeros(1, G.num_ws + 1, 512))
    with pytest.raises(StyleGANError) as err:
        load_projected_w(path, G)
    message = str(err.value)
    assert "\n" not in message
    assert f"w_dim 512, num_ws {G.num_ws + 1} but the network has w_dim {G.w_dim}" in message


def test_unreadable_target_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    for path in [bad, tmp_path / "missing.png"]:
        with pytest.raises(StyleGANError, match="cannot read target image") as err:
            load_target(path, 16)
        assert "give a PNG/JPEG file" in str(err.value) and "\n" not in str(err.value)


def test_target_cropped_resized_and_converted(tmp_path):
    array = np.zeros([20, 40, 4], np.uint8)
    array[:, 10:30] = [255, 0, 0, 255]  # the centre square: opaque red
    Image.fromarray(array, "RGBA").save(tmp_path / "wide.png")
    rgb = load_target(tmp_path / "wide.png", 8)
    assert rgb.shape == (8, 8, 3) and (rgb == [255, 0, 0]).all()
    assert load_target(tmp_path / "wide.png", 8, channels=1).shape == (8, 8, 1)


def test_pti_improves_on_the_pivot_and_saves_a_checkpoint(tmp_path, generator):
    G, target = generator
    w = w_statistics(G, W_AVG_SAMPLES)[0].repeat(1, G.num_ws, 1)
    pivot = _psnr(render(G, w)[0], target)
    tuning = tune(G, target, w, loss=PixelDistance(), num_steps=20, threshold=0, progress=False)
    assert tuning.steps == 20
    tuned = _psnr(render(tuning.G, w)[0], target)
    assert tuned > pivot + 1  # measured +1.95 dB after 20 steps
    path = stylegan.save(tmp_path / "tuned", G_ema=tuning.G)
    loaded = stylegan.load(path)
    assert np.array_equal(render(loaded, w), render(tuning.G, w))
    assert not torch.equal(next(G.synthesis.parameters()), next(tuning.G.synthesis.parameters()))


def test_pti_stops_at_the_threshold(generator):
    G, target = generator
    w = w_statistics(G, W_AVG_SAMPLES)[0].repeat(1, G.num_ws, 1)
    assert tune(G, target, w, loss=PixelDistance(), threshold=10, progress=False).steps == 0


def test_folder_of_targets(tmp_path, generator):
    G, target = generator
    folder = tmp_path / "targets"
    folder.mkdir()
    for name in ["a.png", "b.jpg"]:
        Image.fromarray(target).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    reports = project_files(
        G, folder, tmp_path / "out", loss=PixelDistance(), num_steps=2, save_video=False,
        tune_generator=True, tune_steps=2, w_avg_samples=W_AVG_SAMPLES, progress=False,
    )  # fmt: skip
    assert [r.outdir.name for r in reports] == ["a", "b"]
    for report in reports:
        names = {p.name for p in report.outdir.iterdir()}
        assert {"target.png", "proj.png", "projected_w.npz", "projection.json"} <= names
        assert {"proj_tuned.png", "tuned"} <= names
        stylegan.load(report.outdir / "tuned")
        assert report.tuned_psnr is not None and math.isfinite(report.psnr)
