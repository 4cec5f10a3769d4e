"""The metric arithmetic against direct computations (scipy only as an independent reference)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan.metrics.maths import (
    FeatureStats,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)

# ----------------------------------------------------------------------------------------------
# FID


def _random_stats(rng, d, n):
    x = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + rng.standard_normal(d)
    return x.mean(axis=0), np.cov(x, rowvar=False, bias=True)


def test_fid_matches_scipy_sqrtm():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(0)
    for d in (3, 16, 64):
        mu1, s1 = _random_stats(rng, d, 4 * d)
        mu2, s2 = _random_stats(rng, d, 4 * d)
        root = scipy_linalg.sqrtm(s1 @ s2)
        expected = np.real(np.square(mu1 - mu2).sum() + np.trace(s1 + s2 - 2 * root))
        got = frechet_distance(mu1, s1, mu2, s2)
        assert isinstance(got, float)
        assert got == pytest.approx(float(expected), rel=1e-6)


def test_fid_zero_for_identical_stats():
    rng = np.random.default_rng(1)
    mu, s = _random_stats(rng, 32, 200)
    assert abs(frechet_distance(mu, s, mu, s)) < 1e-8 * np.trace(s)


def test_fid_closed_form_for_diagonal_covariances():
    rng = np.random.default_rng(2)
    d = 10
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    v1, v2 = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    # For commuting (diagonal) covariances the trace term is sum (sqrt v1 - sqrt v2)^2.
    expected = np.square(mu1 - mu2).sum() + np.square(np.sqrt(v1) - np.sqrt(v2)).sum()
    got = frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(expected, rel=1e-12)


def test_fid_invariant_to_permuting_feature_dims():
    rng = np.random.default_rng(3)
    mu1, s1 = _random_stats(rng, 20, 80)
    mu2, s2 = _random_stats(rng, 20, 80)
    perm = rng.permutation(20)
    base = frechet_distance(mu1, s1, mu2, s2)
    permuted = frechet_distance(
        mu1[perm], s1[np.ix_(perm, perm)], mu2[perm], s2[np.ix_(perm, perm)]
    )
    assert permuted == pytest.approx(base, rel=1e-10)


def test_fid_singular_covariances_are_finite_and_match_scipy():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(4)
    d, n = 50, 10  # fewer samples than dimensions: rank-deficient covariances
    mu1, s1 = _random_stats(rng, d, n)
    mu2, s2 = _random_stats(rng, d, n)
    assert np.linalg.matrix_rank(s1) < d
    got = frechet_distance(mu1, s1, mu2, s2)
    assert np.isfinite(got) and got > 0
    root = scipy_linalg.sqrtm(s1 @ s2)
    expected = float(np.real(np.square(mu1 - mu2).sum() + np.trace(s1 + s2 - 2 * root)))
    assert got == pytest.approx(expected, rel=1e-6)
    # Identical singular statistics: still zero, not NaN.
    assert abs(frechet_distance(mu1, s1, mu1, s1)) < 1e-8 * np.trace(s1)


def test_fid_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape mismatch"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


# ----------------------------------------------------------------------------------------------
# FeatureStats


def test_feature_stats_streaming_matches_numpy():
    rng = np.random.default_rng(5)
    # A large offset next to a small spread is where the raw-moment formula loses digits.
    x = rng.standard_normal((1000, 7)) * 0.01 + 1000.0
    stats = FeatureStats()
    for batch in np.array_split(x, [1, 2, 100, 457, 999]):  # uneven batches, one of size 1
        stats.append(batch)
    mean, cov = stats.mean_cov()
    assert stats.num_items == 1000 and stats.num_features == 7
    np.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-13)
    # Biased covariance (divide by N), as the official FeatureStats.get_mean_cov.
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False, bias=True), rtol=1e-8, atol=1e-14)


def test_feature_stats_accepts_torch_and_keeps_all_features():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((50, 4)).astype(np.float32)
    stats = FeatureStats(capture_all=True)
    stats.append(torch.from_numpy(x[:20]))
    stats.append(x[20:])
    np.testing.assert_array_equal(stats.features(), x)
    assert stats.features().dtype == np.float32


def test_feature_stats_capacity():
    x = np.arange(30, dtype=np.float64).reshape(10, 3)
    stats = FeatureStats(capture_all=True, max_items=7)
    stats.append(x[:4])
    assert not stats.is_full()
    stats.append(x[4:])  # only 3 of these 6 rows fit
    assert stats.is_full() and stats.num_items == 7
    stats.append(x)  # full: ignored
    assert stats.num_items == 7
    np.testing.assert_array_equal(stats.features(), x[:7])
    np.testing.assert_allclose(stats.mean_cov()[0], x[:7].mean(axis=0))


def test_feature_stats_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((40, 5))
    stats = FeatureStats(capture_all=True, max_items=100, meta={"detector": "toy", "res": 64})
    stats.append(x)
    path = tmp_path / "sub" / "stats.npz"
    stats.save(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["stats.npz"]  # no temp files left
    loaded = FeatureStats.load(path)
    assert loaded.num_items == 40 and loaded.num_features == 5 and loaded.max_items == 100
    assert loaded.capture_all and loaded.capture_mean_cov
    assert loaded.meta == {"detector": "toy", "res": 64}
    for a, b in zip(stats.mean_cov(), loaded.mean_cov()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.features(), stats.features())
    # Loaded statistics keep accumulating as if never saved.
    more = rng.standard_normal((10, 5))
    loaded.append(more)
    both = np.concatenate([x, more])
    np.testing.assert_allclose(loaded.mean_cov()[1], np.cov(both, rowvar=False, bias=True))


def test_feature_stats_mean_cov_only_round_trip(tmp_path):
    stats = FeatureStats(capture_mean_cov=True)
    stats.append(np.eye(3))
    stats.save(tmp_path / "s.npz")
    loaded = FeatureStats.load(tmp_path / "s.npz")
    assert loaded.max_items is None and not loaded.capture_all
    np.testing.assert_array_equal(loaded.mean_cov()[1], stats.mean_cov()[1])
    with pytest.raises(ValueError, match="capture_all"):
        loaded.features()


def test_feature_stats_load_rejects_other_npz(tmp_path):
    np.savez(tmp_path / "other.npz", mu=np.zeros(3))
    with pytest.raises(ValueError, match="not a FeatureStats"):
        FeatureStats.load(tmp_path / "other.npz")


# ----------------------------------------------------------------------------------------------
# KID


def _mmd2_unbiased_loops(x, y):
    """Textbook unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, written as explicit loops."""
    m, d = x.shape

    def k(a, b):
        return (float(np.dot(a, b)) / d + 1) ** 3

    kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return (kxx + kyy) / (m * (m - 1)) - 2 * kxy / (m * m)


def test_kid_equals_direct_unbiased_mmd_when_subset_is_everything():
    rng = np.random.default_rng(8)
    real = rng.standard_normal((12, 6))
    fake = rng.standard_normal((12, 6)) + 0.3
    # Subset size = n: every subset is a permutation of the full sets, and MMD is
    # permutation-invariant, so every subset gives the same value.
    got = kernel_inception_distance(real, fake, num_subsets=3, max_subset_size=1000)
    assert got == pytest.approx(_mmd2_unbiased_loops(fake, real), rel=1e-10)


def test_kid_subsets_drawn_like_the_official_after_np_random_seed():
    rng = np.random.default_rng(9)
    real = rng.standard_normal((30, 4))
    fake = rng.standard_normal((25, 4)) * 1.5
    # The official loop, driven by numpy's global generator seeded with the same seed.
    np.random.seed(123)
    m, total = 10, 0.0
    for _ in range(5):
        x = fake[np.random.choice(fake.shape[0], m, replace=False)]
        y = real[np.random.choice(real.shape[0], m, replace=False)]
        total += _mmd2_unbiased_loops(x, y)
    expected = total / 5
    got = kernel_inception_distance(real, fake, num_subsets=5, max_subset_size=m, seed=123)
    assert got == pytest.approx(expected, rel=1e-10)


def test_kid_near_zero_for_same_distribution_and_positive_when_shifted():
    rng = np.random.default_rng(10)
    d = 16
    real = rng.standard_normal((400, d))
    same = rng.standard_normal((400, d))
    shifted = rng.standard_normal((400, d)) + 0.5
    kid_same = kernel_inception_distance(real, same, num_subsets=10, max_subset_size=200)
    kid_shift = kernel_inception_distance(real, shifted, num_subsets=10, max_subset_size=200)
    assert abs(kid_same) < 0.02
    assert kid_shift > 0.2
    assert kid_shift > 20 * abs(kid_same)


def test_kid_deterministic_for_a_seed():
    rng = np.random.default_rng(11)
    real, fake = rng.standard_normal((100, 5)), rng.standard_normal((80, 5))
    kw = dict(num_subsets=4, max_subset_size=30)
    a = kernel_inception_distance(real, fake, seed=5, **kw)
    assert a == kernel_inception_distance(real, fake, seed=5, **kw)
    assert a != kernel_inception_distance(real, fake, seed=6, **kw)


# ----------------------------------------------------------------------------------------------
# Precision / recall


def _pr_brute_force(real, fake, k):
    def dists(a, b):
        return np.sqrt(np.square(a[:, None, :] - b[None, :, :]).sum(-1))

    def radii(s):
        return np.sort(dists(s, s), axis=1)[:, k]  # column 0 is the point itself

    prec = (dists(fake, real) <= radii(real)[None, :]).any(axis=1).mean()
    rec = (dists(real, fake) <= radii(fake)[None, :]).any(axis=1).mean()
    return float(prec), float(rec)


def test_pr_identical_sets():
    rng = np.random.default_rng(12)
    real = rng.standard_normal((60, 8))
    assert precision_recall(real, real.copy(), k=3) == (1.0, 1.0)


def test_pr_disjoint_sets():
    rng = np.random.default_rng(13)
    real = rng.standard_normal((60, 8))
    fake = rng.standard_normal((60, 8)) + 100
    assert precision_recall(real, fake, k=3) == (0.0, 0.0)


def test_pr_fakes_covering_half_the_real_support():
    rng = np.random.default_rng(14)
    # Reals uniform on the unit square; fakes uniform on its left half only.
    real = rng.uniform(0, 1, (1000, 2))
    fake = rng.uniform(0, 1, (1000, 2)) * [0.5, 1.0]
    precision, recall = precision_recall(real, fake, k=3)
    assert precision > 0.97
    assert 0.45 < recall < 0.6  # 0.5 plus the fake balls reaching a little past x = 0.5


def test_pr_batched_equals_brute_force():
    rng = np.random.default_rng(15)
    real = rng.standard_normal((97, 5))
    fake = rng.standard_normal((83, 5)) * 1.3 + 0.4
    expected = _pr_brute_force(real, fake, k=3)
    assert 0 < expected[0] < 1 and 0 < expected[1] < 1  # a non-trivial case
    for rb, cb in [(10000, 10000), (7, 11), (1, 5), (50, 1)]:
        got = precision_recall(real, fake, k=3, row_batch_size=rb, col_batch_size=cb)
        assert got == pytest.approx(expected, abs=1e-12), (rb, cb)
    got_k1 = precision_recall(real, fake, k=1, row_batch_size=13, col_batch_size=17)
    assert got_k1 == pytest.approx(_pr_brute_force(real, fake, k=1), abs=1e-12)


def test_pr_float64_dtype_and_errors():
    rng = np.random.default_rng(16)
    real, fake = rng.standard_normal((20, 3)), rng.standard_normal((20, 3))
    got = precision_recall(real, fake, k=2, dtype=torch.float64, row_batch_size=6)
    assert got == pytest.approx(_pr_brute_force(real, fake, k=2), abs=1e-12)
    with pytest.raises(ValueError, match="more than k"):
        precision_recall(real[:3], fake, k=3)


# ----------------------------------------------------------------------------------------------
# Inception score


def test_is_uniform_predictions_give_one():
    probs = np.full((100, 10), 0.1)
    mean, std = inception_score(probs, num_splits=10)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_is_confident_and_evenly_spread_gives_number_of_classes():
    c = 7
    probs = np.eye(c)[np.arange(70) % c]  # each split of 7 holds every class once
    mean, std = inception_score(probs, num_splits=10)
    assert mean == pytest.approx(c, rel=1e-12) and std == pytest.approx(0.0, abs=1e-9)


def test_is_std_across_splits_and_split_boundaries():
    rng = np.random.default_rng(17)
    logits = rng.standard_normal((53, 6)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    scores = []
    for i in range(4):  # the official split boundaries i*N//S, uneven for N = 53
        part = probs[i * 53 // 4 : (i + 1) * 53 // 4]
        py = part.mean(0)
        kl = [sum(p[j] * np.log(p[j] / py[j]) for j in range(6)) for p in part]
        scores.append(np.exp(np.mean(kl)))
    mean, std = inception_score(probs, num_splits=4)
    assert mean == pytest.approx(np.mean(scores), rel=1e-12)
    assert std == pytest.approx(np.std(scores), rel=1e-9)  # population std, ddof=0
    assert std > 0
