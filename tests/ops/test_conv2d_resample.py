"""conv2d_resample: every fast route against the zero-insertion reference, shapes, gradients."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from stylegan.ops import upfirdn2d
from stylegan.ops.conv2d_resample import conv2d_resample, conv2d_resample_reference

FILTERS = {
    "none": None,
    "sg2": upfirdn2d.setup_filter([1, 3, 3, 1]),
    "odd_separable": upfirdn2d.setup_filter([1, 2, 1], separable=True),
}


@pytest.mark.parametrize("filter_name", list(FILTERS))
@pytest.mark.parametrize("kernel", [1, 3, 4])
def test_fast_matches_reference_grid(filter_name, kernel):
    f = FILTERS[filter_name]
    x = torch.randn(2, 4, 9, 7, dtype=torch.float64)  # odd, non-square
    checked = 0
    for up, down, padding, groups, flip_weight, flip_filter in itertools.product(
        [1, 2, 3], [1, 2], [0, 1, [2, 0, 1, -1]], [1, 2], [True, False], [False, True]
    ):
        if up > 1 and down > 1 and padding != 0:
            continue  # covered by padding 0; keeps the grid small
        w = torch.randn(6, 4 // groups, kernel, kernel, dtype=torch.float64)
        kwargs = dict(
            f=f, up=up, down=down, padding=padding, groups=groups,
            flip_weight=flip_weight, flip_filter=flip_filter,
        )  # fmt: skip
        try:
            expected = conv2d_resample_reference(x, w, **kwargs)
        except (ValueError, RuntimeError):  # image smaller than filter or kernel: both refuse
            with pytest.raises((ValueError, RuntimeError)):
                conv2d_resample(x, w, **kwargs)
            continue
        got = conv2d_resample(x, w, **kwargs)
        assert got.shape == expected.shape, kwargs
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10, msg=str(kwargs))
        checked += 1
    assert checked >= 60


def test_flip_weight_semantics_without_resampling():
    x = torch.randn(2, 3, 6, 5)
    w = torch.randn(4, 3, 3, 3)
    torch.testing.assert_close(conv2d_resample(x, w, padding=1), F.conv2d(x, w, padding=1))
    torch.testing.assert_close(
        conv2d_resample(x, w, padding=1, flip_weight=False), F.conv2d(x, w.flip([2, 3]), padding=1)
    )
    # Asymmetric padding takes the generic route and still matches an explicit pad.
    torch.testing.assert_close(
        conv2d_resample(x, w, padding=[2, 0, 1, 1]), F.conv2d(F.pad(x, [2, 0, 1, 1]), w)
    )


def test_network_shapes():
    """The shapes the StyleGAN2 layers rely on: 3x3 up-conv doubles, down-conv halves."""
    f = upfirdn2d.setup_filter([1, 3, 3, 1])
    x = torch.randn(2, 8, 8, 8)
    w3 = torch.randn(5, 8, 3, 3)
    w1 = torch.randn(5, 8, 1, 1)
    assert conv2d_resample(x, w3, f=f, up=2, padding=1, flip_weight=False).shape == (2, 5, 16, 16)
    assert conv2d_resample(x, w3, f=f, down=2, padding=1).shape == (2, 5, 4, 4)
    assert conv2d_resample(x, w1, f=f, down=2).shape == (2, 5, 4, 4)
    assert conv2d_resample(x, w1, f=f, up=2).shape == (2, 5, 16, 16)
    assert conv2d_resample(x, w3, padding=1).shape == (2, 5, 8, 8)


def test_float32_close_to_float64():
    f = upfirdn2d.setup_filter([1, 3, 3, 1])
    x = torch.randn(2, 16, 8, 8, dtype=torch.float64)
    w = torch.randn(16, 16, 3, 3, dtype=torch.float64)
    for kwargs in (dict(up=2, padding=1, flip_weight=False), dict(down=2, padding=1)):
        exact = conv2d_resample(x, w, f=f, **kwargs)
        single = conv2d_resample(x.float(), w.float(), f=f, **kwargs)
        torch.testing.assert_close(single.double(), exact, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(up=2, padding=1, flip_weight=False),
        dict(down=2, padding=1),
        dict(up=2, groups=2),
        dict(down=2),  # 1x1 kernel routes are exercised with kernel 1 below
    ],
)
@pytest.mark.parametrize("kernel", [1, 3])
def test_gradients(kwargs, kernel):
    f = upfirdn2d.setup_filter([1, 3, 3, 1], device="cpu").double()
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 2 // kwargs.get("groups", 1), kernel, kernel, dtype=torch.float64)
    w.requires_grad_()
    fn = lambda x, w: conv2d_resample(x, w, f=f, **kwargs)  # noqa: E731
    torch.autograd.gradcheck(fn, (x, w))
    torch.autograd.gradgradcheck(fn, (x, w))


@pytest.mark.parametrize(
    "call",
    [
        lambda x, w: conv2d_resample(x, w.double()),  # dtype mismatch
        lambda x, w: conv2d_resample(x[0], w),  # 3-D input
        lambda x, w: conv2d_resample(x, w[0]),  # 3-D weight
        lambda x, w: conv2d_resample(x, w, groups=2),  # channels not divisible that way
        lambda x, w: conv2d_resample(x, w, up=0),
        lambda x, w: conv2d_resample(x, w, down=2.0),
        lambda x, w: conv2d_resample(x, w, f=torch.ones(1, 1, 1), up=2),
    ],
)
def test_bad_inputs_raise(call):
    with pytest.raises(ValueError):
        call(torch.randn(1, 3, 8, 8), torch.randn(4, 3, 3, 3))


@pytest.mark.parametrize(
    "kwargs", [dict(up=2, padding=1, flip_weight=False), dict(down=2, padding=1), dict(padding=1)]
)
def test_memory_layout_does_not_change_values(kwargs):
    """On CPU the convs run in channels_last; NCHW and NHWC inputs give the same values."""
    f = upfirdn2d.setup_filter([1, 3, 3, 1])
    x = torch.randn(2, 8, 6, 7, dtype=torch.float64)
    w = torch.randn(4, 8, 3, 3, dtype=torch.float64)
    exact = conv2d_resample_reference(x, w, f=f, **kwargs)
    for layout in (torch.contiguous_format, torch.channels_last):
        x32 = x.float().contiguous(memory_format=layout)
        got = conv2d_resample(x32, w.float(), f=f, **kwargs)
        torch.testing.assert_close(got.double(), exact, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(got.contiguous().view(-1).double(), exact.reshape(-1),
                                   rtol=1e-5, atol=1e-5)  # fmt: skip
