"""Latent edits along a DirectionSet: w, z and style space, on StyleGAN 1, 2 and 3."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.latents import z_from_seeds
from stylegan.tools.direction_set import DirectionSet
from stylegan.tools.editing import (
    apply_direction,
    apply_direction_z,
    edit_grid,
    edit_images,
    parse_strengths,
    sweep_strengths,
)
from stylegan.tools.generate import latents_to_ws, seeds_to_ws, synthesize
from stylegan.tools.projection import load_projected_w
from stylegan.tools.styles import style_layers

GENERATORS = ["stylegan1.Generator", "stylegan2.Generator", "stylegan3.Generator"]


@pytest.fixture(scope="module", params=GENERATORS)
def G(request, make_tiny_network):
    return make_tiny_network(request.param).eval()


def _w_set(G, k=2, seed=0, **kwargs):
    vectors = np.random.default_rng(seed).standard_normal((k, G.w_dim))
    return DirectionSet(vectors, "sefa", num_ws=G.num_ws, **kwargs)


def test_strength_zero_is_the_input_image_exactly_and_others_change_it(G):
    ws = seeds_to_ws(G, [0, 1, 2])
    images = edit_images(G, ws, _w_set(G), 1, "-2,0,2", batch_size=2)
    assert images.shape == (3, 3, G.img_resolution, G.img_resolution, 3)
    base = synthesize(G, ws, batch_size=2)
    assert np.array_equal(images[:, 1], base)
    assert not np.array_equal(images[:, 0], base) and not np.array_equal(images[:, 2], base)
    assert torch.equal(apply_direction(G, ws, _w_set(G), 0, 0.0), ws)


def test_moving_along_w_changes_only_the_chosen_layers(G):
    ws = seeds_to_ws(G, [0, 1])
    directions = _w_set(G, unit=[1.0, 3.0])
    edited = apply_direction(G, ws, directions, 1, 2.0, layers="1-2")
    untouched = [i for i in range(G.num_ws) if i not in (1, 2)]
    assert torch.equal(edited[:, untouched], ws[:, untouched])
    step = torch.from_numpy(directions.vectors[1] * 3.0 * 2.0)
    torch.testing.assert_close(edited[:, [1, 2]], ws[:, [1, 2]] + step)
    # Without layers the set's own apply; without those, all of them.
    own = apply_direction(G, ws, _w_set(G, layers=(0,)), 0, 1.0)
    assert torch.equal(own[:, 1:], ws[:, 1:]) and not torch.equal(own[:, 0], ws[:, 0])
    assert not torch.equal(apply_direction(G, ws, directions, 0, 1.0)[:, -1], ws[:, -1])


def test_style_space_edits_change_the_image_and_strength_zero_does_not(G):
    ws = seeds_to_ws(G, [3, 4])
    total = sum(layer.channels for layer in style_layers(G))
    directions = DirectionSet(np.random.default_rng(1).standard_normal((1, total)), "s", space="s")
    images = edit_images(G, ws, directions, 0, [0.0, 3.0])
    base = synthesize(G, ws)
    assert np.array_equal(images[:, 0], base) and not np.array_equal(images[:, 1], base)
    # Restricted to the last layer's styles, the first layers' do not move (so less changes).
    only_last = edit_images(G, ws, directions, 0, [3.0], layers=[G.num_ws - 1])[:, 0]
    assert not np.array_equal(only_last, images[:, 1])


def test_z_edits_move_z_before_the_mapping(G):
    z = z_from_seeds([0, 1], G.z_dim)
    directions = DirectionSet(np.ones((1, G.z_dim)), "interfacegan", space="z")
    c = torch.zeros(2, G.c_dim)
    images = edit_images(G, z, directions, 0, [0.0, 1.0], c=c)
    assert np.array_equal(images[:, 0], synthesize(G, latents_to_ws(G, z, c)))
    torch.testing.assert_close(apply_direction_z(z, directions, 0, 1.0), z + 1)
    # InterFaceGAN's projection: the result lies at the given distance from the hyperplane.
    moved = apply_direction_z(z, directions, 0, 1.5, mode="project")
    normal = torch.ones(G.z_dim) / G.z_dim**0.5
    torch.testing.assert_close(moved @ normal, torch.full((2,), 1.5))


def test_random_noise_is_the_same_in_every_column(make_tiny_network):
    G = make_tiny_network("stylegan2.Generator").eval()
    for p in G.parameters():  # noise strengths start at 0: give the noise a visible effect
        if p.ndim == 0:
            p.data.fill_(0.5)
    images = edit_images(G, seeds_to_ws(G, [0]), _w_set(G), 0, [0.0, 0.0], noise_mode="random")
    assert np.array_equal(images[:, 0], images[:, 1])


def test_strengths_parse_and_malformed_ones_say_the_forms():
    assert parse_strengths("-3:3:7") == [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    assert parse_strengths("-2,0,2") == [-2.0, 0.0, 2.0] and parse_strengths("1:1:1") == [1.0]
    for bad in ["", "a", "1:2", "1:2:x", "0:1:0", "1,,b"]:
        with pytest.raises(StyleGANError) as error:
            parse_strengths(bad)
        assert "\n" not in str(error.value)
        assert "START:STOP:COUNT" in str(error.value) or "COUNT must be" in str(error.value)


def test_wrong_shapes_give_one_line_errors(tmp_path, make_tiny_network):
    G = make_tiny_network("stylegan2.Generator")
    ws = seeds_to_ws(G, [0])
    wrong_dim = DirectionSet(np.ones((1, G.w_dim + 1)), "sefa")
    wrong_ws = DirectionSet(np.ones((1, G.w_dim)), "sefa", num_ws=G.num_ws + 2)
    for directions, fragment in [(wrong_dim, "w_dim"), (wrong_ws, "num_ws")]:
        with pytest.raises(StyleGANError, match=fragment):
            edit_images(G, ws, directions, 0, [1.0])
    with pytest.raises(StyleGANError, match="do not fit"):
        apply_direction(G, ws[:, :2], _w_set(G), 0, 1.0)
    with pytest.raises(StyleGANError, match="layers"):
        apply_direction(G, ws, _w_set(G), 0, 1.0, layers="0-99")

    np.savez(tmp_path / "ok.npz", w=ws.numpy())
    assert torch.equal(load_projected_w(tmp_path / "ok.npz", G), ws)
    np.savez(tmp_path / "bad.npz", w=np.zeros((1, G.num_ws + 1, G.w_dim), np.float32))
    np.savez(tmp_path / "nokey.npz", ws=ws.numpy())
    (tmp_path / "junk.npz").write_bytes(b"junk")
    for name, fragment in [("bad", "shape"), ("nokey", "no key"), ("junk", "cannot read")]:
        with pytest.raises(StyleGANError, match=fragment) as error:
            load_projected_w(tmp_path / f"{name}.npz", G)
        assert "\n" not in str(error.value)


def test_grid_and_sweep_layout():
    images = np.arange(2 * 3 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 3, 2, 2, 3)
    grid = edit_grid(images)
    assert grid.shape == (4, 6, 3) and np.array_equal(grid[2:, 4:], images[1, 2])
    sweep = sweep_strengths([-3, 0, 3], 8)
    assert sweep[0] == 0 and max(sweep) == 3 and min(sweep) == -3 and len(sweep) == 8
