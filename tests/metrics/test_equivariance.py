"""Equivariance metrics: image operators, input transforms, and PSNRs of analytic toy generators
whose equivariance is known exactly; then a random StyleGAN3-T against a StyleGAN2."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.metrics.equivariance import (
    apply_fractional_pseudo_rotation,
    apply_fractional_rotation,
    apply_fractional_translation,
    apply_integer_translation,
    equivariance_metrics,
    official_metric,
    psnr_from_sums,
    rotation_matrix,
    translation_matrix,
)
from stylegan.networks.transform import (
    InputTransform,
    periodic_resample,
    transform_kind,
    user_transform_matrix,
)
from tiny_networks import tiny_network

# ----------------------------------------------------------------------------------------------
# Toy generators


def pixel_coords(res: int) -> torch.Tensor:
    """Pixel centres in image widths, origin at the centre, y down: ``[2, res * res]``."""
    gy, gx = torch.meshgrid(
        torch.arange(res, dtype=torch.float64),
        torch.arange(res, dtype=torch.float64),
        indexing="ij",
    )
    return torch.stack([(gx.flatten() + 0.5) / res - 0.5, (gy.flatten() + 0.5) / res - 0.5])


class ToyMapping(nn.Module):
    def __init__(self, z_dim, num_ws):
        super().__init__()
        self.z_dim, self.num_ws = z_dim, num_ws

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, update_emas=False):
        return z[:, None].repeat(1, self.num_ws, 1)


class ToyInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("transform", torch.eye(3))


class WaveSynthesis(nn.Module):
    """A sum of sinusoids (frequencies in cycles per image width, below Nyquist) evaluated at
    ``T p``: exactly what an ideally equivariant generator draws. ``sticky`` adds a pattern
    fixed to the pixel grid (ignoring the transform), i.e. texture sticking."""

    def __init__(self, res, freqs, sticky=0.0):
        super().__init__()
        self.res, self.sticky = res, sticky
        self.input = ToyInput()
        self.register_buffer("freqs", torch.as_tensor(freqs, dtype=torch.float64))
        g = torch.Generator().manual_seed(5)
        self.register_buffer("grid_pattern", torch.rand(3, res, res, generator=g) * 2 - 1)
        self.calls = 0

    def forward(self, ws, noise_mode="random", **kwargs):
        self.calls += 1
        k = len(self.freqs)
        T = self.input.transform.to(torch.float64)
        src = T[:2, :2] @ pixel_coords(self.res) + T[:2, 2:]  # [2, P]
        phase = (self.freqs @ src)[None]  # [1, K, P]
        w = ws[:, 0].to(torch.float64)
        shift = w[:, :k, None]  # per-sample phases
        amp = 0.3 * torch.tanh(w[:, k : 2 * k, None]) + 0.4
        waves = amp * torch.sin(2 * math.pi * phase + shift)  # [N, K, P]
        img = torch.stack([waves[:, c::3].sum(1) for c in range(3)], dim=1) / 2
        img = img.reshape(len(ws), 3, self.res, self.res)
        return (img + self.sticky * self.grid_pattern).to(torch.float32)


class ToyG(nn.Module):
    def __init__(self, synthesis, z_dim=16, c_dim=0, num_ws=2):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, z_dim
        self.img_resolution = synthesis.res
        self.mapping = ToyMapping(z_dim, num_ws)
        self.synthesis = synthesis


LOW_FREQS = [[1.0, 0.0], [0.0, 2.0], [1.5, -1.0], [-2.0, 1.2], [0.7, 2.3], [2.5, 0.4]]


def wave_g(res=32, sticky=0.0, freqs=LOW_FREQS, **kwargs):
    return ToyG(WaveSynthesis(res, freqs, sticky=sticky), **kwargs)


class ConstSynthesis(nn.Module):
    """StyleGAN2-like toy: a learned ``const [C, 4, 4]`` (no Nyquist content) upsampled ideally
    (FFT zero-padding) to the image, then a per-sample gain. Resampling the constant as a
    periodic signal shifts the image exactly."""

    def __init__(self, res=32, n=4):
        super().__init__()
        self.res = res
        g = torch.Generator().manual_seed(3)
        const = torch.randn(3, n, n, generator=g)
        spec = torch.fft.fft2(const)
        spec[:, n // 2, :] = 0
        spec[:, :, n // 2] = 0
        self.const = nn.Parameter(torch.fft.ifft2(spec).real)
        self.register_buffer("noise_const", torch.zeros(res, res))

    def forward(self, ws, noise_mode="random", **kwargs):
        n, r = self.const.shape[-1], self.res
        spec = torch.fft.fftshift(torch.fft.fft2(self.const.to(torch.float64)), dim=(-2, -1))
        pad = (r - n) // 2
        spec = torch.nn.functional.pad(spec, [pad, pad, pad, pad])
        spec = torch.fft.ifftshift(spec, dim=(-2, -1))
        # Sampling the same continuous signal at r points per period, centred pixel for pixel.
        k = torch.fft.fftfreq(r, d=1 / r).to(torch.float64)
        delta = 0.5 * (1 / n - 1 / r) * n  # shift between the pixel-centre grids, in const px
        phase = torch.exp(-2j * math.pi * (k[:, None] + k[None, :]) * delta / n)
        img = torch.fft.ifft2(spec * phase).real * (r / n) ** 2
        gain = 1 + 0.1 * torch.tanh(ws[:, 0, :1].to(torch.float64))
        return (img[None] * gain[:, :, None, None] / 3).to(torch.float32)


# ----------------------------------------------------------------------------------------------
# Image operators


def test_integer_translation_is_roll_where_valid():
    x = torch.randn(2, 3, 16, 16)
    for dx, dy in [(3, -2), (-5, 0), (0, 4), (0, 0)]:
        z, m = apply_integer_translation(x, dx / 16, dy / 16)
        rolled = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
        expected_mask = torch.zeros(16, 16)
        expected_mask[max(dy, 0) : 16 + min(dy, 0), max(dx, 0) : 16 + min(dx, 0)] = 1
        assert torch.equal(m[0, 0], expected_mask)
        assert torch.equal(z * m, rolled * m)
        assert torch.equal(z * (1 - m), torch.zeros_like(z))
        assert m.sum() == 2 * 3 * (16 - abs(dx)) * (16 - abs(dy))


def test_integer_translation_out_of_range_is_empty():
    z, m = apply_integer_translation(torch.randn(1, 1, 8, 8), 1.0, 0.0)
    assert m.sum() == 0 and z.abs().sum() == 0


def test_fractional_translation_by_whole_pixels_equals_integer_translation():
    x = torch.randn(2, 3, 16, 16)
    for dx, dy in [(3, -2), (-1, 0), (2, 5)]:
        zf, mf = apply_fractional_translation(x, dx / 16, dy / 16)
        zi, mi = apply_integer_translation(x, dx / 16, dy / 16)
        assert torch.all(mf <= mi)  # the fractional mask also drops the filter's reach
        assert mf.sum() > 0
        torch.testing.assert_close(zf * mf, zi * mf, atol=1e-5, rtol=0)


def test_fractional_translation_of_a_smooth_signal_is_accurate():
    res = 32
    u = pixel_coords(res)
    f = torch.tensor([[2.0, 1.0]], dtype=torch.float64)
    x = torch.sin(2 * math.pi * (f @ u)).reshape(1, 1, res, res).float()
    tx, ty = 0.3 / res, -1.7 / res
    z, m = apply_fractional_translation(x, tx, ty)
    expected = torch.sin(2 * math.pi * (f @ (u - torch.tensor([[tx], [ty]])))).reshape(x.shape)
    err = ((z - expected.float()) * m).abs().max()
    assert err < 1e-2


def test_rotation_by_zero_is_identity():
    x = torch.randn(2, 3, 32, 32)
    z, m = apply_fractional_rotation(x, 0.0)
    assert m.sum() > 0
    # The windowed band-limit filter is not exactly a delta: even white noise (the worst case,
    # all of it up to Nyquist) comes back with an MSE below 1e-4, i.e. a PSNR above 46 dB.
    assert ((z - x) * m).square().sum() / m.sum() < 1e-4
    assert ((z - x) * m).abs().max() < 0.05
    y, pm = apply_fractional_pseudo_rotation(x, 0.0)
    torch.testing.assert_close(y * pm, x * pm, atol=1e-4, rtol=0)


def test_rotation_of_a_smooth_signal_matches_the_rotated_signal():
    res = 32
    u = pixel_coords(res)
    f = torch.tensor([[1.5, -0.5]], dtype=torch.float64)
    x = torch.cos(2 * math.pi * (f @ u)).reshape(1, 1, res, res).float()
    angle = 0.4
    z, m = apply_fractional_rotation(x, angle)
    # The official operator: output(p) = input(R^-1 p), R = rotation_matrix(angle).
    inv = rotation_matrix(angle).inverse().to(torch.float64)[:2, :2]
    expected = torch.cos(2 * math.pi * (f @ (inv @ u))).reshape(x.shape).float()
    assert m.sum() > 0
    assert ((z - expected) * m).abs().max() < 0.03


# ----------------------------------------------------------------------------------------------
# Input transforms


def analytic_pattern(res, T=None):
    u = pixel_coords(res)
    if T is not None:
        T = torch.as_tensor(T, dtype=torch.float64)
        u = T[:2, :2] @ u + T[:2, 2:]
    # Integer frequencies (periodic over the array), all below Nyquist.
    f = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 3.0], [3.0, 1.0]], dtype=torch.float64)
    return torch.cos(2 * math.pi * (f @ u) + torch.tensor([[0.2], [1.0], [-0.4], [2.0]])).sum(0)


def test_periodic_resample_matches_the_continuous_signal():
    res = 8
    x = analytic_pattern(res).reshape(1, res, res)
    for T in [
        translation_matrix(0.3, -0.1),
        rotation_matrix(0.7),
        user_transform_matrix((0.05, 0.2), 33.0),
    ]:
        got = periodic_resample(x, T)[0].double()
        torch.testing.assert_close(
            got, analytic_pattern(res, T).reshape(res, res), atol=1e-5, rtol=0
        )


def test_periodic_resample_whole_pixels_and_quarter_turns_are_exact():
    x = torch.randn(2, 4, 4, dtype=torch.float64)  # Nyquist content included
    torch.testing.assert_close(periodic_resample(x, torch.eye(3)), x)
    shifted = periodic_resample(x, translation_matrix(1 / 4, -2 / 4))
    torch.testing.assert_close(shifted, torch.roll(x, shifts=(-2, 1), dims=(1, 2)))
    # T = rotation_matrix(-90 deg) is what the metric sets to compare with
    # apply_fractional_rotation(+90 deg): out(u) = x(T u), a counter-clockwise quarter turn.
    quarter = periodic_resample(x, rotation_matrix(-math.pi / 2))
    # (rotation_matrix is float32: cos(pi / 2) is not exactly 0)
    torch.testing.assert_close(quarter, torch.rot90(x, k=1, dims=(1, 2)), atol=1e-6, rtol=0)


def test_input_transform_sets_and_restores():
    G = wave_g(res=8)
    with InputTransform(G) as t:
        assert t.kind == "input"
        t.set(translation_matrix(0.25, 0))
        assert G.synthesis.input.transform[0, 2] == -0.25
    assert torch.equal(G.synthesis.input.transform, torch.eye(3))

    G2 = ToyG(ConstSynthesis(res=8))
    before = G2.synthesis.const.detach().clone()
    with InputTransform(G2) as t:
        assert t.kind == "const"
        t.set(translation_matrix(0.25, 0))  # one constant pixel
        torch.testing.assert_close(
            G2.synthesis.const.detach(), torch.roll(before, 1, dims=2), atol=1e-6, rtol=0
        )
    assert torch.equal(G2.synthesis.const, before)


def test_transform_kind_refuses_plain_networks():
    with pytest.raises(StyleGANError):
        transform_kind(nn.Linear(2, 2))


# ----------------------------------------------------------------------------------------------
# Metrics on toy generators


def test_psnr_formula():
    assert psnr_from_sums(0.0, 10.0) == math.inf
    assert psnr_from_sums(4.0, 1.0) == pytest.approx(0.0)
    assert psnr_from_sums(0.04, 1.0) == pytest.approx(20.0)


ALL = dict(compute_eqt_int=True, compute_eqt_frac=True, compute_eqr=True)


def test_exactly_equivariant_toy_is_near_infinite():
    G = wave_g()
    eq = equivariance_metrics(G, num_samples=8, batch_size=4, seed=1, **ALL)
    assert set(eq) == {"eqt_int", "eqt_frac", "eqr"}
    assert eq["eqt_int"] > 100  # exact up to rounding
    # The fractional operators are Lanczos approximations, good for low frequencies.
    assert eq["eqt_frac"] > 40
    assert eq["eqr"] > 30
    assert torch.equal(G.synthesis.input.transform, torch.eye(3))
    assert G.synthesis.calls == 2 * 4  # reference + three transforms per batch, two batches


def test_non_equivariant_toy_is_low():
    good = equivariance_metrics(wave_g(), num_samples=4, batch_size=4, seed=1, **ALL)
    bad = equivariance_metrics(wave_g(sticky=1.0), num_samples=4, batch_size=4, seed=1, **ALL)
    for key in good:
        assert bad[key] < 15, (key, bad[key])
        assert bad[key] < good[key] - 20


def test_const_resampling_toy_is_equivariant_to_translation():
    G = ToyG(ConstSynthesis(res=32))
    before = G.synthesis.const.detach().clone()
    eq = equivariance_metrics(G, 8, batch_size=4, seed=0, compute_eqt_int=True)
    assert eq["eqt_int"] > 100
    assert torch.equal(G.synthesis.const, before)


def test_seed_reproducible_and_labels_used():
    G = wave_g(c_dim=3)
    calls = []

    def sampler(n):
        calls.append(n)
        return torch.eye(3)[torch.zeros(n, dtype=torch.long)]

    a = equivariance_metrics(G, 6, batch_size=4, seed=3, compute_eqt_frac=True, c_sampler=sampler)
    b = equivariance_metrics(G, 6, batch_size=4, seed=3, compute_eqt_frac=True)
    assert calls == [4, 2]  # the last batch is cut to the requested count
    assert a == b  # the toy ignores c; the draws depend on the seed only
    c = equivariance_metrics(G, 6, batch_size=4, seed=4, compute_eqt_frac=True)
    assert c != a


def test_noise_buffers_randomized_and_restored():
    G = ToyG(ConstSynthesis(res=16))
    seen = []
    forward = G.synthesis.forward

    def spy(ws, **kwargs):
        seen.append(G.synthesis.noise_const.clone())
        return forward(ws, **kwargs)

    G.synthesis.forward = spy
    equivariance_metrics(G, 4, batch_size=2, seed=0, compute_eqt_int=True)
    assert len(seen) == 4
    assert torch.equal(seen[0], seen[1]) and not torch.equal(seen[1], seen[2])
    assert torch.equal(G.synthesis.noise_const, torch.zeros(16, 16))


def test_official_metric_names():
    G = wave_g(res=16)
    assert official_metric("eqt50k_int", G, num_samples=4) > 100
    frac = official_metric("eqt50k_frac", G, num_samples=4, seed=2)
    direct = equivariance_metrics(G, 4, batch_size=4, seed=2, compute_eqt_frac=True)
    assert frac == direct["eqt_frac"]
    with pytest.raises(StyleGANError):
        official_metric("eqt50k", G, num_samples=4)


def test_needs_a_selection():
    with pytest.raises(StyleGANError):
        equivariance_metrics(wave_g(res=8), 2)


# ----------------------------------------------------------------------------------------------
# Real networks


SMALL = dict(z_dim=32, w_dim=32, channel_base=1024, channel_max=32)


def small_stylegan2(res=32):
    return tiny_network("stylegan2.Generator", img_resolution=res, **SMALL).eval()


def small_stylegan3(res=32):
    return tiny_network(
        "stylegan3.Generator", img_resolution=res, num_layers=6, num_critical=2, **SMALL
    ).eval()


def test_stylegan2_runs_through_const_resampling():
    G = small_stylegan2()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    eq = equivariance_metrics(G, 2, batch_size=2, seed=0, **ALL)
    assert all(np.isfinite(v) for v in eq.values())
    after = G.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_stylegan3_t_far_more_translation_equivariant_than_stylegan2():
    G3 = small_stylegan3()
    G2 = small_stylegan2()
    kwargs = dict(num_samples=8, batch_size=4, seed=0, compute_eqt_int=True, compute_eqt_frac=True)
    eq3 = equivariance_metrics(G3, **kwargs)
    eq2 = equivariance_metrics(G2, **kwargs)
    assert torch.equal(G3.synthesis.input.transform, torch.eye(3))
    assert eq3["eqt_int"] > eq2["eqt_int"] + 10, (eq3, eq2)
    assert eq3["eqt_frac"] > eq2["eqt_frac"] + 10, (eq3, eq2)
