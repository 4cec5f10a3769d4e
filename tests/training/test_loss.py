"""The objectives, style mixing, EMA and lazy-regularisation maths, checked against closed forms."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stylegan.training import loss
from stylegan.training.ema import ema_beta, update_ema
from stylegan.training.state import lazy_adam

NUM_WS, Z_DIM, RES = 6, 5, 4


class ToyGenerator(nn.Module):
    """Mapping = z (times a learnable 1) per layer; synthesis = a fixed linear map of the summed
    ws: simple enough for closed forms."""

    def __init__(self):
        super().__init__()
        self.num_ws, self.z_dim = NUM_WS, Z_DIM
        self.M = nn.Parameter(torch.randn(Z_DIM, 3 * RES * RES))
        self.scale = nn.Parameter(torch.ones([]))
        self.register_buffer("w_avg", torch.zeros(Z_DIM))
        self.mapping_calls = 0

    def mapping(self, z, c, update_emas=False):
        self.mapping_calls += 1
        if update_emas:
            self.w_avg.copy_(z.mean(0))
        return (z * self.scale)[:, None, :].repeat(1, self.num_ws, 1)

    def synthesis(self, ws, update_emas=False):
        return (ws.sum(1) @ self.M).reshape(-1, 3, RES, RES)


class LinearD(nn.Module):
    """D(x) = <w, x>: its gradient with respect to x is w everywhere."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(3, RES, RES))

    def forward(self, img, c, update_emas=False):
        return (img * self.w).sum([1, 2, 3])[:, None]


def test_nonsaturating_losses():
    torch.manual_seed(0)
    G, D = ToyGenerator(), LinearD()
    z, c = torch.randn(8, Z_DIM), torch.zeros(8, 0)
    real = torch.randn(8, 3, RES, RES)

    torch.manual_seed(1)
    g = loss.generator_main(G, D, z, c, style_mixing_prob=0)
    logits = D(G.synthesis(G.mapping(z, c)), c)
    assert torch.allclose(g.loss, F.softplus(-logits).mean())
    assert torch.allclose(g.report["Loss/scores/fake"], logits)

    d = loss.discriminator_main(G, D, real, c, z, c, style_mixing_prob=0)
    expected = F.softplus(logits).mean() + F.softplus(-D(real, c)).mean()
    assert torch.allclose(d.loss, expected)
    assert torch.allclose(G.w_avg, z.mean(0)), "D main must update w_avg (update_emas=True)"


def test_r1_is_gamma_half_squared_gradient_norm():
    D = LinearD()
    real = torch.randn(5, 3, RES, RES)
    result = loss.discriminator_r1(D, real, torch.zeros(5, 0), gamma=3.0)
    squared_norm = D.w.detach().square().sum()
    assert torch.allclose(result.report["Loss/r1_penalty"], squared_norm.expand(5))
    assert torch.allclose(result.loss, 1.5 * squared_norm)
    result.loss.backward()  # differentiable in D's weights (create_graph=True)
    assert torch.allclose(D.w.grad, 2 * 1.5 * D.w.detach())


def test_path_length_penalty_and_running_mean():
    torch.manual_seed(0)
    G = ToyGenerator()
    z, c = torch.randn(8, Z_DIM), torch.zeros(8, 0)
    pl_mean = torch.tensor(0.5)
    torch.manual_seed(7)
    result = loss.generator_path_length(
        G, z, c, pl_mean, weight=2.0, batch_shrink=2, decay=0.01, style_mixing_prob=0
    )
    # Replay the noise: for img = (sum_i w_i) M, the gradient for every w_i is M y.
    torch.manual_seed(7)
    noise = torch.randn(4, 3, RES, RES) / math.sqrt(RES * RES)
    lengths = (noise.reshape(4, -1) @ G.M.detach().T).norm(dim=1)
    new_mean = 0.5 + 0.01 * (lengths.mean() - 0.5)
    assert torch.allclose(result.pl_mean, new_mean)
    assert torch.allclose(result.report["Loss/pl_penalty"], (lengths - new_mean) ** 2, atol=1e-6)
    assert torch.allclose(result.loss, 2 * ((lengths - new_mean) ** 2).mean(), atol=1e-6)
    assert result.report["Loss/pl_penalty"].shape == (4,), "batch shrunk by pl_batch_shrink"


def test_style_mixing_probability_and_cutoff():
    torch.manual_seed(0)
    G = ToyGenerator()
    z, c = torch.randn(2, Z_DIM), torch.zeros(2, 0)
    ws = G.mapping(z, c)
    trials, mixed, cutoffs = 3000, 0, set()
    for _ in range(trials):
        out = loss.mix_styles(G, ws, z, c, prob=0.9)
        changed = (out != ws).any(dim=2).any(dim=0)  # which layers took the second latent
        if changed.any():
            mixed += 1
            cutoff = int(changed.float().argmax())
            assert changed[cutoff:].all() and not changed[:cutoff].any()
            cutoffs.add(cutoff)
    assert abs(mixed / trials - 0.9) < 0.025  # 4.5 standard deviations
    assert cutoffs == set(range(1, NUM_WS)), "cutoff ~ U[1, num_ws)"
    for _ in range(50):
        assert torch.equal(loss.mix_styles(G, ws, z, c, prob=0.0), ws)


def test_style_mixing_follows_the_rng():
    G = ToyGenerator()
    z, c = torch.randn(3, Z_DIM), torch.zeros(3, 0)
    ws = G.mapping(z, c)
    torch.manual_seed(5)
    a = loss.mix_styles(G, ws, z, c, prob=0.9)
    torch.manual_seed(5)
    b = loss.mix_styles(G, ws, z, c, prob=0.9)
    assert torch.equal(a, b)


def test_ema_beta_formula_and_rampup():
    # Half-life of ema_kimg thousand images: after ema_kimg*1000/batch steps the weight is 1/2.
    beta = ema_beta(batch_size=32, cur_nimg=10**6, ema_kimg=10, ema_rampup=None)
    assert beta == pytest.approx(0.5 ** (32 / 10_000))
    assert beta ** (10_000 / 32) == pytest.approx(0.5)
    # Ramp-up: the half-life is at most ema_rampup * cur_nimg images.
    assert ema_beta(32, 0, 10, 0.05) == 0.0  # G_ema = G at the start
    assert ema_beta(32, 20_000, 10, 0.05) == pytest.approx(0.5 ** (32 / 1_000))
    assert ema_beta(32, 10**7, 10, 0.05) == pytest.approx(0.5 ** (32 / 10_000))


def test_update_ema_lerps_parameters_and_copies_buffers():
    G, G_ema = ToyGenerator(), ToyGenerator()
    G.w_avg.fill_(3.0)
    before = G_ema.M.detach().clone()
    update_ema(G_ema, G, beta=0.75)
    assert torch.allclose(G_ema.M, 0.75 * before + 0.25 * G.M.detach())
    assert torch.equal(G_ema.w_avg, G.w_avg)


def test_lazy_adam_correction():
    params = [nn.Parameter(torch.zeros(3))]
    opt = lazy_adam(params, lr=0.002, betas=(0.0, 0.99), eps=1e-8, reg_interval=16)
    group = opt.param_groups[0]
    c = 16 / 17
    assert group["lr"] == pytest.approx(0.002 * c)
    assert group["betas"][0] == 0.0 and group["betas"][1] == pytest.approx(0.99**c)
    assert group["eps"] == 1e-8
    plain = lazy_adam(params, lr=0.002, betas=(0.0, 0.99), eps=1e-8, reg_interval=None)
    assert plain.param_groups[0]["lr"] == 0.002 and plain.param_groups[0]["betas"] == (0, 0.99)


def test_blur_of_d_inputs_fades_out_and_keeps_the_mean():
    from stylegan.training.loss import blur, blur_sigma

    assert blur_sigma(0, 10.0, 200.0) == 10.0
    assert blur_sigma(100_000, 10.0, 200.0) == pytest.approx(5.0)
    assert blur_sigma(250_000, 10.0, 200.0) == 0.0
    assert blur_sigma(0, 10.0, 0.0) == 0.0
    img = torch.zeros(1, 1, 32, 32)
    img[0, 0, 16, 16] = 1.0
    out = blur(img, 2.0)
    assert out.sum().item() == pytest.approx(1.0, abs=1e-5)  # normalised taps
    # Separable 2^-(x/sigma)^2 profile around the impulse.
    row = out[0, 0, 16, 10:23]
    taps = torch.arange(-6, 7).div(2.0).square().neg().exp2()
    expected = taps / taps.sum() * (taps[6] / taps.sum())
    assert torch.allclose(row, expected, atol=1e-6)
    assert torch.equal(blur(img, 0.3), img)  # under a pixel of support: untouched


class _Double(torch.nn.Module):
    """A stand-in augmentation: doubles the images (its Jacobian is 2)."""

    def forward(self, img):
        return img * 2


class _SumCritic(torch.nn.Module):
    def forward(self, img, c=None, update_emas=False):
        return img.flatten(1).sum(1, keepdim=True)


def test_augmentation_reaches_d_and_r1_flows_through_it():
    D = _SumCritic()
    real = torch.randn(2, 3, 4, 4)
    c = torch.zeros(2, 0)
    plain = loss.run_discriminator(D, real, c)
    augmented = loss.run_discriminator(D, real, c, augment_pipe=_Double())
    torch.testing.assert_close(augmented, plain * 2)
    # R1's gradient is taken w.r.t. the un-augmented reals, through the pipe: |2 * 1|^2 per pixel.
    r1 = loss.discriminator_r1(D, real, c, gamma=2.0, augment_pipe=_Double())
    torch.testing.assert_close(r1.loss, torch.tensor(4.0 * 48))
    r1_plain = loss.discriminator_r1(D, real, c, gamma=2.0)
    torch.testing.assert_close(r1_plain.loss, torch.tensor(48.0))
