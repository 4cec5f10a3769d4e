"""modulated_conv2d: fused, non-fused and per-sample reference agree; demodulation; gradients."""

import itertools

import pytest
import torch

from stylegan.ops import modulated_conv as M
from stylegan.ops import upfirdn2d

FILTER = upfirdn2d.setup_filter([1, 3, 3, 1])


def layer_kwargs(kernel, up, down):
    """How the StyleGAN2 layers call it: 'same' padding, convolution when upsampling."""
    return dict(
        up=up, down=down, padding=kernel // 2, resample_filter=FILTER, flip_weight=(up == 1)
    )


def run_route(route, x, weight, styles, noise, demodulate, kwargs):
    conv_kwargs = dict(
        f=kwargs["resample_filter"], up=kwargs["up"], down=kwargs["down"],
        padding=kwargs["padding"], flip_weight=kwargs["flip_weight"],
    )  # fmt: skip
    return route(x, weight, styles, noise, demodulate, conv_kwargs)


@pytest.mark.parametrize("kernel, up, down", [(3, 1, 1), (3, 2, 1), (3, 1, 2), (1, 1, 1)])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fused_nonfused_reference_agree(kernel, up, down, dtype):
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-5)
    for demodulate, with_noise, batch in itertools.product([True, False], [False, True], [1, 3]):
        x = torch.randn(batch, 8, 6, 5, dtype=dtype)  # non-square
        weight = torch.randn(7, 8, kernel, kernel, dtype=dtype)
        styles = torch.randn(batch, 8, dtype=dtype) + 1
        out_hw = (6 * up // down, 5 * up // down)
        noise = torch.randn(batch, 1, *out_hw, dtype=dtype) if with_noise else None
        kwargs = layer_kwargs(kernel, up, down)
        expected = M.modulated_conv2d_reference(
            x, weight, styles, noise=noise, demodulate=demodulate, **kwargs
        )
        assert expected.shape == (batch, 7, *out_hw)
        fused = run_route(M._fused, x, weight, styles, noise, demodulate, kwargs)
        nonfused = run_route(M._nonfused, x, weight, styles, noise, demodulate, kwargs)
        scale = expected.abs().max()  # undemodulated outputs are large: compare relatively
        for got in (fused, nonfused):
            torch.testing.assert_close(got / scale, expected / scale, **tol)
        # The public entry point, whichever route it picks, for both caller choices.
        for fused_modconv in (True, False):
            got = M.modulated_conv2d(
                x, weight, styles, noise=noise, demodulate=demodulate,
                fused_modconv=fused_modconv, **kwargs,
            )  # fmt: skip
            torch.testing.assert_close(got / scale, expected / scale, **tol)


def test_route_choice():
    x = torch.zeros(8, 4, 4, 4)
    assert not M.use_fused_route(x, fused_modconv=True)  # CPU: shared conv is faster
    assert not M.use_fused_route(x, fused_modconv=False)
    meta = torch.zeros(8, 4, 4, 4, device="meta")
    assert M.use_fused_route(meta, fused_modconv=True)  # other devices: the caller's choice


def test_demodulation_properties():
    x = torch.randn(2, 6, 8, 8, dtype=torch.float64)
    weight = torch.randn(5, 6, 3, 3, dtype=torch.float64)
    styles = torch.randn(2, 6, dtype=torch.float64)
    y = M.modulated_conv2d(x, weight, styles, padding=1)
    # Scaling a sample's styles or an output channel's weights changes nothing after demod.
    scale = torch.tensor([[3.0], [0.25]], dtype=torch.float64)
    torch.testing.assert_close(M.modulated_conv2d(x, weight, styles * scale, padding=1), y)
    weight2 = weight * torch.arange(1, 6, dtype=torch.float64).reshape(-1, 1, 1, 1)
    torch.testing.assert_close(M.modulated_conv2d(x, weight2, styles, padding=1), y)
    # Without demodulation the styles act linearly.
    y_lin = M.modulated_conv2d(x, weight, styles, padding=1, demodulate=False)
    torch.testing.assert_close(
        M.modulated_conv2d(x, weight, 2 * styles, padding=1, demodulate=False), 2 * y_lin
    )
    # Demodulated weights have unit norm per output channel, so a white input gives outputs
    # of unit variance (the property the paper's demodulation is built on).
    white = torch.randn(64, 6, 16, 16, dtype=torch.float64)
    big = M.modulated_conv2d(white, weight, styles[:1].expand(64, -1), padding=0)
    assert abs(big.var().item() - 1) < 0.05


def test_noise_broadcasts_like_the_layers_use_it():
    x = torch.randn(2, 4, 8, 8)
    weight = torch.randn(3, 4, 3, 3)
    styles = torch.randn(2, 4)
    base = M.modulated_conv2d(x, weight, styles, padding=1)
    per_sample = torch.randn(2, 1, 8, 8)  # noise_mode='random'
    const = torch.randn(8, 8)  # noise_mode='const': the stored [H, W] buffer
    for noise in (per_sample, const):
        for fused in (True, False):
            got = M.modulated_conv2d(x, weight, styles, noise=noise, padding=1, fused_modconv=fused)
            torch.testing.assert_close(got, base + noise)


def test_fp16_prescaling_matches_fp32():
    x = torch.randn(2, 16, 8, 8)
    weight = torch.randn(8, 16, 3, 3) * 100
    styles = torch.randn(2, 16) * 100  # large enough to overflow fp16 without pre-scaling
    expected = M.modulated_conv2d(x, weight, styles, padding=1)
    got = M.modulated_conv2d(x.half(), weight, styles, padding=1)
    assert got.dtype == torch.float16 and torch.isfinite(got).all()
    torch.testing.assert_close(got.float(), expected, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("route", ["_fused", "_nonfused"])
@pytest.mark.parametrize("kernel, up, down", [(3, 1, 1), (3, 2, 1), (3, 1, 2)])
def test_gradients(route, kernel, up, down):
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(2, 3, kernel, kernel, dtype=torch.float64, requires_grad=True)
    styles = (torch.randn(2, 3, dtype=torch.float64) + 2).requires_grad_()
    kwargs = layer_kwargs(kernel, up, down)
    kwargs["resample_filter"] = FILTER.double()

    def fn(x, weight, styles):
        return run_route(getattr(M, route), x, weight, styles, None, True, kwargs)

    torch.autograd.gradcheck(fn, (x, weight, styles))
    if up == 1 and down == 1:
        torch.autograd.gradgradcheck(fn, (x, weight, styles))


@pytest.mark.parametrize(
    "call",
    [
        lambda x, w, s: M.modulated_conv2d(x, w, s[:1]),  # styles batch mismatch
        lambda x, w, s: M.modulated_conv2d(x, w, s[:, :3]),  # styles channel mismatch
        lambda x, w, s: M.modulated_conv2d(x[:, :3], w, s),  # x channel mismatch
        lambda x, w, s: M.modulated_conv2d(x, w[0], s),  # 3-D weight
        lambda x, w, s: M.modulated_conv2d(x[0], w, s),  # 3-D input
    ],
)
def test_bad_inputs_raise(call):
    with pytest.raises(ValueError):
        call(torch.randn(2, 4, 8, 8), torch.randn(3, 4, 3, 3), torch.randn(2, 4))


@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("up", [1, 2])
def test_inference_matches_autograd_and_leaves_inputs_alone(demodulate, up):
    """Without autograd the route reuses its own buffers; callers' tensors must not change."""
    x = torch.randn(3, 4, 8, 8)
    weight = torch.randn(5, 4, 3, 3)
    styles = torch.randn(3, 4)
    noise = torch.randn(3, 1, 8 * up, 8 * up)
    saved = [t.clone() for t in (x, weight, styles, noise)]
    kwargs = dict(noise=noise, demodulate=demodulate, **layer_kwargs(3, up, 1))
    with torch.no_grad():
        fast = M.modulated_conv2d(x, weight, styles, **kwargs)
    for t, t0 in zip((x, weight, styles, noise), saved):
        assert torch.equal(t, t0)
    tracked = M.modulated_conv2d(x, weight, styles.clone().requires_grad_(), **kwargs)
    assert tracked.requires_grad
    torch.testing.assert_close(fast, tracked.detach())


@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("up", [1, 2])
def test_overwrite_x_gives_the_same_result(demodulate, up):
    """``overwrite_x`` may scale x in place without autograd, never under it; same values."""
    x = torch.randn(3, 4, 8, 8)
    weight = torch.randn(5, 4, 3, 3)
    styles = torch.randn(3, 4)
    noise = torch.randn(3, 1, 8 * up, 8 * up)
    kwargs = dict(noise=noise, demodulate=demodulate, **layer_kwargs(3, up, 1))
    with torch.no_grad():
        expected = M.modulated_conv2d(x, weight, styles, **kwargs)
        scratch = x.clone()
        fast = M.modulated_conv2d(scratch, weight, styles, overwrite_x=True, **kwargs)
    assert torch.equal(fast, expected)
    x2 = x.clone()
    tracked = M.modulated_conv2d(
        x2, weight, styles.clone().requires_grad_(), overwrite_x=True, **kwargs
    )
    assert torch.equal(x2, x)  # autograd may need x: left alone
    torch.testing.assert_close(tracked.detach(), expected)


def test_noise_is_added_with_one_fused_multiply_add():
    """x * dcoefs + noise rounds as torch.addcmul (the official ``fma`` op), with or without
    autograd."""
    x = torch.randn(2, 4, 8, 8)
    weight = torch.randn(5, 4, 3, 3)
    styles = torch.randn(2, 4)
    noise = torch.randn(8, 8)
    with torch.no_grad():
        out = M.modulated_conv2d(x, weight, styles, noise=noise, padding=1)
        conv = torch.nn.functional.conv2d(x * styles.reshape(2, -1, 1, 1), weight, padding=1)
    energy = weight.square().sum(dim=[2, 3])
    dcoefs = (styles.square() @ energy.t() + 1e-8).rsqrt().reshape(2, -1, 1, 1)
    torch.testing.assert_close(out, torch.addcmul(noise, conv, dcoefs))
    tracked = M.modulated_conv2d(x, weight, styles.clone().requires_grad_(), noise=noise, padding=1)
    assert torch.equal(out, tracked.detach())  # inference and training round alike
