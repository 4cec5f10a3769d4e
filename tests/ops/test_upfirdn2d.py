"""upfirdn2d: fast path against the literal reference, official conventions, gradients, errors."""

import itertools

import pytest
import torch

from stylegan.ops import upfirdn2d as U

FILTERS = {
    "identity": None,
    "sg2_2d": [1, 3, 3, 1],  # 2-D outer product, as the networks use it
    "sg2_separable": "sep",
    "odd_taps": [1, 2, 1],
    "asymmetric_2d": [[1.0, 2.0], [3.0, 5.0], [7.0, 11.0]],
    "long_separable": [1, 2, 3, 4, 5, 6, 7, 8],  # >= 8 taps: separable by default
}


def make_filter(name):
    spec = FILTERS[name]
    if spec == "sep":
        return U.setup_filter([1, 3, 3, 1], separable=True)
    return U.setup_filter(spec) if spec is not None else None


def test_setup_filter_matches_official_values():
    f = U.setup_filter([1, 3, 3, 1])
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    assert f.dtype == torch.float32 and f.shape == (4, 4)
    torch.testing.assert_close(f, torch.outer(taps, taps) / 64)
    torch.testing.assert_close(U.setup_filter([1, 3, 3, 1], separable=True), taps / 8)
    assert U.setup_filter(list(range(1, 9))).ndim == 1  # long filters default to separable
    # gain scales the 2-D response once: gain ** (ndim / 2) per stored tensor
    torch.testing.assert_close(U.setup_filter([1, 3, 3, 1], gain=4).sum(), torch.tensor(4.0))
    torch.testing.assert_close(
        U.setup_filter([1, 3, 3, 1], separable=True, gain=4).sum(), torch.tensor(2.0)
    )
    torch.testing.assert_close(
        U.setup_filter([[1, 2], [3, 4]], normalize=False, flip_filter=True),
        torch.tensor([[4.0, 3.0], [2.0, 1.0]]),
    )
    assert U.setup_filter(None).tolist() == [[1.0]]
    assert U.setup_filter(5, normalize=False).tolist() == [[25.0]]  # a scalar is one 1-D tap


def test_impulse_response_is_the_filter():
    """Orientation check independent of both implementations: convolution returns f itself."""
    f = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x = torch.zeros(1, 1, 1, 1)
    x[0, 0, 0, 0] = 1
    pad = [2, 2, 1, 1]  # [x0, x1, y0, y1] = fw-1, fh-1 so the full response fits
    for fn in (U.upfirdn2d, U.upfirdn2d_reference):
        torch.testing.assert_close(fn(x, f, padding=pad)[0, 0], f)
        torch.testing.assert_close(fn(x, f, padding=pad, flip_filter=True)[0, 0], f.flip([0, 1]))


@pytest.mark.parametrize("filter_name", list(FILTERS))
def test_fast_matches_reference_grid(filter_name):
    f = make_filter(filter_name)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 9, 6, generator=gen, dtype=torch.float64)  # odd, non-square
    cases = itertools.product(
        [1, 2, [2, 3]],  # up
        [1, 2, [3, 1]],  # down
        [0, 2, [1, -1], [3, 0, -1, 2]],  # padding
        [False, True],  # flip_filter
        [1, 2.5],  # gain
    )
    checked = 0
    for up, down, padding, flip, gain in cases:
        kwargs = dict(up=up, down=down, padding=padding, flip_filter=flip, gain=gain)
        try:
            expected = U.upfirdn2d_reference(x, f, **kwargs)
        except ValueError:  # padded image smaller than the filter: both must refuse
            with pytest.raises(ValueError):
                U.upfirdn2d(x, f, **kwargs)
            continue
        got = U.upfirdn2d(x, f, **kwargs)
        assert got.shape == expected.shape, kwargs
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12, msg=str(kwargs))
        checked += 1
    assert checked >= 100


@pytest.mark.parametrize("filter_name", ["sg2_2d", "sg2_separable", "odd_taps", "asymmetric_2d"])
def test_helpers_shapes_and_dc_gain(filter_name):
    f = make_filter(filter_name)
    x = torch.ones(1, 2, 8, 12, dtype=torch.float64)
    up = U.upsample2d(x, f)
    down = U.downsample2d(x, f)
    same = U.filter2d(x, f)
    assert up.shape == (1, 2, 16, 24)
    assert down.shape == (1, 2, 4, 6)
    assert same.shape == x.shape
    if filter_name == "asymmetric_2d":
        return  # its polyphase components differ, so DC is not kept when upsampling
    # Away from the borders a constant image stays constant (unit DC gain, up^2 for upsample).
    for y in (up, down, same):
        torch.testing.assert_close(y[..., 3:-3, 3:-3], torch.ones_like(y[..., 3:-3, 3:-3]))
    # Extra padding is added on top of the default and negative values crop.
    assert U.upsample2d(x, f, padding=[1, -1, 2, 0]).shape == (1, 2, 18, 24)
    assert U.downsample2d(x, f, down=[2, 4], padding=2).shape == (1, 2, 3, 8)
    assert U.upsample2d(x, f, up=[3, 1]).shape == (1, 2, 8, 36)


@pytest.mark.parametrize("fn", ["upsample2d", "downsample2d", "filter2d"])
def test_helpers_match_reference(fn):
    f = U.setup_filter([1, 3, 3, 1])
    x = torch.randn(2, 3, 7, 10, dtype=torch.float64)
    for padding, gain, flip in itertools.product([0, 1, [1, -1], [2, 0, 1, 3]], [1, 3], [0, 1]):
        got = getattr(U, fn)(x, f, padding=padding, gain=gain, flip_filter=bool(flip))
        # Re-derive the official padding rule by hand and run the reference.
        px0, px1, py0, py1 = U._parse_padding(padding)
        if fn == "upsample2d":
            pads, kw = [px0 + 2, px1 + 1, py0 + 2, py1 + 1], dict(up=2, gain=gain * 4)
        elif fn == "downsample2d":
            pads, kw = [px0 + 1, px1 + 1, py0 + 1, py1 + 1], dict(down=2, gain=gain)
        else:
            pads, kw = [px0 + 2, px1 + 1, py0 + 2, py1 + 1], dict(gain=gain)
        expected = U.upfirdn2d_reference(x, f, padding=pads, flip_filter=bool(flip), **kw)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_float32_in_float32_out_and_filter_device_dtype_follow_x():
    f = U.setup_filter([1, 3, 3, 1])
    x = torch.randn(1, 4, 8, 8)
    assert U.upsample2d(x, f).dtype == torch.float32
    assert U.upsample2d(x.double(), f).dtype == torch.float64
    torch.testing.assert_close(
        U.upsample2d(x, f), U.upfirdn2d_reference(x, f, up=2, padding=[2, 1, 2, 1], gain=4)
    )


@pytest.mark.parametrize(
    "kwargs",
    [dict(up=2, padding=[2, 1, 2, 1]), dict(down=2, padding=1), dict(up=[1, 2], down=[2, 1])],
)
@pytest.mark.parametrize("separable", [False, True])
def test_gradients(kwargs, separable):
    f = U.setup_filter([1, 3, 3, 1], separable=separable)
    x = torch.randn(1, 2, 5, 4, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(lambda t: U.upfirdn2d(t, f, gain=2, **kwargs), (x,))
    # Second order too: R1 and path-length regularisation differentiate through it twice.
    torch.autograd.gradgradcheck(lambda t: U.upfirdn2d(t, f, gain=2, **kwargs), (x,))


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda x, f: U.upfirdn2d(x[0], f), ValueError),  # 3-D input
        (lambda x, f: U.upfirdn2d(x, f[None]), ValueError),  # 3-D filter
        (lambda x, f: U.upfirdn2d(x, f.tolist()), TypeError),  # not a tensor
        (lambda x, f: U.upfirdn2d(x, f.clone().requires_grad_()), ValueError),
        (lambda x, f: U.upfirdn2d(x, f, up=0), ValueError),
        (lambda x, f: U.upfirdn2d(x, f, down=[2, 2, 2]), ValueError),
        (lambda x, f: U.upfirdn2d(x, f, padding=[1, 2, 3]), ValueError),
        (lambda x, f: U.upfirdn2d(x, f, padding=-2), ValueError),  # smaller than the filter
        (lambda x, f: U.setup_filter([[[1.0]]]), ValueError),
        (lambda x, f: U.setup_filter([[1.0, 2.0]], separable=True), ValueError),
    ],
)
def test_bad_inputs_raise(call, error):
    with pytest.raises(error):
        call(torch.randn(1, 1, 4, 4), U.setup_filter([1, 3, 3, 1]))
