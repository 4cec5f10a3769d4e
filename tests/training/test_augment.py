"""ADA's augmentation pipeline, its controller, and DiffAugment, on images with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.training.augment import (
    AUGPIPE_SPECS,
    AdaController,
    AugmentPipe,
    make_augment_pipe,
    setup_augmentation,
)
from stylegan.training.diffaugment import DiffAugment, cutout, diff_augment, shift_images

SIZE = 32
LUMA = torch.tensor([1.0, 1.0, 1.0]) / math.sqrt(3)


def _pattern() -> torch.Tensor:
    """A smooth, asymmetric RGB image (so flips and rotations are visible, aliasing small)."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, SIZE), torch.linspace(-1, 1, SIZE), indexing="ij")
    blob = torch.exp(-((x - 0.3) ** 2 + (y + 0.2) ** 2) / 0.1)
    return torch.stack([blob, 0.5 * x, 0.3 * y + 0.2 * blob])[None]


def _disc(radius: float) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(SIZE) + 0.5, torch.arange(SIZE) + 0.5, indexing="ij")
    r = ((x - SIZE / 2) ** 2 + (y - SIZE / 2) ** 2).sqrt()
    return (r < radius).float()[None, None].repeat(1, 3, 1, 1)


def _pipe(**kwargs) -> AugmentPipe:
    pipe = AugmentPipe(**kwargs)
    pipe.p.fill_(1.0)
    return pipe


def test_p_zero_is_the_identity_for_every_preset():
    torch.manual_seed(0)
    x = torch.randn(3, 3, SIZE, SIZE)
    for name in AUGPIPE_SPECS:
        pipe = make_augment_pipe(name)
        pipe.p.fill_(0)
        assert torch.equal(pipe(x), x), name
    with pytest.raises(StyleGANError, match="unknown augmentation pipeline"):
        make_augment_pipe("bgcx")


def test_pixel_blitting():
    # Blits go through the same low-pass resampling as every geometric transform (as in the
    # official pipeline): a flip moves samples between the two phases of the 2x-upsampled
    # grid, so on a smooth image the result matches the exact blit to about 2% of full scale.
    x = _pattern()
    tolerance = dict(atol=0.03, rtol=0)
    flipped = _pipe(xflip=1)(x, debug_percentile=0.75)  # floor(0.75 * 2) = 1: flip
    torch.testing.assert_close(flipped, x.flip(3), **tolerance)
    assert (flipped - x).abs().max() > 0.3
    rotated = _pipe(rotate90=1)(x, debug_percentile=0.3)  # floor(0.3 * 4) = 1 quarter turn
    torch.testing.assert_close(rotated, torch.rot90(x, 1, dims=[2, 3]), **tolerance)
    # Integer translation by round((0.9 * 2 - 1) * 0.125 * 32) = 3 px in x and y (the image
    # content beyond the border is mirrored in).
    shifted = _pipe(xint=1)(x, debug_percentile=0.9)
    torch.testing.assert_close(shifted[..., 3:, 3:], x[..., :-3, :-3], **tolerance)


def test_isotropic_and_anisotropic_scaling():
    disc = _disc(6)
    s = float(torch.exp2(torch.erfinv(torch.tensor(0.8 * 2 - 1)) * 0.2))
    bigger = _pipe(scale=1)(disc, debug_percentile=0.8)
    area_ratio = float(bigger[0, 0].sum() / disc[0, 0].sum())
    assert area_ratio == pytest.approx(s * s, rel=0.06)
    stretched = _pipe(aniso=1)(disc, debug_percentile=0.9)[0, 0]
    width = float((stretched[SIZE // 2] > 0.5).sum())
    height = float((stretched[:, SIZE // 2] > 0.5).sum())
    assert width > 12 * 1.1 and height < 12 / 1.1  # wider than tall


def test_rotation_and_fractional_translation():
    x = _pattern()
    # debug 0.75: pre-rotation by (0.5) * pi = 90 degrees, post-rotation 0.
    rotated = _pipe(rotate=1)(x, debug_percentile=0.75)
    inner = slice(4, -4)
    want = torch.rot90(x, 1, dims=[2, 3])
    assert (rotated - want)[..., inner, inner].abs().max() < 0.02
    # Centre of mass moves by erfinv(2 * 0.7 - 1) * 0.125 * 32 px to the right and down.
    blob = _disc(4)
    moved = _pipe(xfrac=1)(blob, debug_percentile=0.7)[0, 0].clamp(min=0)
    grid = torch.arange(SIZE) + 0.5
    shift = float(torch.erfinv(torch.tensor(0.4)) * 0.125 * SIZE)
    cx = float((moved.sum(0) * grid).sum() / moved.sum())
    cy = float((moved.sum(1) * grid).sum() / moved.sum())
    assert cx == pytest.approx(SIZE / 2 + shift, abs=0.1)
    assert cy == pytest.approx(SIZE / 2 + shift, abs=0.1)


def _luma(x):
    return torch.einsum("c,nchw->nhw", LUMA, x)


def test_colour_transforms():
    x = _pattern()
    b = float(torch.erfinv(torch.tensor(0.4)) * 0.2)
    torch.testing.assert_close(_pipe(brightness=1)(x, debug_percentile=0.7), x + b)
    c = float(torch.exp2(torch.erfinv(torch.tensor(0.4)) * 0.5))
    torch.testing.assert_close(_pipe(contrast=1)(x, debug_percentile=0.7), x * c)  # about 0
    flipped = _pipe(lumaflip=1)(x, debug_percentile=0.9)
    torch.testing.assert_close(_luma(flipped), -_luma(x), atol=1e-5, rtol=0)
    chroma = x - _luma(x)[:, None] * LUMA[None, :, None, None]
    chroma_flipped = flipped - _luma(flipped)[:, None] * LUMA[None, :, None, None]
    torch.testing.assert_close(chroma_flipped, chroma, atol=1e-5, rtol=0)
    hued = _pipe(hue=1)(x, debug_percentile=0.75)  # a quarter turn around the luma axis
    torch.testing.assert_close(_luma(hued), _luma(x), atol=1e-5, rtol=0)
    assert (hued - x).abs().max() > 0.1
    chroma_hued = hued - _luma(hued)[:, None] * LUMA[None, :, None, None]
    torch.testing.assert_close(chroma_hued.norm(dim=1), chroma.norm(dim=1), atol=1e-5, rtol=0)
    s = float(torch.exp2(torch.erfinv(torch.tensor(0.4)) * 1.0))
    saturated = _pipe(saturation=1)(x, debug_percentile=0.7)
    torch.testing.assert_close(_luma(saturated), _luma(x), atol=1e-5, rtol=0)
    chroma_sat = saturated - _luma(saturated)[:, None] * LUMA[None, :, None, None]
    torch.testing.assert_close(chroma_sat, chroma * s, atol=1e-5, rtol=0)


def test_noise_filter_and_cutout():
    x = torch.zeros(64, 3, SIZE, SIZE)
    torch.manual_seed(0)
    noisy = _pipe(noise=1)(x, debug_percentile=0.5)
    assert float(noisy.std()) == pytest.approx(
        float(torch.erfinv(torch.tensor(0.5))) * 0.1, rel=0.02
    )
    ones = torch.ones(1, 3, SIZE, SIZE)
    cut = _pipe(cutout=1)(ones, debug_percentile=0.5)
    assert float((cut == 0).float().mean()) == pytest.approx(0.25)  # half the width, squared
    assert float(cut[0, 0, SIZE // 2, SIZE // 2]) == 0 and float(cut[0, 0, 0, 0]) == 1
    filtered = _pipe(imgfilter=1)(_pattern(), debug_percentile=0.9)
    assert filtered.shape == (1, 3, SIZE, SIZE) and (filtered - _pattern()).abs().max() > 0.01
    # Amplifying only the top band raises the share of high frequencies; only the lowest band,
    # lowers it (white noise in, energy above 1/4 cycle per pixel measured).
    from stylegan.tools.frequency import high_frequency_fraction

    white = torch.randn(4, 3, SIZE, SIZE)
    before = float(high_frequency_fraction(white).mean())
    top = _pipe(imgfilter=1, imgfilter_bands=[0, 0, 0, 1])(white, debug_percentile=0.9)
    bottom = _pipe(imgfilter=1, imgfilter_bands=[1, 0, 0, 0])(white, debug_percentile=0.9)
    assert float(high_frequency_fraction(top).mean()) > before + 0.1
    assert float(high_frequency_fraction(bottom).mean()) < before - 0.1
    with pytest.raises(StyleGANError, match="larger than"):
        _pipe(imgfilter=1)(torch.zeros(1, 3, 16, 16), debug_percentile=0.9)


def test_gradients():
    x = torch.randn(2, 3, SIZE, SIZE, requires_grad=True)
    pipe = make_augment_pipe("bgc")
    pipe.p.fill_(0.5)
    torch.manual_seed(3)
    y = pipe(x)
    (y * torch.randn_like(y)).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0

    small = torch.randn(1, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    for kwargs in (dict(rotate=1, scale=1), dict(brightness=1, saturation=1, hue=1)):
        geometric = _pipe(**kwargs).double()

        def run(img, module=geometric):
            torch.manual_seed(5)  # the same draws on every evaluation
            return module(img)

        assert torch.autograd.gradcheck(run, (small,), eps=1e-6, atol=1e-4)


def test_official_buffers_and_names():
    pipe = make_augment_pipe("bgcfnc")
    assert set(pipe.state_dict()) == {"p", "Hz_geom", "Hz_fbank"}
    assert pipe.Hz_geom.shape == (12,) and pipe.Hz_fbank.shape == (4, 43)
    # The filter bank splits the spectrum: its rows sum to a unit impulse.
    bank = pipe.Hz_fbank.sum(dim=0)
    assert float(bank[21]) == pytest.approx(1, abs=1e-5) and float(
        bank.abs().sum()
    ) == pytest.approx(1, abs=1e-4)


def test_controller_follows_the_sign_of_overfitting():
    pipe = make_augment_pipe("bgc")
    pipe.p.fill_(0)
    ada = AdaController(target=0.6, interval=4, speed_kimg=500)
    step = 32 * 4 / 500_000
    for _ in range(4):
        ada.accumulate(torch.ones(32, 1))  # D calls every real real: overfitting
    assert ada.update(pipe, batch_size=32) == 1.0
    assert float(pipe.p) == pytest.approx(step)
    ada.accumulate(-torch.ones(32, 1))
    ada.update(pipe, 32)
    ada.accumulate(-torch.ones(32, 1))
    ada.update(pipe, 32)
    assert float(pipe.p) == 0  # never below zero
    ada.accumulate(torch.tensor([[1.0], [-1.0]]))
    state = ada.state_dict()
    again = AdaController()
    again.load_state_dict(state)
    assert (again.sign_sum, again.count) == (0.0, 2)


def test_setup_options():
    pipe, ada = setup_augmentation("ada", "bgc")
    assert float(pipe.p) == 0 and ada.target == 0.6
    pipe, ada = setup_augmentation("fixed", "blit", p=0.3)
    assert float(pipe.p) == pytest.approx(0.3) and ada is None
    assert setup_augmentation("noaug") == (None, None)
    for kwargs, match in (
        (dict(aug="fixed"), "needs --p"),
        (dict(aug="ada", p=1.5), "--p must lie"),
        (dict(aug="ada", target=1.0), "--target"),
        (dict(aug="noaug", p=0.2), "need augmentation"),
        (dict(aug="sometimes"), "--aug must be"),
    ):
        with pytest.raises(StyleGANError, match=match):
            setup_augmentation(**kwargs)


def test_diffaugment():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    y = diff_augment(x)
    assert y.shape == x.shape
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
    img = torch.arange(16.0).reshape(1, 1, 4, 4)
    out = shift_images(img, torch.tensor([1]), torch.tensor([-1]))
    want = torch.tensor([[0, 4, 5, 6], [0, 8, 9, 10], [0, 12, 13, 14], [0, 0, 0, 0.0]])
    torch.testing.assert_close(out[0, 0], want)
    ones = torch.ones(64, 3, 16, 16)
    cut = cutout(ones)
    assert (
        float((cut == 0).float().mean()) <= 0.25
        and float((cut[:, 0] == 0).sum(dim=[1, 2]).max()) == 64
    )
    colour = diff_augment(torch.zeros(256, 3, 4, 4), "color")  # brightness only moves zeros
    assert float(colour.min()) >= -0.5 and float(colour.max()) <= 0.5
    assert float(colour.std()) == pytest.approx(1 / math.sqrt(12), rel=0.1)
    assert DiffAugment("translation").policy == "translation"
    with pytest.raises(StyleGANError, match="policy"):
        DiffAugment("colour")
    assert np.isfinite(float(diff_augment(torch.randn(2, 3, 8, 8), "translation,cutout").sum()))
