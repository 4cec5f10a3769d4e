"""DiffAugment: each policy does what the paper says, per image, differentiably."""

from __future__ import annotations

import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.training.diffaugment import (
    POLICIES,
    DiffAugment,
    cutout_mask,
    diff_augment,
    parse_policy,
    rand_brightness,
    rand_contrast,
    rand_cutout,
    rand_saturation,
    rand_translation,
    translate,
)


def _shifted(x: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """``out[i, j] = x[i + rows, j + cols]``, zero outside: written out the slow, obvious way."""
    out = torch.zeros_like(x)
    height, width = x.shape[-2:]
    for i in range(height):
        for j in range(width):
            if 0 <= i + rows < height and 0 <= j + cols < width:
                out[..., i, j] = x[..., i + rows, j + cols]
    return out


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_shapes_and_dtypes_are_kept(policy):
    torch.manual_seed(0)
    for x in (torch.randn(3, 3, 16, 12), torch.randn(2, 1, 8, 8, dtype=torch.float64)):
        y = diff_augment(x, policy)
        assert y.shape == x.shape and y.dtype == x.dtype and y.is_contiguous()
    channels_last = torch.randn(2, 16, 12, 3)
    assert diff_augment(channels_last, policy, channels_first=False).shape == (2, 16, 12, 3)


def test_translation_is_an_exact_integer_shift_with_zero_fill():
    x = torch.arange(2 * 3 * 6 * 5, dtype=torch.float32).reshape(2, 3, 6, 5) + 1
    out = translate(x, torch.tensor([2, -1]), torch.tensor([-3, 1]))
    torch.testing.assert_close(out[0], _shifted(x[0], 2, -3), atol=0, rtol=0)
    torch.testing.assert_close(out[1], _shifted(x[1], -1, 1), atol=0, rtol=0)
    # The random version draws the row shifts, then the column shifts (the reference's order),
    # each within round(size / 8).
    x = torch.randn(64, 3, 16, 24) + 5  # no zeros of its own
    torch.manual_seed(7)
    y = rand_translation(x)
    torch.manual_seed(7)
    rows = torch.randint(-2, 3, size=[64, 1, 1])
    cols = torch.randint(-3, 4, size=[64, 1, 1])
    for n in range(0, 64, 7):
        torch.testing.assert_close(y[n], _shifted(x[n], int(rows[n]), int(cols[n])), atol=0, rtol=0)
    zero_rows = (y[:, 0] == 0).all(dim=2).sum(dim=1)
    zero_cols = (y[:, 0] == 0).all(dim=1).sum(dim=1)
    assert torch.equal(zero_rows, rows.abs().flatten()) and torch.equal(
        zero_cols, cols.abs().flatten()
    )
    assert int(zero_rows.max()) == 2 and int(zero_cols.max()) == 3  # 1/8 of 16 and of 24


def test_cutout_zeroes_a_square_of_half_the_size():
    x = torch.ones(2, 3, 16, 16)
    mask = cutout_mask(x, torch.tensor([8, 0]), torch.tensor([8, 15]))
    want = torch.ones(2, 1, 16, 16)
    want[0, :, 4:12, 4:12] = 0  # centred: 8 x 8 px
    want[1, :, 0:4, 11:16] = 0  # clipped at the corner
    assert torch.equal(mask, want)
    # Random centres: on average the expected clipped fraction, every channel alike.
    torch.manual_seed(0)
    cut = rand_cutout(torch.ones(4000, 3, 16, 16))
    assert torch.equal(cut[:, 0], cut[:, 2])
    offsets = torch.arange(17)  # an even square's centre ranges over 0..16
    covered = ((offsets + 3).clamp(max=15) - (offsets - 4).clamp(min=0) + 1).float().mean()
    expected = float(covered) ** 2 / 256
    assert float((cut == 0).float().mean()) == pytest.approx(expected, rel=0.03)
    assert int((cut[:, 0] == 0).sum(dim=[1, 2]).max()) == 64  # a quarter of the image at most


def test_color_ranges():
    torch.manual_seed(0)
    n = 2000
    # Brightness: + U(-0.5, 0.5), one value per image.
    moved = rand_brightness(torch.zeros(n, 3, 2, 2))
    assert (moved == moved[:, :1, :1, :1]).all()
    assert float(moved.min()) >= -0.5 and float(moved.max()) <= 0.5
    assert float(moved.std()) == pytest.approx(1 / 12**0.5, rel=0.05)
    # Saturation: x U(0, 2) of the deviation from each pixel's channel mean, which it keeps.
    x = torch.randn(n, 3, 2, 2)
    y = rand_saturation(x)
    torch.testing.assert_close(y.mean(dim=1), x.mean(dim=1))
    factor = ((y - y.mean(1, keepdim=True)) / (x - x.mean(1, keepdim=True)))[:, 0, 0, 0]
    assert float(factor.min()) >= 0 and float(factor.max()) <= 2 and float(factor.std()) > 0.5
    # Contrast: x U(0.5, 1.5) of the deviation from the image's mean, which it keeps.
    y = rand_contrast(x)
    torch.testing.assert_close(y.mean(dim=[1, 2, 3]), x.mean(dim=[1, 2, 3]))
    factor = (y - y.mean([1, 2, 3], keepdim=True)) / (x - x.mean([1, 2, 3], keepdim=True))
    factor = factor[:, 0, 0, 0]
    assert float(factor.min()) >= 0.5 and float(factor.max()) <= 1.5
    assert float(factor.mean()) == pytest.approx(1.0, abs=0.03)
    # The whole colour policy on zeros: only the brightness moves anything.
    colour = diff_augment(torch.zeros(n, 3, 4, 4), "color")
    assert float(colour.min()) >= -0.5 and float(colour.max()) <= 0.5


def test_gradients_flow():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    y = diff_augment(x)
    (y * torch.randn_like(y)).sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad.abs().sum(dim=[1, 2, 3]) > 0).all()

    torch.manual_seed(1)
    small = torch.randn(2, 3, 5, 5, dtype=torch.float64, requires_grad=True)

    def augment(images: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(3)  # the same draws on every evaluation
        return diff_augment(images, "color,translation,cutout")

    assert torch.autograd.gradcheck(augment, (small,), eps=1e-6, atol=1e-6)


def test_policies_and_module():
    assert POLICIES == ("color", "translation", "cutout")
    assert parse_policy(" color, cutout ") == ["color", "cutout"]
    for bad in ("colour", "", "color,,zoom"):
        with pytest.raises(StyleGANError, match="DiffAugment policy"):
            parse_policy(bad)
    module = DiffAugment("translation")
    assert module.policy == "translation" and "translation" in repr(module)
    assert not hasattr(module, "p")  # the training loop tells it from an ADA pipe by this
    with pytest.raises(StyleGANError, match="DiffAugment policy"):
        DiffAugment("colour")
    x = torch.randn(2, 3, 8, 8)
    assert diff_augment(x, "") is x  # no policy, no augmentation (as the reference)
    torch.manual_seed(1)
    a = module(x)
    torch.manual_seed(1)
    assert torch.equal(a, diff_augment(x, "translation"))
    with pytest.raises(StyleGANError, match=r"\[N, C, H, W\]"):
        diff_augment(torch.zeros(3, 8, 8))
