"""Finding directions: SeFa, GANSpace (PCA), InterFaceGAN and StyleSpace channel ranking."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.tools.direction_set import DirectionSet, layer_presets, load_directions
from stylegan.tools.directions import (
    ganspace,
    pca_components,
    sefa,
    stylespace_channels,
    stylespace_stats,
)
from stylegan.tools.interfacegan import (
    class_samples,
    fit_linear_classifier,
    interfacegan,
    interfacegan_boundary,
    read_seed_scores,
)
from stylegan.tools.styles import compute_styles, style_layers
from tiny_networks import tiny_network

GENERATORS = ["stylegan1.Generator", "stylegan2.Generator", "stylegan3.Generator"]


def test_layer_presets_scale_sefa_to_the_network():
    assert layer_presets(18) == {"coarse": (0, 1), "middle": (2, 5), "fine": (6, 13)}
    assert layer_presets(14) == {"coarse": (0, 1), "middle": (2, 4), "fine": (5, 10)}
    assert layer_presets(6) == {"coarse": (0, 0), "middle": (1, 1), "fine": (2, 4)}


def _sefa_matrix_by_hand(G, layers):
    """SeFa's A as its ``factorize_weight`` builds it: weight.T of each used affine, stacked side
    by side, columns normalised (ToRGBs before the last one are not used)."""
    every = style_layers(G)
    columns = []
    for layer in every:
        if "torgb" in layer.name and layer is not every[-1]:
            continue
        if layer.w_index in layers:
            m = layer.module
            columns.append((m.weight * m.weight_gain).detach().double().numpy().T)
    A = np.concatenate(columns, axis=1)
    norms = np.linalg.norm(A, axis=0)
    return A[:, norms > 0] / norms[norms > 0]


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("layers", ["all", "fine"])
def test_sefa_directions_are_orthonormal_eigenvectors(name, layers):
    G = tiny_network(name).eval()
    made = sefa(G, layers)
    assert made.method == "sefa" and made.num_ws == G.num_ws and len(made) == G.w_dim
    np.testing.assert_allclose(made.vectors @ made.vectors.T, np.eye(len(made)), atol=1e-5)
    A = _sefa_matrix_by_hand(G, made.layers)
    AAt = A @ A.T  # [w_dim, w_dim]: SeFa's weight.dot(weight.T)
    v, lam = made.vectors.astype(np.float64), made.eigenvalues.astype(np.float64)
    np.testing.assert_allclose(v @ AAt, lam[:, None] * v, atol=1e-4 * lam[0])
    assert (np.diff(lam) <= 1e-6).all()  # descending
    assert np.allclose(made.unit, 1)


def test_sefa_layers_change_the_directions_and_are_recorded():
    G = tiny_network("stylegan2.Generator").eval()
    fine, every = sefa(G, "fine", num=3), sefa(G, "all", num=3)
    assert fine.layers == (2, 3, 4) and every.layers == tuple(range(G.num_ws)) and len(fine) == 3
    assert abs(float(fine.vectors[0] @ every.vectors[0])) < 0.999
    assert sefa(G, "1-2").layers == (1, 2)
    with pytest.raises(StyleGANError, match="layers"):
        sefa(G, "4-9")


def test_pca_recovers_the_axes_of_a_known_gaussian():
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.standard_normal((8, 8)))  # columns: the true axes
    stds = np.array([5.0, 3.0, 2.0, 1.0, 0.5, 0.4, 0.3, 0.2])
    mean = rng.standard_normal(8) * 10

    def batches():  # 40,000 samples, never more than 1,000 at once
        for _ in range(40):
            yield (rng.standard_normal((1000, 8)) * stds) @ basis.T + mean

    pca = pca_components(batches(), num_components=4)
    assert pca.count == 40_000 and pca.components.shape == (4, 8)
    cosines = np.abs(np.sum(pca.components * basis[:, :4].T, axis=1))
    assert (cosines > 0.999).all(), cosines
    np.testing.assert_allclose(np.sqrt(pca.variances), stds[:4], rtol=0.03)
    np.testing.assert_allclose(pca.mean, mean, atol=0.05)
    np.testing.assert_allclose(pca.explained.sum(), (stds[:4] ** 2).sum() / (stds**2).sum(), 1e-2)


@pytest.mark.parametrize("name", ["stylegan1.Generator", "stylegan3.Generator"])
def test_ganspace_on_a_network(name):
    G = tiny_network(name).eval()
    made = ganspace(G, 3000, 4, seed=1, batch_size=500, layers="fine", progress=False)
    assert (made.method, made.layers, len(made), made.info["samples"]) == (
        "ganspace", tuple(range(*np.add(layer_presets(G.num_ws)["fine"], (0, 1)))), 4, 3000,
    )  # fmt: skip
    np.testing.assert_allclose(np.linalg.norm(made.vectors, axis=1), 1, atol=1e-5)
    # unit is the std of w projected on each component, as GANSpace's lat_stdev.
    with torch.no_grad():
        w = G.mapping(torch.randn(4000, G.z_dim, generator=torch.Generator().manual_seed(5)), None)
    projected = (w[:, 0].double().numpy() - made.mean) @ made.vectors.T.astype(np.float64)
    np.testing.assert_allclose(projected.std(axis=0), made.unit, rtol=0.1)
    again = ganspace(G, 3000, 4, seed=1, batch_size=700, layers="fine", progress=False)
    np.testing.assert_allclose(again.vectors, made.vectors, atol=1e-4)  # batch size: same PCA


def _separable(n=20_000, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    normal = rng.standard_normal(dim)
    normal /= np.linalg.norm(normal)
    x = rng.standard_normal((n, dim)) + 2.0  # off-centre, like w
    scores = (x - 2.0) @ normal + 0.05 * rng.standard_normal(n)
    return x, scores, normal, rng


@pytest.mark.parametrize("classifier", ["svm", "logistic"])
def test_interfacegan_recovers_the_normal(classifier):
    x, scores, normal, _ = _separable()
    made = interfacegan(x, scores, classifier=classifier, space="z")
    assert made.method == "interfacegan" and made.space == "z" and len(made) == 1
    assert float(made.vectors[0] @ normal) > 0.99  # sign too: positives lie along +n
    assert made.info["validation_accuracy"] > 0.95
    assert made.info["train_per_side"] == int(int(20_000 * 0.02) * 0.7)


def test_linear_classifier_separates_a_shifted_set():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((400, 5)) + np.r_[0, 0, 3, 0, 0] * np.repeat([[1], [-1]], 200, 0)
    labels = np.r_[np.ones(200, bool), np.zeros(200, bool)]
    weight, bias = fit_linear_classifier(x, labels, "svm")
    assert ((x @ weight + bias > 0) == labels).mean() > 0.98
    assert np.argmax(np.abs(weight)) == 2


def test_conditional_boundary_is_orthogonal_to_its_conditions():
    x, scores, normal, rng = _separable()
    first = rng.standard_normal(16)
    first /= np.linalg.norm(first)
    one = interfacegan(x, scores, conditions=[first])
    assert abs(float(one.vectors[0] @ first)) < 1e-5
    assert abs(np.linalg.norm(one.vectors[0]) - 1) < 1e-5
    # One condition: n1 - (n1·n2) n2, renormalised, of the unconditioned boundary.
    plain = interfacegan(x, scores).vectors[0].astype(np.float64)
    expected = plain - (plain @ first) * first
    np.testing.assert_allclose(one.vectors[0], expected / np.linalg.norm(expected), atol=1e-5)
    other = DirectionSet(rng.standard_normal((2, 16)), "sefa")
    several = interfacegan(x, scores, conditions=[first, other])
    np.testing.assert_allclose(other.vectors @ several.vectors[0], 0, atol=1e-5)
    assert several.info["conditions"] == 2
    with pytest.raises(StyleGANError, match="dimensions"):
        interfacegan(x, scores, conditions=[np.ones(3)])


def test_interfacegan_refuses_too_few_samples():
    x, scores, _, _ = _separable(n=50)
    with pytest.raises(StyleGANError, match="more samples"):
        interfacegan(x, scores)


def test_boundary_from_a_score_callable_and_a_csv(tmp_path):
    G = tiny_network("stylegan2.Generator").eval()
    seen = []

    def brightness(images):
        seen.append(images.mean(dim=(1, 2, 3)))
        return seen[-1]

    from_images = interfacegan_boundary(G, brightness, 200, confident_fraction=0.2, progress=False)
    assert from_images.layers == tuple(range(G.num_ws)) and from_images.num_ws == G.num_ws
    assert from_images.info["validation_accuracy"] >= 0.8 and from_images.names == ["brightness"]
    # A CSV of those seeds' scores gives the same boundary (the ws are regenerated from seeds).
    values = torch.cat(seen).tolist()
    csv = tmp_path / "scores.csv"
    csv.write_text("seed,score,extra\n" + "".join(f"{i},{v!r},x\n" for i, v in enumerate(values)))
    from_csv = interfacegan_boundary(G, csv, confident_fraction=0.2, layers="coarse")
    np.testing.assert_allclose(from_csv.vectors, from_images.vectors, atol=1e-4)
    assert from_csv.layers == (0,) and from_csv.names == ["scores"]
    in_z = interfacegan_boundary(G, csv, space="z", confident_fraction=0.2)
    assert in_z.space == "z" and in_z.dim == G.z_dim and in_z.layers is None


def test_class_boundary_of_a_conditional_network():
    G = tiny_network("stylegan2.Generator", c_dim=3).eval()
    made = interfacegan_boundary(G, 1, 600, progress=False)
    assert made.names == ["class1"] and made.info["train_per_side"] == 210
    # The boundary separates class-1 ws from the others' ws (fresh samples).
    pos = class_samples(G, 1, 200, seed=9).numpy() @ made.vectors[0]
    neg = class_samples(G, 1, 200, seed=10, others=True).numpy() @ made.vectors[0]
    assert pos.mean() > neg.mean()
    with pytest.raises(StyleGANError, match="out of range"):
        interfacegan_boundary(G, 3, 100)
    with pytest.raises(StyleGANError, match="unconditional"):
        interfacegan_boundary(tiny_network("stylegan2.Generator").eval(), 0, 100)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("seed,value\n1,2\n", "columns seed and score"),
        ("", "columns seed and score"),
        ("seed,score\n1,abc\n", "line 2"),
        ("seed,score\n-1,0.5\n", "line 2"),
        ("seed,score\n1,nan\n", "line 2"),
    ],
)
def test_bad_score_csvs_say_what_is_wrong(tmp_path, text, fragment):
    path = tmp_path / "s.csv"
    path.write_text(text)
    with pytest.raises(StyleGANError, match=fragment):
        read_seed_scores(path)


def test_score_csv_reads_seeds_and_scores(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(" Seed , Score \n3,0.5\n7,-1\n")
    seeds, scores = read_seed_scores(path)
    assert seeds == [3, 7] and scores.tolist() == [0.5, -1.0]


@pytest.mark.parametrize("name", GENERATORS)
def test_stylespace_ranks_a_planted_channel_first(name):
    # w_dim above the channels any one w feeds, so a w shift can move exactly one channel.
    G = tiny_network(name, w_dim=96).eval()
    mean, std = stylespace_stats(G, 2000, seed=0, batch_size=500, progress=False)
    layers = style_layers(G)
    total = sum(la.channels for la in layers)
    assert mean.shape == std.shape == (total,)
    target = layers[len(layers) // 2]
    channel = target.offset + 3
    # Positives: natural ws, plus the shift of w[target.w_index] that moves style ``channel`` by
    # -3 std and every other style read from that w not at all.
    same_w = [la for la in layers if la.w_index == target.w_index]
    rows = torch.cat([(la.module.weight * la.module.weight_gain).detach() for la in same_w])
    wanted = torch.zeros(len(rows))
    wanted[sum(la.channels for la in same_w[: same_w.index(target)]) + 3] = -3 * float(std[channel])
    shift = torch.linalg.lstsq(rows.double(), wanted.double()).solution.float()
    ws = G.mapping(torch.randn(10, G.z_dim, generator=torch.Generator().manual_seed(1)), None)
    ws[:, target.w_index] += shift
    made = stylespace_channels(G, ws, stats=(mean, std), top=5, progress=False)
    assert made.space == "s" and made.dim == total and len(made) == 5
    assert made.info["channels"][0] == channel, made.names
    assert made.vectors[0, channel] == -1 and made.vectors[0].sum() == -1  # sign folded in
    assert made.unit[0] == pytest.approx(std[channel], rel=1e-6)
    path = target.name.removeprefix("synthesis.").removesuffix(".affine")
    assert made.names[0] == f"{path}:3"
    styles = compute_styles(G, ws).double().numpy()
    assert ((styles[:, channel] - mean[channel]) / std[channel]).mean() < -2


def test_stylespace_needs_two_positives():
    G = tiny_network("stylegan2.Generator").eval()
    with pytest.raises(StyleGANError, match="at least 2"):
        stylespace_channels(G, torch.zeros(1, G.w_dim), num_samples_for_stats=10, progress=False)


def test_info_survives_the_file(tmp_path):
    G = tiny_network("stylegan2.Generator").eval()
    made = sefa(G, "middle", num=2)
    back = load_directions(made.save(tmp_path / "sefa.npz"))
    assert back.info == made.info == {"style_channels": made.info["style_channels"]}
    assert back.layers == made.layers and back.names == made.names
    np.testing.assert_allclose(back.eigenvalues, made.eigenvalues, rtol=1e-6)
