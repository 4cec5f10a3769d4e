"""The direction file format (ours and the published ones) and style-space access."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.tools.direction_set import DirectionSet, load_directions, parse_layers
from stylegan.tools.styles import compute_styles, style_layers, style_offsets
from tiny_networks import tiny_network

GENERATORS = ["stylegan1.Generator", "stylegan2.Generator", "stylegan3.Generator"]


def test_round_trip_keeps_every_field(tmp_path):
    rng = np.random.default_rng(0)
    made = DirectionSet(
        rng.standard_normal((3, 16)), method="ganspace", layers=(1, 2), names=["a", "b", "c"],
        unit=[1.0, 2.0, 3.0], num_ws=6, mean=rng.standard_normal(16), eigenvalues=[3, 2, 1],
    )  # fmt: skip
    back = load_directions(made.save(tmp_path / "d.npz"))
    np.testing.assert_array_equal(back.vectors, made.vectors)
    np.testing.assert_array_equal(back.unit, made.unit)
    np.testing.assert_array_equal(back.mean, made.mean.astype(np.float32))
    assert (back.method, back.space, back.layers, back.names, back.num_ws) == (
        "ganspace", "w", (1, 2), ["a", "b", "c"], 6,
    )  # fmt: skip
    np.testing.assert_allclose(back.scaled("c"), made.vectors[2] * 3)
    assert (
        load_directions(DirectionSet(np.ones((1, 4)), "sefa").save(tmp_path / "e.npz")).layers
        is None
    )


def test_reads_interfacegan_boundary_and_ganspace_cache(tmp_path):
    boundary = np.random.default_rng(1).standard_normal((1, 16)).astype(np.float32)
    np.save(tmp_path / "boundary_smile.npy", boundary)
    read = load_directions(tmp_path / "boundary_smile.npy")
    assert (read.method, read.names, read.vectors.shape) == (
        "interfacegan",
        ["boundary_smile"],
        (1, 16),
    )
    np.testing.assert_array_equal(read.vectors, boundary)

    comp = np.random.default_rng(2).standard_normal((5, 1, 16)).astype(np.float32)
    np.savez_compressed(
        tmp_path / "ganspace.npz", lat_comp=comp, lat_mean=np.zeros((1, 16), np.float32),
        lat_stdev=np.arange(1, 6, dtype=np.float32), act_comp=comp,
    )  # fmt: skip
    read = load_directions(tmp_path / "ganspace.npz")
    assert read.method == "ganspace" and read.vectors.shape == (5, 16)
    np.testing.assert_array_equal(read.unit, np.arange(1, 6))


def test_bad_files_give_one_line_errors(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    for path in [tmp_path / "missing.npz", tmp_path / "junk.npz"]:
        with pytest.raises(StyleGANError, match="direction file"):
            load_directions(path)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(StyleGANError, match="not a direction file"):
        load_directions(tmp_path / "other.npz")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(StyleGANError):  # object arrays would need pickle: refused
        load_directions(tmp_path / "objects.npy")
    with pytest.raises(StyleGANError, match="non-finite"):
        np.save(tmp_path / "nan.npy", np.full((1, 4), np.nan))
        load_directions(tmp_path / "nan.npy")


def test_check_network_names_the_mismatch():
    G = tiny_network("stylegan2.Generator")
    DirectionSet(np.ones((1, G.w_dim)), "sefa", num_ws=G.num_ws).check_network(G)
    with pytest.raises(StyleGANError, match=f"w_dim {G.w_dim + 1}, but the network has {G.w_dim}"):
        DirectionSet(np.ones((1, G.w_dim + 1)), "sefa").check_network(G)
    with pytest.raises(StyleGANError, match="num_ws"):
        DirectionSet(np.ones((1, G.w_dim)), "sefa", num_ws=G.num_ws + 2).check_network(G)
    with pytest.raises(StyleGANError, match="outside"):
        DirectionSet(np.ones((1, G.w_dim)), "sefa", layers=(G.num_ws,)).check_network(G)


def test_parse_layers():
    presets = {"coarse": (0, 1), "fine": (6, 99)}
    assert parse_layers(None, 8) == tuple(range(8))
    assert parse_layers("2-4,7", 8) == (2, 3, 4, 7)
    assert parse_layers("fine", 8, presets) == (6, 7)
    for bad in ["2-9", "x", "3:4"]:
        with pytest.raises(StyleGANError, match="layers"):
            parse_layers(bad, 8, presets)


@pytest.mark.parametrize("name", GENERATORS)
def test_style_layers_find_each_affine_and_its_w(name):
    G = tiny_network(name).eval()
    layers = style_layers(G)
    affines = [
        n for n, _ in G.named_modules() if n.startswith("synthesis.") and n.endswith("affine")
    ]
    assert sorted(la.name for la in layers) == sorted(affines)
    assert [la.offset for la in layers] == list(
        np.cumsum([0] + [la.channels for la in layers[:-1]])
    )
    indices = [la.w_index for la in layers]
    assert indices == sorted(indices) and set(indices) <= set(range(G.num_ws))

    ws = G.mapping(torch.randn(2, G.z_dim), None)
    styles = compute_styles(G, ws)
    assert styles.shape == (2, sum(la.channels for la in layers))
    # Zero offsets change nothing; a non-zero offset on one layer changes the image.
    with torch.no_grad():
        base = G.synthesis(ws, noise_mode="const")
        with style_offsets(G, torch.zeros(styles.shape[1])):
            same = G.synthesis(ws, noise_mode="const")
        offsets = torch.zeros(styles.shape[1])
        target = layers[len(layers) // 2]
        offsets[target.offset : target.offset + target.channels] = 1.0
        with style_offsets(G, offsets):
            moved = G.synthesis(ws, noise_mode="const")
        after = G.synthesis(ws, noise_mode="const")  # hooks removed
    torch.testing.assert_close(same, base)
    torch.testing.assert_close(after, base)
    assert (moved - base).abs().max() > 1e-4
