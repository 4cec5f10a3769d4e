"""bias_act: the official activation table, order of operations, clamp, gradients, errors."""

import math

import pytest
import torch
import torch.nn.functional as F

from stylegan.ops.bias_act import activation_funcs, bias_act, bias_act_reference

# What each activation must equal, written with torch.nn.functional, and its default gain.
EXPECTED = {
    "linear": (lambda x: x, 1.0),
    "relu": (F.relu, math.sqrt(2)),
    "lrelu": (lambda x: F.leaky_relu(x, 0.2), math.sqrt(2)),
    "tanh": (torch.tanh, 1.0),
    "sigmoid": (torch.sigmoid, 1.0),
    "elu": (F.elu, 1.0),
    "selu": (F.selu, 1.0),
    "softplus": (F.softplus, 1.0),
    "swish": (F.silu, math.sqrt(2)),
}


def test_table_is_the_official_one():
    assert set(activation_funcs) == set(EXPECTED)
    assert activation_funcs["lrelu"].def_alpha == 0.2


@pytest.mark.parametrize("act", list(EXPECTED))
def test_each_activation_with_defaults(act):
    func, default_gain = EXPECTED[act]
    x = torch.randn(4, 5, 3, 2) * 3
    b = torch.randn(5)
    expected = func(x + b.reshape(1, -1, 1, 1)) * default_gain
    torch.testing.assert_close(bias_act(x, b, act=act), expected)
    torch.testing.assert_close(bias_act_reference(x, b, act=act), expected)


@pytest.mark.parametrize("act", list(EXPECTED))
def test_gain_then_clamp(act):
    func, _ = EXPECTED[act]
    x = torch.randn(3, 6) * 5
    b = torch.randn(6)
    y = bias_act(x, b, act=act, gain=3.0, clamp=1.5)
    torch.testing.assert_close(y, (func(x + b) * 3.0).clamp(-1.5, 1.5))
    assert y.abs().max() <= 1.5
    torch.testing.assert_close(y, bias_act_reference(x, b, act=act, gain=3.0, clamp=1.5))


def test_lrelu_alpha_dim_and_clamp_zero():
    x = torch.randn(7, 3)
    b = torch.randn(7)
    y = bias_act(x, b, dim=0, act="lrelu", alpha=0.5, gain=1)
    torch.testing.assert_close(y, F.leaky_relu(x + b[:, None], 0.5))
    assert bias_act(x, act="linear", clamp=0).abs().max() == 0
    # The networks' usage: conv_clamp 256 scaled by the layer gain.
    big = torch.full([1, 2, 2, 2], 1e4)
    assert bias_act(big, act="lrelu", clamp=256 * math.sqrt(2)).max() == pytest.approx(
        256 * math.sqrt(2)
    )


def test_does_not_modify_its_input():
    x = torch.randn(2, 3, 4, 4)
    b = torch.randn(3)
    x0, b0 = x.clone(), b.clone()
    with torch.no_grad():  # the fast path reuses its own buffers here
        for act in EXPECTED:
            bias_act(x, b, act=act, gain=2, clamp=0.5)
            bias_act(x, act=act, gain=2, clamp=0.5)
    assert torch.equal(x, x0) and torch.equal(b, b0)
    assert bias_act(x) is x  # nothing to do: the input itself, as the official op


@pytest.mark.parametrize("act", ["lrelu", "tanh", "softplus", "swish", "elu"])
def test_gradients(act):
    x = torch.randn(2, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        x += 0.05 * torch.sign(x)  # keep lrelu's kink away from the finite differences
    torch.autograd.gradcheck(lambda x, b: bias_act(x, b, act=act, gain=1.7, clamp=2.0), (x, b))
    torch.autograd.gradgradcheck(lambda x, b: bias_act(x, b, act=act, gain=1.7), (x, b))


def test_fp16_keeps_dtype():
    x = torch.randn(2, 4, 3, 3).half()
    b = torch.randn(4).half()
    y = bias_act(x, b, act="lrelu", clamp=256)
    assert y.dtype == torch.float16
    torch.testing.assert_close(y.float(), bias_act(x.float(), b.float(), act="lrelu", clamp=256),
                               rtol=1e-2, atol=1e-2)  # fmt: skip


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(act="gelu"), ValueError),
        (dict(b=torch.zeros(4)), ValueError),  # wrong length along dim 1
        (dict(b=torch.zeros(3, 1)), ValueError),  # not 1-D
        (dict(b=torch.zeros(3), dim=4), ValueError),
        (dict(clamp=-1), ValueError),
    ],
)
def test_bad_inputs_raise(kwargs, error):
    with pytest.raises(error):
        bias_act(torch.zeros(2, 3, 4, 4), **kwargs)


@pytest.mark.parametrize("act", list(EXPECTED))
def test_inplace_without_autograd_reuses_x_and_matches_reference(act):
    x = torch.randn(2, 3, 4, 4) * 3
    b = torch.randn(3)
    expected = bias_act_reference(x, b, act=act, gain=2, clamp=1.5)
    y = x.clone()
    with torch.no_grad():
        out = bias_act(y, b, act=act, gain=2, clamp=1.5, inplace=True)
    assert torch.equal(out, expected)  # same steps, same rounding
    if act in ("linear", "relu", "lrelu"):
        assert out.data_ptr() == y.data_ptr()  # no new buffer


def test_inplace_is_ignored_under_autograd():
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    x0 = x.detach().clone()
    out = bias_act(x, b, act="lrelu", gain=2, clamp=0.5, inplace=True)
    assert torch.equal(x.detach(), x0)
    out.sum().backward()
    x2, b2 = x0.clone().requires_grad_(), b.detach().clone().requires_grad_()
    bias_act_reference(x2, b2, act="lrelu", gain=2, clamp=0.5).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)
    torch.testing.assert_close(b.grad, b2.grad)


def test_inplace_keeps_type_promotion():
    x = torch.randn(2, 3, 4, 4).half()
    b = torch.randn(3)  # float32: x + b is float32, so no in-place update of the fp16 x
    x0 = x.clone()
    with torch.no_grad():
        out = bias_act(x, b, act="lrelu", inplace=True)
    assert out.dtype == torch.float32 and torch.equal(x, x0)
    torch.testing.assert_close(out, bias_act_reference(x, b, act="lrelu"))
