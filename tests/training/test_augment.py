"""ADA's augmentation pipeline and its controller, checked on images with known answers.

``debug_percentile`` (NVIDIA's knob) makes every enabled augmentation fire on every image with
its parameter at that percentile, so the expected result can be computed by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stylegan.errors import StyleGANError
from stylegan.training.ada import (
    AUG_MODES,
    AUGPIPE_SPECS,
    AdaAdjustment,
    AdaController,
    make_augment_pipe,
    setup_augmentation,
)
from stylegan.training.augment import AugmentPipe

SIZE = 32
LUMA_AXIS = torch.tensor([1.0, 1.0, 1.0]) / math.sqrt(3)


def _pipe(**kwargs) -> AugmentPipe:
    """A pipeline with only ``kwargs`` enabled, at p = 1."""
    pipe = AugmentPipe(**kwargs)
    pipe.p.fill_(1.0)
    return pipe


def _erfinv(value: float) -> float:
    return float(torch.erfinv(torch.tensor(value)))


def _centred_coordinates(size: int = SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates ``(u, v)`` about the image centre, x right and y down."""
    centre = (size - 1) / 2
    v, u = torch.meshgrid(
        torch.arange(size, dtype=torch.float64) - centre,
        torch.arange(size, dtype=torch.float64) - centre,
        indexing="ij",
    )
    return u, v


def _blob(u: torch.Tensor, v: torch.Tensor, cu: float, cv: float, sigma: float) -> torch.Tensor:
    return torch.exp(-((u - cu) ** 2 + (v - cv) ** 2) / (2 * sigma**2))


def _pattern_at(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """A smooth RGB pattern with no symmetry, defined everywhere, so that any transform of it
    can be evaluated exactly; ``[1, 3, H, W]`` float32."""
    red = _blob(u, v, 5, -3, 3.5)
    green = _blob(u, v, -4, 6, 4) + 0.5 * _blob(u, v, 3, 4, 3)
    blue = 0.7 * _blob(u, v, 0, -7, 3) - 0.3 * _blob(u, v, -5, -2, 3)
    return torch.stack([red, green, blue])[None].float()


def _pattern() -> torch.Tensor:
    return _pattern_at(*_centred_coordinates())


def _gaussian(sigma: float = 3.0, centre: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    u, v = _centred_coordinates()
    return _blob(u, v, centre[0], centre[1], sigma).float()[None, None].repeat(1, 3, 1, 1)


def _moments(image: torch.Tensor) -> tuple[float, float, float, float, float]:
    """Mass, centroid (x, y) and variances (x, y) of a non-negative ``[H, W]`` image, with x, y
    pixel-centre coordinates from the top-left corner."""
    image = image.double()
    y, x = torch.meshgrid(
        torch.arange(image.shape[0], dtype=torch.float64) + 0.5,
        torch.arange(image.shape[1], dtype=torch.float64) + 0.5,
        indexing="ij",
    )
    mass = image.sum()
    cx, cy = (image * x).sum() / mass, (image * y).sum() / mass
    var_x = (image * (x - cx) ** 2).sum() / mass
    var_y = (image * (y - cy) ** 2).sum() / mass
    return float(mass), float(cx), float(cy), float(var_x), float(var_y)


def _luma(x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("c,nchw->nhw", LUMA_AXIS, x)


def _chroma(x: torch.Tensor) -> torch.Tensor:
    """The component of each pixel's colour orthogonal to the grey axis."""
    return x - _luma(x)[:, None] * LUMA_AXIS[None, :, None, None]


# ---- presets, buffers, p = 0 --------------------------------------------------------------------


def test_presets_are_the_official_ones():
    assert list(AUGPIPE_SPECS) == [
        "blit", "geom", "color", "filter", "noise", "cutout", "bg", "bgc", "bgcf", "bgcfn",
        "bgcfnc",
    ]  # fmt: skip
    assert AUGPIPE_SPECS["blit"] == dict(xflip=1, rotate90=1, xint=1)
    assert AUGPIPE_SPECS["bgc"] == dict(
        xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
        brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1,
    )  # fmt: skip
    assert set(AUGPIPE_SPECS["bgcfnc"]) == set(AUGPIPE_SPECS["bgc"]) | {
        "imgfilter",
        "noise",
        "cutout",
    }
    pipe = make_augment_pipe("bgcf", rotate_max=0.5)
    assert (pipe.xflip, pipe.imgfilter, pipe.noise, pipe.rotate_max) == (1, 1, 0, 0.5)
    assert float(pipe.p) == 1  # the official class starts at p = 1 too
    assert "xflip" in repr(pipe) and "noise" not in repr(pipe)
    with pytest.raises(StyleGANError, match="unknown augmentation pipeline 'bgcx'.*bgc"):
        make_augment_pipe("bgcx")


def test_buffers_carry_the_official_names_and_filters():
    pipe = make_augment_pipe("bgcfnc")
    assert set(pipe.state_dict()) == {"p", "Hz_geom", "Hz_fbank"}
    assert pipe.Hz_geom.shape == (12,) and pipe.Hz_fbank.shape == (4, 43)
    # sym6 is orthogonal: its taps (scaled back to unit energy) are orthonormal to their own
    # even shifts, which is why 2x up- then downsampling with it gives the image back.
    taps = pipe.Hz_geom.double() * math.sqrt(2)
    autocorrelation = np.correlate(taps.numpy(), taps.numpy(), mode="full")[taps.numel() - 1 :]
    np.testing.assert_allclose(autocorrelation[::2], [1, 0, 0, 0, 0, 0], atol=1e-6)
    # The filter bank splits the spectrum: its rows sum to a unit impulse.
    impulse = torch.zeros(43)
    impulse[21] = 1
    torch.testing.assert_close(pipe.Hz_fbank.sum(dim=0), impulse, atol=1e-6, rtol=0)
    # An official snapshot's augment_pipe state maps by name.
    official = AugmentPipe(xflip=1).state_dict()
    official["p"] = torch.tensor(0.37)
    pipe.load_state_dict(official)
    assert float(pipe.p) == pytest.approx(0.37)
    with pytest.raises(StyleGANError, match="imgfilter_bands"):
        AugmentPipe(imgfilter=1, imgfilter_bands=[1, 1, 1])


@pytest.mark.parametrize("name", list(AUGPIPE_SPECS))
def test_p_zero_is_the_identity(name):
    torch.manual_seed(0)
    pipe = make_augment_pipe(name)
    pipe.p.fill_(0)
    for x in (torch.randn(3, 3, SIZE, SIZE), torch.randn(2, 1, SIZE, SIZE)):
        assert torch.equal(pipe(x), x)


def test_bad_inputs_are_explained():
    with pytest.raises(StyleGANError, match=r"\[N, C, H, W\]"):
        _pipe(xflip=1)(torch.zeros(3, SIZE, SIZE))
    with pytest.raises(StyleGANError, match="RGB"):
        _pipe(brightness=1)(torch.zeros(1, 2, SIZE, SIZE))
    with pytest.raises(StyleGANError, match="larger than"):
        _pipe(imgfilter=1)(torch.zeros(1, 3, 16, 16), debug_percentile=0.9)


# ---- pixel blitting -----------------------------------------------------------------------------


def test_xflip_mirrors():
    x = _pattern()
    assert torch.equal(_pipe(xflip=1)(x, debug_percentile=0.25), x)  # floor(0.5) = 0: no flip
    flipped = _pipe(xflip=1)(x, debug_percentile=0.75)  # floor(1.5) = 1: flip
    # As in the official code the blit goes through the sym6 resampling, which is not
    # symmetric: the mirror is exact only up to the filter's phase (a few % on smooth images).
    torch.testing.assert_close(flipped, x.flip(3), atol=0.03, rtol=0)
    assert (flipped - x).abs().max() > 0.5


@pytest.mark.parametrize("debug_percentile,quarter_turns", [(0.3, 1), (0.6, 2), (0.9, 3)])
def test_rotate90_turns_by_quarters(debug_percentile, quarter_turns):
    x = _pattern()
    rotated = _pipe(rotate90=1)(x, debug_percentile=debug_percentile)
    want = torch.rot90(x, quarter_turns, dims=[2, 3])
    torch.testing.assert_close(rotated, want, atol=0.04, rtol=0)
    assert (rotated - x).abs().max() > 0.5


@pytest.mark.parametrize("debug_percentile", [0.9, 0.1, 0.7])
def test_xint_is_an_exact_integer_shift_with_reflected_border(debug_percentile):
    torch.manual_seed(1)
    height, width = SIZE, 24
    x = torch.randn(2, 3, height, width)  # white noise: any blur would show
    shifted = _pipe(xint=1)(x, debug_percentile=debug_percentile)
    t = (debug_percentile * 2 - 1) * 0.125  # of the image size, the content moving right/down
    dx, dy = round(t * width), round(t * height)
    assert dx != 0 and dy != 0
    if dx > 0:
        want = F.pad(x, [dx, 0, dy, 0], mode="reflect")[..., :height, :width]
    else:
        want = F.pad(x, [0, -dx, 0, -dy], mode="reflect")[..., -height:, -width:]
    torch.testing.assert_close(shifted, want, atol=3e-5, rtol=0)


# ---- general geometric transforms ---------------------------------------------------------------


@pytest.mark.parametrize("debug_percentile", [0.8, 0.15])
def test_isotropic_scaling_scales_size_and_area(debug_percentile):
    blob = _gaussian(sigma=3)
    s = 2 ** (_erfinv(debug_percentile * 2 - 1) * 0.2)
    scaled = _pipe(scale=1)(blob, debug_percentile=debug_percentile)
    mass, cx, cy, var_x, var_y = _moments(scaled[0, 0])
    mass0, cx0, cy0, var_x0, var_y0 = _moments(blob[0, 0])
    assert mass / mass0 == pytest.approx(s**2, rel=0.01)  # area
    assert math.sqrt(var_x / var_x0) == pytest.approx(s, rel=0.01)  # radius
    assert math.sqrt(var_y / var_y0) == pytest.approx(s, rel=0.01)
    assert (cx, cy) == pytest.approx((cx0, cy0), abs=0.01)  # about the centre


def test_anisotropic_scaling_stretches_x_and_squeezes_y():
    blob = _gaussian(sigma=3)
    s = 2 ** (_erfinv(0.9 * 2 - 1) * 0.2)
    stretched = _pipe(aniso=1)(blob, debug_percentile=0.9)
    mass, _, _, var_x, var_y = _moments(stretched[0, 0])
    mass0, _, _, var_x0, var_y0 = _moments(blob[0, 0])
    assert math.sqrt(var_x / var_x0) == pytest.approx(s, rel=0.01)
    assert math.sqrt(var_y / var_y0) == pytest.approx(1 / s, rel=0.01)
    assert mass == pytest.approx(mass0, rel=0.01)  # area kept


@pytest.mark.parametrize("debug_percentile", [0.625, 0.75, 0.4])
def test_rotation_rotates_the_pattern(debug_percentile):
    theta = (debug_percentile * 2 - 1) * math.pi  # the pre-rotation; the post one is 0
    rotated = _pipe(rotate=1)(_pattern(), debug_percentile=debug_percentile)
    # Output pixel (u, v) reads the input at R(theta) (u, v): the content turns by theta
    # counter-clockwise as displayed (x right, y down), the direction of torch.rot90.
    u, v = _centred_coordinates()
    c, s = math.cos(theta), math.sin(theta)
    want = _pattern_at(c * u - s * v, s * u + c * v)
    inside = (u**2 + v**2) < 12**2  # the corners read reflected content
    assert (rotated - want)[..., inside].abs().max() < 0.02
    assert (rotated - _pattern())[..., inside].abs().max() > 0.3
    if debug_percentile == 0.75:
        torch.testing.assert_close(rotated, torch.rot90(_pattern(), 1, [2, 3]), atol=0.04, rtol=0)


def test_fractional_translation_moves_the_centre_of_mass():
    blob = _gaussian(sigma=3)
    moved = _pipe(xfrac=1)(blob, debug_percentile=0.7)
    shift = _erfinv(0.7 * 2 - 1) * 0.125 * SIZE  # about 1.48 px, right and down
    _, cx, cy, var_x, var_y = _moments(moved[0, 0])
    _, cx0, cy0, var_x0, var_y0 = _moments(blob[0, 0])
    assert cx - cx0 == pytest.approx(shift, abs=0.01)
    assert cy - cy0 == pytest.approx(shift, abs=0.01)
    assert var_x == pytest.approx(var_x0, rel=0.01)  # not blurred


def test_each_image_draws_its_own_transform():
    torch.manual_seed(0)
    x = _pattern().repeat(16, 1, 1, 1)
    flipped = _pipe(xflip=1)(x)  # at p = 1 half the images flip (i = 0 or 1, uniformly)
    # (The batch is resampled as a whole, so the unflipped images pass through the identity
    # transform's resampling: equal to about 1e-5.)
    mirrored = [bool((flipped[n] - x[n].flip(2)).abs().max() < 0.05) for n in range(16)]
    kept = [bool((flipped[n] - x[n]).abs().max() < 1e-4) for n in range(16)]
    assert 0 < sum(mirrored) < 16 and all(m != k for m, k in zip(mirrored, kept))


def test_random_draws_do_not_depend_on_p():
    # Every parameter and every coin is drawn for every image whatever p is (NVIDIA's order),
    # so the RNG stream after the pipe, and the rest of training with it, does not depend on p.
    x = torch.randn(4, 3, SIZE, SIZE)
    after = []
    for p in (0.0, 0.4, 1.0):
        pipe = make_augment_pipe("bgcfnc")
        pipe.p.fill_(p)
        torch.manual_seed(11)
        pipe(x)
        after.append(torch.rand(3))
    assert torch.equal(after[0], after[1]) and torch.equal(after[0], after[2])


@pytest.mark.parametrize("p", [0.3, 0.7])
def test_probability_per_image(p):
    torch.manual_seed(0)
    n = 4000
    images = torch.zeros(n, 3, 2, 2)
    pipe = AugmentPipe(brightness=1)
    pipe.p.fill_(p)
    fired = (pipe(images)[:, 0, 0, 0] != 0).float().mean()
    assert float(fired) == pytest.approx(p, abs=0.03)
    # Rotation is split in two draws (before and after aniso) with P(either) = p.
    pipe = AugmentPipe(rotate=1)
    pipe.p.fill_(p)
    x = _pattern()[:, :, ::4, ::4].repeat(1000, 1, 1, 1).contiguous()
    rotated = (pipe(x) - x).flatten(1).abs().amax(dim=1) > 1e-3
    assert float(rotated.float().mean()) == pytest.approx(p, abs=0.05)


# ---- colour -------------------------------------------------------------------------------------


def test_brightness_adds_a_constant():
    x = _pattern()
    b = _erfinv(0.7 * 2 - 1) * 0.2
    torch.testing.assert_close(_pipe(brightness=1)(x, debug_percentile=0.7), x + b)


def test_contrast_scales_about_mid_grey():
    # As in the official code, contrast scales about 0 (mid-grey of images in [-1, 1]).
    x = _pattern() * 2 - 0.5
    c = 2 ** (_erfinv(0.7 * 2 - 1) * 0.5)
    torch.testing.assert_close(_pipe(contrast=1)(x, debug_percentile=0.7), x * c)


def test_lumaflip_negates_luma_and_keeps_chroma():
    x = _pattern()
    flipped = _pipe(lumaflip=1)(x, debug_percentile=0.9)
    torch.testing.assert_close(_luma(flipped), -_luma(x), atol=1e-5, rtol=0)
    torch.testing.assert_close(_chroma(flipped), _chroma(x), atol=1e-5, rtol=0)
    grey = _pattern()[:, :1]
    torch.testing.assert_close(_pipe(lumaflip=1)(grey, debug_percentile=0.9), -grey)


@pytest.mark.parametrize("debug_percentile", [0.625, 0.75, 0.2])
def test_hue_rotates_chroma_about_the_luma_axis(debug_percentile):
    x = _pattern()
    theta = (debug_percentile * 2 - 1) * math.pi
    hued = _pipe(hue=1)(x, debug_percentile=debug_percentile)
    torch.testing.assert_close(_luma(hued), _luma(x), atol=1e-5, rtol=0)
    before, after = _chroma(x), _chroma(hued)
    torch.testing.assert_close(after.norm(dim=1), before.norm(dim=1), atol=1e-5, rtol=0)
    # The angle between the chroma vectors is theta, right-handed about the luma axis.
    strong = before.norm(dim=1) > 0.1
    cos = (before * after).sum(dim=1)[strong] / before.norm(dim=1)[strong] ** 2
    sin = torch.einsum("c,nchw->nhw", LUMA_AXIS, torch.linalg.cross(before, after, dim=1))
    sin = sin[strong] / before.norm(dim=1)[strong] ** 2
    torch.testing.assert_close(cos, torch.full_like(cos, math.cos(theta)), atol=1e-4, rtol=0)
    torch.testing.assert_close(sin, torch.full_like(sin, math.sin(theta)), atol=1e-4, rtol=0)


def test_saturation_scales_chroma_and_keeps_luma():
    x = _pattern()
    s = 2 ** (_erfinv(0.7 * 2 - 1) * 1.0)
    saturated = _pipe(saturation=1)(x, debug_percentile=0.7)
    torch.testing.assert_close(_luma(saturated), _luma(x), atol=1e-5, rtol=0)
    torch.testing.assert_close(_chroma(saturated), _chroma(x) * s, atol=1e-5, rtol=0)
    grey = _pattern()[:, :1]  # hue and saturation leave grey images alone
    assert torch.equal(_pipe(hue=1, saturation=1)(grey, debug_percentile=0.7), grey)


# ---- image-space filtering and corruptions ------------------------------------------------------


def _high_frequency_share(x: torch.Tensor) -> float:
    """Share of the power above a quarter cycle per pixel (either axis)."""
    power = torch.fft.fft2(x).abs().square()
    frequency = torch.fft.fftfreq(x.shape[-1]).abs()
    high = (frequency[:, None] > 0.25) | (frequency[None, :] > 0.25)
    return float(power[..., high].sum() / power.sum())


def test_imgfilter_amplifies_the_chosen_band():
    torch.manual_seed(0)
    white = torch.randn(4, 3, SIZE, SIZE)
    before = _high_frequency_share(white)
    top = _pipe(imgfilter=1, imgfilter_bands=[0, 0, 0, 1])(white, debug_percentile=0.9)
    bottom = _pipe(imgfilter=1, imgfilter_bands=[1, 0, 0, 0])(white, debug_percentile=0.9)
    assert _high_frequency_share(top) > before + 0.1
    assert _high_frequency_share(bottom) < before - 0.1
    assert top.shape == white.shape


def test_noise_adds_gaussian_noise_of_the_given_std():
    torch.manual_seed(0)
    zeros = torch.zeros(64, 3, SIZE, SIZE)
    noisy = _pipe(noise=1)(zeros, debug_percentile=0.5)
    want = _erfinv(0.5) * 0.1  # every image at the same sigma
    assert float(noisy.std()) == pytest.approx(want, rel=0.02)
    assert float(noisy.mean()) == pytest.approx(0, abs=0.002)
    # Random mode: sigma = |N(0, 1)| * noise_std per image, so E[sigma] = 0.1 * sqrt(2 / pi).
    noisy = _pipe(noise=1, noise_std=0.2)(torch.zeros(2000, 1, 8, 8))
    assert float(noisy.std(dim=[1, 2, 3]).mean()) == pytest.approx(
        0.2 * math.sqrt(2 / math.pi), rel=0.05
    )


def test_cutout_zeroes_a_square_of_the_given_size():
    ones = torch.ones(1, 3, SIZE, SIZE)
    cut = _pipe(cutout=1)(ones, debug_percentile=0.5)  # centred, half the size
    want = torch.ones_like(ones)
    want[..., 8:24, 8:24] = 0
    assert torch.equal(cut, want)
    torch.manual_seed(0)
    cut = _pipe(cutout=1, cutout_size=0.25)(torch.ones(200, 1, SIZE, SIZE))
    holes = cut[:, 0] == 0
    rows, cols = holes.any(dim=2).sum(dim=1), holes.any(dim=1).sum(dim=1)
    assert torch.equal(holes.sum(dim=[1, 2]), rows * cols)  # a rectangle ...
    assert int(rows.max()) == int(cols.max()) == 8  # ... of 8 x 8 px unless clipped
    assert float((rows == 8).float().mean()) > 0.5


# ---- differentiability --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,shape",
    [
        (dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1), [2, 1, 8, 8]),
        (dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1), [2, 3, 4, 4]),
        (dict(imgfilter=1, noise=1, cutout=1), [1, 1, 22, 22]),  # the filter needs > 21 px
    ],
    ids=["geometric", "color", "filter-noise-cutout"],
)
def test_gradcheck_with_fixed_draws(kwargs, shape):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    pipe = _pipe(**kwargs).double()

    def augment(images: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(5)  # the same draws on every evaluation
        return pipe(images)

    assert not torch.equal(augment(x), x)
    assert torch.autograd.gradcheck(augment, (x,), eps=1e-6, atol=1e-5)
    if "rotate" in kwargs:  # R1 on augmented reals differentiates the gradient once more
        assert torch.autograd.gradgradcheck(augment, (x,), eps=1e-6, atol=1e-5)


def test_gradients_flow_through_bgc():
    torch.manual_seed(3)
    x = torch.randn(4, 3, SIZE, SIZE, requires_grad=True)
    pipe = make_augment_pipe("bgc")
    pipe.p.fill_(0.5)
    y = pipe(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    (y * torch.randn_like(y)).sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad.abs().sum(dim=[1, 2, 3]) > 0).all()


# ---- the adaptive controller --------------------------------------------------------------------


def test_controller_raises_p_while_d_overfits():
    pipe, ada = setup_augmentation("ada", "bgc")
    batch_size = 32
    step = batch_size * ada.interval / (500 * 1000)
    for adjustment in range(1, 4):
        for _ in range(ada.interval):
            ada.accumulate(torch.ones(batch_size, 1))  # D calls every real real
        result = ada.update(pipe, batch_size)
        assert result == AdaAdjustment(p=pytest.approx(adjustment * step), rt=1.0)
        assert float(pipe.p) == pytest.approx(adjustment * step)
    # Exactly on target: p stays.
    ada.accumulate(torch.tensor([1.0, 1.0, 1.0, -1.0, 0.0]))
    assert ada.update(pipe, batch_size).rt == pytest.approx(0.4)
    ada.accumulate(torch.tensor([1.0] * 8 + [-1.0] * 2))
    before = float(pipe.p)
    assert ada.update(pipe, batch_size) == (pytest.approx(before), pytest.approx(0.6))


def test_controller_lowers_p_and_stops_at_zero():
    pipe = make_augment_pipe("bgc")
    pipe.p.fill_(0.001)
    ada = AdaController(target=0.6, interval=4, speed_kimg=100)  # NVIDIA's speed on resume
    step = 64 * 4 / (100 * 1000)
    ada.accumulate(-torch.ones(64, 1))
    assert ada.update(pipe, 64).p == 0  # 0.001 - 0.00256, clamped
    for _ in range(3):
        ada.accumulate(-torch.ones(64))
        ada.update(pipe, 64)
        assert float(pipe.p) == 0
    ada.accumulate(torch.ones(64))
    assert ada.update(pipe, 64).p == pytest.approx(step)
    assert ada.update(pipe, 64) is None  # nothing measured: p stays
    assert float(pipe.p) == pytest.approx(step)
    pipe.p.fill_(0.99999)  # nothing caps p at 1 (the official loop only clamps at 0)
    ada.accumulate(torch.ones(64))
    assert ada.update(pipe, 64).p > 1


def test_controller_state_survives_a_resume():
    pipe, ada = setup_augmentation("ada", "bgc", p=0.2)
    ada.accumulate(torch.ones(16))
    ada.update(pipe, 16)
    ada.accumulate(torch.tensor([[1.0], [-1.0], [1.0]]))
    state = ada.state_dict()
    assert state["count"] == 3 and state["sign_sum"] == 1.0
    assert state["p"] == pytest.approx(0.2 + 16 * 4 / 500_000) and state["last_rt"] == 1.0

    resumed_pipe, resumed = setup_augmentation("ada", "bgc")
    resumed.load_state_dict(state, pipe=resumed_pipe)
    assert float(resumed_pipe.p) == pytest.approx(state["p"])
    assert (resumed.sign_sum, resumed.count, resumed.last_rt) == (1.0, 3, 1.0)
    # Both continue alike.
    for controller, p in ((ada, pipe), (resumed, resumed_pipe)):
        controller.accumulate(torch.ones(5))
        controller.update(p, 16)
    assert float(resumed_pipe.p) == float(pipe.p) and resumed.state_dict() == ada.state_dict()
    # The accumulated sum may be replaced (a distributed loop sums it over ranks).
    resumed.sign_sum, resumed.count = 10.0, 10
    assert resumed.update(resumed_pipe, 16).rt == 1.0


def test_invalid_controller_settings():
    for kwargs, match in (
        (dict(target=0.0), "target"),
        (dict(target=1.0), "target"),
        (dict(interval=0), "interval"),
        (dict(interval=2.5), "interval"),
        (dict(speed_kimg=0), "speed"),
    ):
        with pytest.raises(StyleGANError, match=match):
            AdaController(**kwargs)


def test_setup_options_follow_the_official_rules():
    assert AUG_MODES == ("noaug", "ada", "fixed")
    pipe, ada = setup_augmentation("ada", "bgc")
    assert float(pipe.p) == 0 and ada.target == 0.6 and ada.speed_kimg == 500
    pipe, ada = setup_augmentation("ada", "bg", target=0.7, p=0.25, speed_kimg=100, interval=2)
    assert float(pipe.p) == 0.25 and (ada.target, ada.speed_kimg, ada.interval) == (0.7, 100, 2)
    assert pipe.xflip == 1 and pipe.brightness == 0
    pipe, ada = setup_augmentation("fixed", "blit", p=0.3)
    assert float(pipe.p) == pytest.approx(0.3) and ada is None
    assert setup_augmentation("fixed", p=0.0) == (None, None)  # as official: no pipe at p = 0
    assert setup_augmentation("noaug") == (None, None)
    for kwargs, match in (
        (dict(aug="fixed"), "needs --p"),
        (dict(aug="fixed", p=-0.1), r"--p must lie in \[0, 1\]"),
        (dict(aug="ada", p=1.5), r"--p must lie in \[0, 1\]"),
        (dict(aug="ada", p=float("nan")), "--p must lie"),
        (dict(aug="ada", target=1.0), r"--target must lie in \(0, 1\)"),
        (dict(aug="ada", target=0.0), "--target must lie"),
        (dict(aug="fixed", p=0.5, target=0.6), "--target applies to --aug=ada only"),
        (dict(aug="noaug", target=0.6), "--target applies to --aug=ada only"),
        (dict(aug="noaug", p=0.2), "--p needs augmentation"),
        (dict(aug="sometimes"), "--aug must be one of noaug, ada, fixed"),
        (dict(aug="ada", augpipe="bgcx"), "unknown augmentation pipeline"),
    ):
        with pytest.raises(StyleGANError, match=match):
            setup_augmentation(**kwargs)
