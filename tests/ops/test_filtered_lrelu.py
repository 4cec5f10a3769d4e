"""filtered_lrelu: fast path against the literal reference, StyleGAN3 layer shapes, gradients,
dtypes and errors. Agreement with NVIDIA's own reference is checked in
``benchmarks/filtered_lrelu.py`` (and, where present, against a stored fixture below)."""

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan.ops import filtered_lrelu as FL
from stylegan.ops import upfirdn2d as U
from stylegan.ops.filtered_lrelu import filtered_lrelu, filtered_lrelu_reference

FIXTURE = Path(__file__).parents[1] / "fixtures" / "official_ops" / "filtered_lrelu.npz"


def make_filter(kind, taps, gen):
    """``None``, a separable 1-D filter, or a non-separable (and non-symmetric) 2-D one."""
    if kind == "none":
        return None
    if kind == "sep":
        return U.setup_filter(torch.rand(taps, generator=gen) + 0.1, separable=True)
    return U.setup_filter(torch.rand(taps, taps + 1, generator=gen) + 0.1)


def assert_match(x, tol, **kwargs):
    """Both implementations (the no-grad CPU path and the autograd one) against the reference."""
    expected = filtered_lrelu_reference(x, **kwargs)
    got = filtered_lrelu(x, **kwargs)  # no grad needed: the blocked CPU path
    assert got.shape == expected.shape and got.dtype == x.dtype, kwargs
    torch.testing.assert_close(got, expected, rtol=tol, atol=tol, msg=str(kwargs))
    got = filtered_lrelu(x.detach().requires_grad_(), **kwargs)  # the autograd path
    torch.testing.assert_close(got.detach(), expected, rtol=tol, atol=tol, msg=str(kwargs))


@pytest.mark.parametrize("up", [1, 2, 4])
@pytest.mark.parametrize("down", [1, 2])
@pytest.mark.parametrize("kind", ["none", "sep", "2d"])
def test_fast_matches_reference_grid(up, down, kind):
    gen = torch.Generator().manual_seed(100 * up + 10 * down + len(kind))
    fu = make_filter(kind, 3 * up if up > 1 else 3, gen)
    fd = make_filter(kind, 3 * down if down > 1 else 2, gen)
    x = torch.randn(2, 3, 7, 5, generator=gen, dtype=torch.float64)  # odd, non-square
    b = torch.randn(3, generator=gen, dtype=torch.float64)
    cases = itertools.product(
        [None, b],  # bias
        [5, [4, 1], [6, 3, -1, 7]],  # padding: int, [x, y], asymmetric with a crop
        [None, 0.4],  # clamp
        [False, True],  # flip_filter
        [(np.sqrt(2), 0.2), (1.0, 1.0), (0.7, 0.0)],  # (gain, slope): lrelu, linear (ToRGB), relu
    )
    for bias, padding, clamp, flip, (gain, slope) in cases:
        kwargs = dict(fu=fu, fd=fd, b=bias, up=up, down=down, padding=padding, gain=gain)
        kwargs.update(slope=slope, clamp=clamp, flip_filter=flip)
        assert_match(x, 1e-12, **kwargs)


def test_mixed_filters_and_down_4():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, 6, 9, generator=gen, dtype=torch.float64)
    b = torch.randn(2, generator=gen, dtype=torch.float64)
    kinds = ["sep", "2d", "none"]
    for ku, kd, up, down in itertools.product(kinds, kinds, [1, 2], [1, 4]):
        fu, fd = make_filter(ku, 4, gen), make_filter(kd, 5, gen)
        assert_match(x, 1e-12, fu=fu, fd=fd, b=b, up=up, down=down, padding=[5, 4, 3, 6])


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_channel_blocks_batch_and_margins(monkeypatch, layout):
    """Many small channel blocks (batch folded into channels), inputs in either layout, and
    paddings that need leading zeros (p0 > K - 1), crops, no fu, no fd."""
    monkeypatch.setattr(FL, "_BLOCK_BYTES", 1)  # the smallest blocks: 16 channels per conv
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(3, 21, 6, 7, generator=gen, dtype=torch.float64)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    b = torch.randn(21, generator=gen, dtype=torch.float64)
    sep = make_filter("sep", 4, gen)
    two_d = make_filter("2d", 3, gen)
    cases = [
        dict(fu=sep, fd=sep, up=2, down=2, padding=[9, 1, 7, 0]),  # leading zeros
        dict(fu=sep, fd=two_d, up=4, down=2, padding=[-3, -5, 2, -4]),  # crops
        dict(fu=None, fd=sep, up=1, down=2, padding=[5, -1, 0, 3]),  # no fu: pad/crop only
        dict(fu=sep, fd=None, up=2, down=2, padding=[2, 3, 4, 1]),  # no fd: subsample
        dict(fu=None, fd=None, up=1, down=1, padding=[-1, 2, 1, 0]),
    ]
    for kwargs in cases:
        for flip in (False, True):
            assert_match(x, 1e-12, b=b, flip_filter=flip, clamp=0.7, **kwargs)


def stylegan3_filter(numtaps, cutoff, width, fs, radial):
    """The official ``SynthesisLayer.design_lowpass_filter``, re-derived for the test."""
    signal = pytest.importorskip("scipy.signal")
    special = pytest.importorskip("scipy.special")
    if not radial:
        return torch.as_tensor(
            signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs), dtype=torch.float32
        )
    t = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(t, t))
    f = special.j1(2 * cutoff * (np.pi * r)) / (np.pi * r)
    beta = signal.kaiser_beta(signal.kaiser_atten(numtaps, width / (fs / 2)))
    w = np.kaiser(numtaps, beta)
    f *= np.outer(w, w)
    return torch.as_tensor(f / f.sum(), dtype=torch.float32)


# (in_size incl. conv padding, up, down, up taps, down taps, padding, radial down filter)
SG3_LAYERS = [
    (38, 2, 2, 12, 12, [10, 9, 10, 9], False),  # T, 64 px, a middle layer
    (38, 4, 2, 24, 12, [21, 19, 21, 19], False),  # T, a layer doubling the sampling rate
    (36, 2, 2, 12, 12, [10, 10, 10, 10], True),  # R: radial (2-D) down filter, 1x1 conv
]


@pytest.mark.parametrize("layer", SG3_LAYERS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stylegan3_layer_shapes(layer, dtype):
    size, up, down, up_taps, down_taps, padding, radial = layer
    fu = stylegan3_filter(up_taps, 5.0, 4.0, 32 * up, radial=False)
    fd = stylegan3_filter(down_taps, 8.0, 5.0, 32 * up, radial=radial)
    gen = torch.Generator().manual_seed(size)
    x = torch.randn(2, 8, size, size, generator=gen).to(dtype) * 3
    b = torch.randn(8, generator=gen).to(dtype)
    kwargs = dict(fu=fu, fd=fd, b=b, up=up, down=down, padding=padding, clamp=4.0)
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    assert_match(x, tol, **kwargs)
    # channels_last inputs give the same numbers
    got = filtered_lrelu(x.contiguous(memory_format=torch.channels_last), **kwargs)
    torch.testing.assert_close(got, filtered_lrelu(x, **kwargs), rtol=tol, atol=tol)


def test_orientation_impulse_response():
    """With slope 1 and gain 1 the op is linear: a unit impulse returns up^2 * (fu conv fd)."""
    fu = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])
    fd = torch.tensor([[1.0, -1.0, 0.5]])
    x = torch.zeros(1, 1, 1, 1, dtype=torch.float64)
    x[..., 0, 0] = 1
    full = torch.nn.functional.conv2d(
        torch.nn.functional.pad(fu.double()[None, None], [2, 2, 0, 0]),
        fd.double().flip([0, 1])[None, None],
    )[0, 0]  # true 2-D convolution of fu and fd
    pad = [3, 3, 2, 2]  # fu_w + fd_w - 2, fu_h + fd_h - 2: the whole response fits
    for fn in (filtered_lrelu, filtered_lrelu_reference):
        y = fn(x, fu, fd, padding=pad, gain=1, slope=1)[0, 0]
        torch.testing.assert_close(y, full)
        y = fn(x, fu, fd, up=2, padding=pad, gain=1, slope=1)[0, 0]  # one more row and column
        torch.testing.assert_close(y[:3, :4], 4 * full)
        assert y[3:].abs().max() == 0 and y[:, 4:].abs().max() == 0
        y = fn(x, fu, fd, padding=pad, gain=1, slope=1, flip_filter=True)[0, 0]
        torch.testing.assert_close(y, full.flip([0, 1]))


def test_float32_agrees_with_float64_and_keeps_dtype():
    gen = torch.Generator().manual_seed(3)
    fu = U.setup_filter(torch.rand(8, generator=gen), separable=True)
    fd = U.setup_filter(torch.rand(6, 6, generator=gen))
    x = torch.randn(2, 4, 11, 10, generator=gen)
    b = torch.randn(4, generator=gen)
    kwargs = dict(fu=fu, fd=fd, up=2, down=2, padding=[7, 6, 7, 6], clamp=1.0)
    got = filtered_lrelu(x, b=b, **kwargs)
    assert got.dtype == torch.float32
    expected = filtered_lrelu_reference(x.double(), b=b.double(), **kwargs)
    torch.testing.assert_close(got, expected.float(), rtol=1e-5, atol=1e-5)


def test_input_is_left_alone_and_result_is_new():
    x = torch.randn(1, 2, 5, 5)
    x0 = x.clone()
    for up, down in [(1, 1), (2, 2)]:
        y = filtered_lrelu(x, up=up, down=down, padding=0)  # identity filters
        assert y.data_ptr() != x.data_ptr()
        torch.testing.assert_close(x, x0, rtol=0, atol=0)
    y = filtered_lrelu(x)  # no filters, no resampling: just the activation
    torch.testing.assert_close(y, torch.nn.functional.leaky_relu(x0, 0.2) * np.sqrt(2))


CONFIGS = [
    dict(up=2, down=2, padding=[3, 2, 3, 2], fu="sep", fd="sep"),
    dict(up=4, down=2, padding=[4, 3, 2, 5], fu="sep", fd="2d"),
    dict(up=1, down=1, padding=[1, 1, 2, 0], fu="2d", fd="none"),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_gradients(config):
    config = dict(config)
    gen = torch.Generator().manual_seed(7)
    fu = make_filter(config.pop("fu"), 4, gen)
    fd = make_filter(config.pop("fd"), 4 if config["down"] > 1 else 2, gen)
    x = torch.randn(1, 2, 4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, generator=gen, dtype=torch.float64, requires_grad=True)

    def fn(t, bias):
        return filtered_lrelu(t, fu, fd, bias, clamp=0.8, flip_filter=True, **config)

    torch.autograd.gradcheck(fn, (x, b))
    torch.autograd.gradgradcheck(fn, (x, b))
    # The gradients equal the reference's.
    g = torch.randn_like(fn(x, b))
    got = torch.autograd.grad(fn(x, b), (x, b), g)
    ref = filtered_lrelu_reference(x, fu, fd, b, clamp=0.8, flip_filter=True, **config)
    expected = torch.autograd.grad(ref, (x, b), g)
    for a, e in zip(got, expected):
        torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda x, f, b: filtered_lrelu(x[0], f, f), ValueError),  # 3-D input
        (lambda x, f, b: filtered_lrelu(x.long(), f, f), TypeError),
        (lambda x, f, b: filtered_lrelu(x, f[None], f), ValueError),  # 3-D filter
        (lambda x, f, b: filtered_lrelu(x, f, f.tolist()), TypeError),
        (lambda x, f, b: filtered_lrelu(x, f.clone().requires_grad_(), f), ValueError),
        (lambda x, f, b: filtered_lrelu(x, f, f, b[:1]), ValueError),  # wrong bias length
        (lambda x, f, b: filtered_lrelu(x, f, f, b.double()), TypeError),  # wrong bias dtype
        (lambda x, f, b: filtered_lrelu(x, f, f, up=0), ValueError),
        (lambda x, f, b: filtered_lrelu(x, f, f, down=[2, 2]), ValueError),
        (lambda x, f, b: filtered_lrelu(x, f, f, up=1.5), ValueError),
        (lambda x, f, b: filtered_lrelu(x, f, f, padding=[1, 2, 3]), ValueError),
        (lambda x, f, b: filtered_lrelu(x, f, f, padding=0), ValueError),  # smaller than filters
        (lambda x, f, b: filtered_lrelu(x, f, f, padding=4, gain=0), ValueError),
        (lambda x, f, b: filtered_lrelu(x, f, f, padding=4, slope=-1), ValueError),
        (lambda x, f, b: filtered_lrelu(x, f, f, padding=4, clamp=-1), ValueError),
        (lambda x, f, b: filtered_lrelu(x, f, f, padding=4, clamp="a"), TypeError),
    ],
)
def test_bad_inputs_raise_one_line(call, error):
    x = torch.randn(1, 2, 4, 4)
    with pytest.raises(error) as info:
        call(x, U.setup_filter([1, 3, 3, 1]), torch.zeros(2))
    assert "\n" not in str(info.value)


@pytest.mark.skipif(not FIXTURE.is_file(), reason="no stored official fixture")
def test_matches_stored_official_outputs():
    data = np.load(FIXTURE, allow_pickle=False)
    names = sorted({k.split(".")[0] for k in data.files if k.endswith(".out")})
    assert names
    for name in names:
        kw = {k.split(".", 1)[1]: data[k] for k in data.files if k.startswith(name + ".")}
        x = torch.from_numpy(kw.pop("x"))
        expected = torch.from_numpy(kw.pop("out"))
        fu = torch.from_numpy(kw["fu"]) if kw["fu"].size else None
        fd = torch.from_numpy(kw["fd"]) if kw["fd"].size else None
        b = torch.from_numpy(kw["b"])
        padding = [int(p) for p in kw["padding"]]
        clamp = float(kw["clamp"]) if float(kw["clamp"]) >= 0 else None
        kwargs = dict(
            up=int(kw["up"]), down=int(kw["down"]), padding=padding, gain=float(kw["gain"]),
            slope=float(kw["slope"]), clamp=clamp, flip_filter=bool(kw["flip_filter"]),
        )  # fmt: skip
        for inp in (x, x.clone().requires_grad_()):  # the no-grad CPU path, the autograd path
            got = filtered_lrelu(inp, fu, fd, b, **kwargs)
            torch.testing.assert_close(got.detach(), expected, rtol=1e-5, atol=1e-5, msg=name)


def test_threads_over_blocks_give_the_same_numbers(monkeypatch):
    """With several torch threads the CPU path spreads channel blocks over a thread pool."""
    monkeypatch.setattr(FL, "_BLOCK_BYTES", 1)
    gen = torch.Generator().manual_seed(11)
    fu = make_filter("sep", 8, gen)
    fd = make_filter("2d", 6, gen)
    x = torch.randn(2, 40, 9, 8, generator=gen)
    b = torch.randn(40, generator=gen)
    kwargs = dict(fu=fu, fd=fd, b=b, up=2, down=2, padding=[7, 6, 7, 6], clamp=1.0)
    single = filtered_lrelu(x, **kwargs)
    torch.set_num_threads(2)  # the autouse fixture restores the count afterwards
    pooled = filtered_lrelu(x, **kwargs)
    assert torch.get_num_threads() == 2
    torch.testing.assert_close(pooled, single, rtol=0, atol=0)
    expected = filtered_lrelu_reference(x.double(), **{**kwargs, "b": b.double()})
    torch.testing.assert_close(pooled, expected.float(), rtol=1e-5, atol=1e-5)
