import math

import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.tools.interpolate import interpolate_keyframes, lerp, slerp


@pytest.fixture
def keys():
    return torch.randn(5, 3, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


@pytest.mark.parametrize("kind", ["linear", "cubic"])
def test_integer_times_hit_keyframes(keys, kind):
    t = torch.arange(0, 11, dtype=torch.float64)  # two full loops and back to the start
    out = interpolate_keyframes(keys, t, kind)
    torch.testing.assert_close(out, keys[torch.arange(11) % 5])


def test_slerp_kind_hits_keyframes():
    z = torch.randn(4, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = interpolate_keyframes(z, torch.arange(4.0), "slerp")
    torch.testing.assert_close(out, z)


def test_linear_midpoints(keys):
    out = interpolate_keyframes(keys, torch.tensor([0.5, 4.25]), "linear")
    torch.testing.assert_close(out[0], (keys[0] + keys[1]) / 2)
    torch.testing.assert_close(out[1], 0.75 * keys[4] + 0.25 * keys[0])  # wraps to the start
    torch.testing.assert_close(lerp(keys[0], keys[1], 0.5), out[0])


def test_slerp_keeps_the_norm_and_follows_the_great_circle():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(2, 512, generator=g, dtype=torch.float64)
    b = b * a.norm() / b.norm()
    t = torch.linspace(0, 1, 9, dtype=torch.float64)
    out = slerp(a.expand(9, -1), b.expand(9, -1), t)
    torch.testing.assert_close(out.norm(dim=-1), a.norm().expand(9))
    torch.testing.assert_close(out[0], a)
    torch.testing.assert_close(out[-1], b)
    # Equal angular steps along the arc.
    unit = out / out.norm(dim=-1, keepdim=True)
    angles = torch.arccos((unit[:-1] * unit[1:]).sum(-1).clamp(-1, 1))
    torch.testing.assert_close(angles, angles[0].expand_as(angles))
    # Quarter-turn check in two dimensions.
    x, y = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    half = math.sqrt(0.5)
    torch.testing.assert_close(slerp(x, y, 0.5), torch.tensor([half, half]))


def test_slerp_of_unequal_norms_interpolates_the_length():
    a, b = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 4.0]])
    assert float(slerp(a, b, 0.5).norm()) == pytest.approx(3.0)


def test_slerp_of_parallel_vectors_is_finite():
    a = torch.tensor([[1.0, 2.0, 3.0]])
    out = slerp(a, 2 * a, 0.5)
    torch.testing.assert_close(out, 1.5 * a)


def test_cubic_is_smooth_through_keyframes(keys):
    # One-sided finite differences of the first derivative agree at every keyframe (C1; C2 too).
    h = 1e-4
    for k in range(5):
        t = torch.tensor([k - 2 * h, k - h, k, k + h, k + 2 * h], dtype=torch.float64)
        y = interpolate_keyframes(keys, t, "cubic")
        left, right = (y[2] - y[1]) / h, (y[3] - y[2]) / h
        torch.testing.assert_close(left, right, atol=1e-3, rtol=1e-3)
        second_left = (y[2] - 2 * y[1] + y[0]) / h**2
        second_right = (y[4] - 2 * y[3] + y[2]) / h**2
        torch.testing.assert_close(second_left, second_right, atol=1e-2, rtol=1e-2)


def test_cubic_reproduces_a_periodic_signal_better_than_linear():
    n = 8
    keys = torch.sin(2 * math.pi * torch.arange(n, dtype=torch.float64) / n)[:, None]
    t = torch.linspace(0, n, 97, dtype=torch.float64)[:-1]
    truth = torch.sin(2 * math.pi * t / n)[:, None]
    cubic_err = (interpolate_keyframes(keys, t, "cubic") - truth).abs().max()
    linear_err = (interpolate_keyframes(keys, t, "linear") - truth).abs().max()
    assert cubic_err < 0.01 < linear_err


@pytest.mark.parametrize("num_keys", [1, 2, 3])
def test_cubic_with_few_keyframes(num_keys):
    keys = torch.arange(num_keys, dtype=torch.float64)[:, None] * 2.0
    t = torch.linspace(0, num_keys, 13, dtype=torch.float64)
    out = interpolate_keyframes(keys, t, "cubic")
    assert torch.isfinite(out).all()
    torch.testing.assert_close(
        interpolate_keyframes(keys, torch.arange(num_keys, dtype=torch.float64), "cubic"), keys
    )
    if num_keys == 1:
        torch.testing.assert_close(out, keys.expand(13, 1))


def test_constant_keyframes_stay_constant(keys):
    same = keys[:1].expand(5, -1, -1).clone()
    out = interpolate_keyframes(same, torch.linspace(0, 5, 21), "cubic")
    torch.testing.assert_close(out, same[:1].expand(21, -1, -1))


def test_float32_keys_keep_their_dtype():
    keys = torch.randn(3, 4)
    assert interpolate_keyframes(keys, torch.tensor([0.3, 1.7]), "cubic").dtype == torch.float32


def test_unknown_kind(keys):
    with pytest.raises(StyleGANError, match="interpolation"):
        interpolate_keyframes(keys, torch.tensor([0.0]), "quadratic")
