"""PPL sampling against analytically known toy generators and direct numpy computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from stylegan.metrics.ppl import ppl_from_samples, ppl_preprocess, ppl_samples, unit_slerp
from tiny_networks import tiny_network

# ----------------------------------------------------------------------------------------------
# Toy generator: identity mapping, synthesis linear in w, with an optional noise buffer.


class LinearMapping(nn.Module):
    """w = z (plus c added to the first entries), broadcast to ``num_ws``; records its calls."""

    def __init__(self, z_dim, c_dim, num_ws):
        super().__init__()
        self.z_dim, self.c_dim, self.num_ws = z_dim, c_dim, num_ws
        self.calls = []

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, update_emas=False):
        self.calls.append((z.clone(), c.clone()))
        w = z.clone()
        if self.c_dim:
            w[:, : self.c_dim] += c
        return w[:, None].repeat(1, self.num_ws, 1)


class LinearSynthesis(nn.Module):
    """img = B w[:, 0] (+ noise_const), with B having orthonormal columns, so ``|img0 - img1|``
    equals ``|w0 - w1|`` whenever both images of a pair share the noise."""

    def __init__(self, w_dim, resolution, channels, noise_scale=0.0, scale=1.0):
        super().__init__()
        self.resolution, self.channels = resolution, channels
        g = torch.Generator().manual_seed(0)
        q, _ = torch.linalg.qr(torch.randn(channels * resolution**2, w_dim, generator=g))
        self.register_buffer("basis", q * scale)
        self.register_buffer("noise_const", torch.zeros(resolution, resolution))
        self.noise_scale = noise_scale
        self.calls = []

    def forward(self, ws, noise_mode="random", **kwargs):
        self.calls.append(
            dict(ws=ws.clone(), noise=self.noise_const.clone(), mode=noise_mode, **kwargs)
        )
        img = (ws[:, 0] @ self.basis.T).reshape(-1, self.channels, self.resolution, self.resolution)
        return img + self.noise_scale * self.noise_const


class LinearG(nn.Module):
    def __init__(
        self, z_dim=16, c_dim=0, resolution=4, channels=3, num_ws=3, noise_scale=0.0, scale=1.0
    ):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, z_dim
        self.img_resolution, self.img_channels = resolution, channels
        self.mapping = LinearMapping(z_dim, c_dim, num_ws)
        self.synthesis = LinearSynthesis(z_dim, resolution, channels, noise_scale, scale)


def sq_dist_w_units(img0, img1):
    """Squared L2 distance, undoing the [0, 255] scaling: ``|w0 - w1|^2`` for the toy G.

    (The generator's pixels are O(1), not tiny, because float32 images at the 0..255 scale resolve
    an ``eps = 1e-4`` step only to about 1e-3 relative when the pixel steps are that large.)"""
    return ((img0 - img1) / 127.5).square().sum(dim=(1, 2, 3))


# ----------------------------------------------------------------------------------------------
# unit_slerp


def test_unit_slerp_endpoints_unit_norm_and_constant_speed():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 7, generator=g, dtype=torch.float64)
    b = torch.randn(5, 7, generator=g, dtype=torch.float64)
    ah, bh = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    torch.testing.assert_close(unit_slerp(a, b, 0.0), ah)
    torch.testing.assert_close(unit_slerp(a, b, 1.0), bh)
    t = torch.rand(5, 1, generator=g, dtype=torch.float64)
    out = unit_slerp(a, b, t)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(5, dtype=torch.float64))
    # On the great circle: angle to a is t * angle(a, b), angle to b the rest.
    theta = torch.acos((ah * bh).sum(1))
    torch.testing.assert_close(torch.acos((out * ah).sum(1)), t[:, 0] * theta)
    torch.testing.assert_close(torch.acos((out * bh).sum(1)), (1 - t[:, 0]) * theta)
    # Scaling either end does not matter.
    torch.testing.assert_close(unit_slerp(3 * a, 0.5 * b, t), out)


# ----------------------------------------------------------------------------------------------
# Sampling


def test_w_space_samples_equal_squared_w_difference_and_t_uniform():
    G = LinearG(z_dim=16)
    dist = ppl_samples(G, sq_dist_w_units, num_samples=50, space="w", crop=False, batch_size=16)
    assert dist.shape == (50,) and dist.dtype == np.float64
    maps, syns = G.mapping.calls, G.synthesis.calls
    assert len(maps) == len(syns) == 4  # batches of 16, 16, 16, 2
    expected, ts = [], []
    for (zz, _), call in zip(maps, syns):
        w0, w1 = zz.chunk(2)  # identity mapping: w = z
        wt0, wt1 = call["ws"][:, 0].chunk(2)
        # Linear synthesis: |img(t) - img(t + eps)| / eps = |w1 - w0| for every t.
        expected.append((w1 - w0).square().sum(1))
        torch.testing.assert_close(wt1 - wt0, 1e-4 * (w1 - w0), rtol=1e-3, atol=5e-7)  # f32
        ts.append(((wt0 - w0) * (w1 - w0)).sum(1) / (w1 - w0).square().sum(1))
    np.testing.assert_allclose(dist, torch.cat(expected).numpy(), rtol=5e-3)
    t = torch.cat(ts)
    assert t.min() >= -1e-6 and t.max() <= 1 + 1e-6 and t.std() > 0.15  # spread over [0, 1]
    # A whole-distribution check: w1 - w0 ~ N(0, 2I), so the mean is 2 * z_dim.
    assert dist.mean() == pytest.approx(2 * 16, rel=0.25)


def test_end_sampling_uses_the_path_start():
    G = LinearG(z_dim=8)
    ppl_samples(G, sq_dist_w_units, num_samples=6, space="w", sampling="end", crop=False)
    for (zz, _), call in zip(G.mapping.calls, G.synthesis.calls):
        w0, _w1 = zz.chunk(2)
        wt0, _ = call["ws"][:, 0].chunk(2)
        torch.testing.assert_close(wt0, w0, rtol=0, atol=0)  # t = 0 exactly


def test_z_space_ppl_matches_great_circle_angle():
    # Mapping w = z and a distance |w0 - w1|^2: a slerp step of eps moves eps * theta on the unit
    # sphere, so each sample is theta^2. In 2-D, theta ~ U(0, pi), and after dropping the
    # 1 % tails the mean of theta^2 is (pi^2 / 3) * (0.99^3 - 0.01^3) / 0.98.
    G = LinearG(z_dim=2)
    dist = ppl_samples(G, sq_dist_w_units, num_samples=4000, space="z", crop=False, batch_size=1000)
    assert dist.min() >= 0 and dist.max() <= math.pi**2 * 1.01
    expected = math.pi**2 / 3 * (0.99**3 - 0.01**3) / 0.98
    assert ppl_from_samples(dist) == pytest.approx(expected, rel=0.05)


def test_z_space_end_sampling_uses_the_path_start():
    G = LinearG(z_dim=8)
    ppl_samples(G, sq_dist_w_units, num_samples=4, space="z", sampling="end", crop=False)
    zt = G.mapping.calls[0][0]
    zt0, zt1 = zt.chunk(2)
    torch.testing.assert_close(zt0.norm(dim=1), torch.ones(2))  # slerp output: unit vectors
    angle = torch.acos((zt0 * zt1).sum(1).clamp(-1, 1))
    assert (angle < 1e-3).all()  # one eps step along the circle


def test_pairs_share_noise_and_noise_is_redrawn_per_batch_then_restored():
    G = LinearG(z_dim=8, noise_scale=0.5)
    before = G.synthesis.noise_const.clone()
    dist = ppl_samples(G, sq_dist_w_units, num_samples=9, space="w", crop=False, batch_size=3)
    calls = G.synthesis.calls
    assert all(c["mode"] == "const" and c["force_fp32"] is True for c in calls)
    # Large noise, yet each sample is still |w1 - w0|^2: both images of a pair saw the same noise.
    expected = torch.cat(
        [(z.chunk(2)[1] - z.chunk(2)[0]).square().sum(1) for z, _ in G.mapping.calls]
    )
    np.testing.assert_allclose(dist, expected.numpy(), rtol=5e-3)
    noises = [c["noise"] for c in calls]
    assert all(n.std() > 0.5 for n in noises)  # redrawn from N(0, 1) ...
    assert not torch.equal(noises[0], noises[1])  # ... per batch
    torch.testing.assert_close(G.synthesis.noise_const, before, rtol=0, atol=0)  # restored


def test_seed_reproducibility_and_batch_remainder():
    kw = dict(num_samples=7, space="z", crop=False, batch_size=3)
    a = ppl_samples(LinearG(), sq_dist_w_units, seed=1, **kw)
    b = ppl_samples(LinearG(), sq_dist_w_units, seed=1, **kw)
    c = ppl_samples(LinearG(), sq_dist_w_units, seed=2, **kw)
    assert a.shape == (7,)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    seen = []
    ppl_samples(LinearG(), sq_dist_w_units, progress=seen.append, **kw)
    assert seen == [3, 6, 7]


def test_conditional_labels_uniform_one_hot_or_from_sampler():
    G = LinearG(z_dim=8, c_dim=3)
    ppl_samples(G, sq_dist_w_units, num_samples=64, space="w", crop=False, batch_size=32)
    labels = []
    for _, c in G.mapping.calls:
        c0, c1 = c.chunk(2)
        torch.testing.assert_close(c0, c1, rtol=0, atol=0)  # both ends share the label
        assert torch.equal(c0.sum(1), torch.ones(32)) and set(c0.unique().tolist()) == {0.0, 1.0}
        labels.append(c0.argmax(1))
    assert set(torch.cat(labels).tolist()) == {0, 1, 2}

    G = LinearG(z_dim=8, c_dim=3)
    requested = []

    def sampler(n):
        requested.append(n)
        return torch.tensor([[0.0, 0.0, 1.0]]).repeat(n, 1)

    ppl_samples(
        G, sq_dist_w_units, num_samples=5, space="z", crop=False, batch_size=2, c_sampler=sampler
    )
    assert requested == [2, 2, 1]
    for _, c in G.mapping.calls:
        assert (c.argmax(1) == 2).all()


def test_images_reach_distance_fn_in_0_255():
    G = LinearG(z_dim=8, channels=1, scale=0.01)
    seen = []

    def distance(img0, img1):
        seen.append((img0, img1))
        return torch.zeros(img0.shape[0])

    ppl_samples(G, distance, num_samples=2, crop=False)
    img0, img1 = seen[0]
    assert img0.shape == img1.shape == (2, 3, 4, 4)  # grayscale repeated to RGB
    assert img0.min() > 0 and img0.max() < 255 and abs(img0.mean().item() - 127.5) < 5


def test_rejects_bad_arguments():
    G = LinearG()
    with pytest.raises(ValueError, match="space"):
        ppl_samples(G, sq_dist_w_units, num_samples=2, space="x")
    with pytest.raises(ValueError, match="sampling"):
        ppl_samples(G, sq_dist_w_units, num_samples=2, sampling="mid")
    with pytest.raises(ValueError, match="returned 1 values for 2 pairs"):
        ppl_samples(G, lambda a, b: torch.zeros(1), num_samples=2, crop=False)


def test_runs_on_the_real_generator():
    G = tiny_network("stylegan2.Generator", c_dim=2).eval()
    buffers = {k: v.clone() for k, v in G.named_buffers() if k.endswith("noise_const")}
    assert buffers
    dist = ppl_samples(G, sq_dist_w_units, num_samples=4, space="w", crop=True, batch_size=2)
    assert dist.shape == (4,) and np.isfinite(dist).all() and (dist > 0).all()
    for k, v in G.named_buffers():
        if k in buffers:
            torch.testing.assert_close(v, buffers[k], rtol=0, atol=0)


# ----------------------------------------------------------------------------------------------
# Preprocessing geometry


def test_crop_and_downsample_geometry_at_512():
    res = 512
    ys, xs = np.meshgrid(np.arange(res), np.arange(res), indexing="ij")
    img_np = np.stack([ys, xs, ys + xs]).astype(np.float64)[None] / res - 1  # [1, 3, H, W]
    out = ppl_preprocess(torch.from_numpy(img_np), crop=True, img_resolution=res).numpy()
    # Official crop with unit u = H // 8 = 64: rows 192..447, columns 128..383 (256 x 256), then
    # the factor comes from the full resolution: 512 // 256 = 2, so 2x2 area means -> 128 x 128.
    crop = img_np[:, :, 192:448, 128:384]
    expected = crop.reshape(1, 3, 128, 2, 128, 2).mean(axis=(3, 5))
    expected = (expected + 1) * 127.5
    assert out.shape == (1, 3, 128, 128)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    # The top-left output pixel averages rows 192-193 and columns 128-129.
    assert out[0, 0, 0, 0] == pytest.approx((192.5 / res) * 127.5)
    assert out[0, 1, 0, 0] == pytest.approx((128.5 / res) * 127.5)

    full = ppl_preprocess(torch.from_numpy(img_np), crop=False).numpy()
    assert full.shape == (1, 3, 256, 256)
    expected_full = (img_np.reshape(1, 3, 256, 2, 256, 2).mean(axis=(3, 5)) + 1) * 127.5
    np.testing.assert_allclose(full, expected_full, rtol=1e-12)


def test_preprocess_small_and_large_resolutions():
    small = torch.zeros(2, 1, 64, 64)
    out = ppl_preprocess(small, crop=True)
    assert out.shape == (2, 3, 32, 32)  # no downsampling below 256 px; gray -> RGB
    assert torch.all(out == 127.5)
    big = torch.zeros(1, 3, 1024, 1024)
    assert ppl_preprocess(big, crop=True).shape == (1, 3, 128, 128)
    assert ppl_preprocess(big, crop=False).shape == (1, 3, 256, 256)


# ----------------------------------------------------------------------------------------------
# Outlier rejection


def test_ppl_from_samples_percentile_filter():
    # 1000 values 0..999: the 1st percentile ('lower') is 9, the 99th ('higher') is 990.
    d = np.arange(1000, dtype=np.float64)
    assert ppl_from_samples(d) == pytest.approx(np.arange(9, 991).mean())
    d[-1] = 1e12  # an extreme outlier is dropped
    assert ppl_from_samples(d) == pytest.approx(np.arange(9, 991).mean())

    rng = np.random.default_rng(0)
    x = rng.lognormal(size=5003)
    lo = np.percentile(x, 1, method="lower")
    hi = np.percentile(x, 99, method="higher")
    assert lo in x and hi in x
    assert ppl_from_samples(x) == pytest.approx(x[(x >= lo) & (x <= hi)].mean(), rel=1e-14)
    # Differs from what linear interpolation of the cut points would keep.
    lo_lin, hi_lin = np.percentile(x, [1, 99])
    assert ppl_from_samples(x) != x[(x >= lo_lin) & (x <= hi_lin)].mean()
