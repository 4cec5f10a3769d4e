"""Average power spectra: known signals, the one-pass whitening, the figure, real vs generated."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan.errors import StyleGANError
from stylegan.tools.spectrum import (
    Spectrum,
    average_spectrum,
    compare_spectra,
    compare_spectra_files,
    figure_size,
    kaiser_window_2d,
    spectrum_figure,
)


def sinusoid(res=32, kx=5, ky=0, channels=3):
    y, x = np.mgrid[0:res, 0:res]
    img = 128 + 100 * np.sin(2 * np.pi * (kx * x + ky * y) / res)
    return np.repeat(img[None], channels, axis=0).round().astype(np.uint8)


def white_noise(num=64, res=32, seed=0):
    rnd = np.random.RandomState(seed)
    return np.clip(rnd.normal(128, 30, size=[num, 3, res, res]), 0, 255).round().astype(np.uint8)


def test_sinusoid_peaks_at_its_frequency():
    for kx, ky in [(5, 0), (3, 7), (0, 12)]:
        spec = average_spectrum(sinusoid(kx=kx, ky=ky), interp=4)
        size = spec.power.shape[0]
        assert size == 128 and spec.image_size == 32 and spec.num_images == 1
        peak = np.unravel_index(np.argmax(spec.power), spec.power.shape)
        expected = {((ky * 4) % size, (kx * 4) % size), ((-ky * 4) % size, (-kx * 4) % size)}
        assert tuple(int(v) for v in peak) in expected
        freqs, db = spec.radial_profile()
        assert freqs[np.argmax(db)] == pytest.approx(math.hypot(kx, ky), abs=0.5)


def test_white_noise_is_flat_at_zero_db():
    spec = average_spectrum(white_noise(), interp=2)
    freqs, db = spec.radial_profile()
    assert freqs[0] == 0 and freqs[-1] == 16
    assert np.all(np.abs(db) < 1.0), db.round(2)  # whitened: the variance spread evenly
    heat = spec.heatmap_db()
    assert heat.shape == (65, 65)
    assert abs(np.median(heat)) < 0.5


def test_one_pass_whitening_equals_explicit_statistics():
    images = white_noise(num=5, res=16) // 2 + sinusoid(res=16, kx=2)[None] // 2
    auto = average_spectrum(iter([images[:2], images[2:]]), interp=2)
    x = images.astype(np.float64)
    assert auto.mean == pytest.approx(x.mean()) and auto.std == pytest.approx(x.std())
    explicit = average_spectrum(images, mean=x.mean(), std=x.std(), interp=2)
    np.testing.assert_allclose(auto.power, explicit.power, rtol=1e-9, atol=1e-12)
    # The official recipe, image by image.
    window = kaiser_window_2d(16).numpy()
    ref = np.zeros([32, 32])
    for img in x:
        w = (img - x.mean()) / x.std() * window
        ref += (np.abs(np.fft.fft2(np.pad(w, [(0, 0), (0, 16), (0, 16)]))) ** 2).mean(0)
    np.testing.assert_allclose(explicit.power, ref / len(x), rtol=1e-9, atol=1e-12)


def test_bad_inputs():
    with pytest.raises(StyleGANError, match="no images"):
        average_spectrum([])
    with pytest.raises(StyleGANError, match="square"):
        average_spectrum(np.zeros([1, 3, 8, 16], np.uint8), mean=0, std=1)
    with pytest.raises(StyleGANError, match="constant"):
        average_spectrum(np.zeros([1, 3, 8, 8], np.uint8))


def test_figure_written_with_the_right_size(tmp_path):
    spectra = {
        "noise": average_spectrum(white_noise(num=4), interp=2),
        "sine": average_spectrum(sinusoid(), interp=2),
        "third": average_spectrum(white_noise(num=2, seed=1), interp=2),
    }
    path = tmp_path / "fig" / "spectra.png"
    fig = spectrum_figure(spectra, path, panel=128)
    assert path.is_file()
    with Image.open(path) as img:
        assert img.size == figure_size(3, 128) == fig.size
        pixels = np.asarray(img.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # heatmaps, curves, text drawn
    with pytest.raises(StyleGANError):
        spectrum_figure({"a": spectra["noise"], "b": average_spectrum(sinusoid(res=16))}, None)


def test_save_load_roundtrip_and_files_figure(tmp_path):
    spec = average_spectrum(sinusoid(), interp=2)
    path = spec.save(tmp_path / "sine.npz")
    again = Spectrum.load(path)
    np.testing.assert_array_equal(again.power, spec.power)
    assert (again.image_size, again.num_images, again.mean) == (32, 1, spec.mean)
    # NVIDIA's files hold only spectrum and image_size.
    np.savez(tmp_path / "official.npz", spectrum=spec.power, image_size=32)
    assert Spectrum.load(tmp_path / "official.npz").num_images == 0
    fig = compare_spectra_files([path, tmp_path / "official.npz"], tmp_path / "files.png")
    assert fig.size == figure_size(2)


class SmoothDataset:
    """Sequence of ``(uint8 [C, H, W], label)`` like ImageDataset: smooth random blobs."""

    def __init__(self, num=12, res=16):
        rnd = np.random.RandomState(0)
        y, x = np.mgrid[0:res, 0:res] / res
        self.images = []
        for _ in range(num):
            img = np.zeros([3, res, res])
            for c in range(3):
                cx, cy = rnd.rand(2)
                img[c] = 128 + 90 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 0.05)
            self.images.append(img.round().astype(np.uint8))

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], np.zeros([0], np.float32)


def test_real_and_generated_spectra_differ(make_real, tmp_path):
    G = make_real()
    path = tmp_path / "cmp.png"
    spectra = compare_spectra(G, SmoothDataset(), num=8, path=path, batch_size=4, interp=2)
    assert list(spectra) == ["real", "generated"]
    real, fake = spectra["real"], spectra["generated"]
    assert real.num_images == fake.num_images == 8
    assert (fake.mean, fake.std) == (real.mean, real.std)  # whitened with the reals' statistics
    _, real_db = real.radial_profile()
    _, fake_db = fake.radial_profile()
    # Smooth blobs have almost no high frequencies; a random network has plenty.
    assert fake_db[-4:].mean() > real_db[-4:].mean() + 10
    with Image.open(path) as img:
        assert img.size == figure_size(2)


def test_generated_images_follow_the_seed_protocol(make_real):
    from stylegan.tools.spectrum import _generated_images

    G = make_real()
    batches = list(_generated_images(G, 3, seed=5, batch_size=2, device="cpu", truncation_psi=1))
    assert [len(b) for b in batches] == [2, 1] and batches[0].dtype == torch.uint8
    spectra = compare_spectra({"a": G}, None, num=3, seed=5, interp=1, batch_size=2)
    assert list(spectra) == ["a"]
    assert spectra["a"].num_images == 3 and spectra["a"].power.shape == (16, 16)
    assert np.isfinite(spectra["a"].power).all()
