"""StyleCLIP's three text edits (optimisation, global directions, mapper) on tiny generators,
steered by a colour CLIP whose answers are known: the prompt "red" points at red images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.networks.mapper import LevelsMapper, mapper_groups
from stylegan.tools.clip_mapper import load_mapper, train_mapper
from stylegan.tools.direction_set import load_directions
from stylegan.tools.directions import stylespace_stats
from stylegan.tools.editing import edit_images
from stylegan.tools.generate import seeds_to_ws, synthesize
from stylegan.tools.styleclip import (
    blend,
    channel_relevance,
    clip_similarity,
    editable_channels,
    edited_images,
    global_direction,
    optimize_latents,
    optimized_edit,
    text_direction,
    text_features,
)
from stylegan.tools.styles import style_layers

COLOURS = {"red": (1.0, -1.0, -1.0), "green": (-1.0, 1.0, -1.0), "blue": (-1.0, -1.0, 1.0)}


class ColourClip:
    """Images embed as their mean colour (through a fixed random rotation into 8 dims) and a
    word as the colour it names, so similarity to "red" is redness."""

    templates = ("{}", "a {} emoji")

    def __init__(self):
        gen = torch.Generator().manual_seed(0)
        self.rotation = torch.linalg.qr(torch.randn(8, 8, generator=gen))[0][:, :4]
        self.calls = 0

    def _embed(self, v: torch.Tensor) -> torch.Tensor:
        out = v @ self.rotation.T
        return out / out.norm(dim=-1, keepdim=True).clamp_min(1e-8)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        colour = images.float().mean(dim=(2, 3))
        return self._embed(torch.cat([colour, torch.full_like(colour[:, :1], 0.1)], dim=1))

    def encode_text(self, texts):
        rows = []
        for text in texts:
            colour = next((c for name, c in COLOURS.items() if name in text), (0.0, 0.0, 0.0))
            rows.append([*colour, 0.1])
        return self._embed(torch.tensor(rows))


@pytest.fixture(scope="module")
def G(make_tiny_network, one_thread_module):
    return make_tiny_network("stylegan2.Generator").eval()


@pytest.fixture(scope="module")
def clip():
    return ColourClip()


def _redness(G, clip, ws) -> np.ndarray:
    with torch.no_grad():
        images = G.synthesis(ws, noise_mode="const")
        return clip_similarity(clip, images, text_features(clip, ["red"])[0]).numpy()


def test_text_features_are_unit_template_means(clip):
    feats = text_features(clip, ["red", "blue"])
    assert feats.shape == (2, 8)
    assert torch.allclose(feats.norm(dim=1), torch.ones(2))
    assert float(feats[0] @ feats[1]) < 0.5
    with pytest.raises(StyleGANError, match="non-empty"):
        text_features(clip, [" "])


def test_optimisation_raises_similarity_and_blend_is_exact_at_zero(G, clip):
    ws = seeds_to_ws(G, [0, 1, 2], truncation_psi=0.7)
    edited = optimize_latents(G, clip, "red", ws, steps=40, progress=False)
    assert edited.shape == ws.shape
    before, after = _redness(G, clip, ws), _redness(G, clip, edited)
    assert (after > before + 0.05).all()
    # Strength 0 renders the source bit for bit; strengths in between move monotonically.
    grid = edited_images(G, ws, lambda w, s: blend(w, edited, s), [0, 0.5, 1.0])
    assert np.array_equal(grid[:, 0], synthesize(G, ws))
    scores = [_redness(G, clip, blend(ws, edited, s)) for s in (0, 0.5, 1.0)]
    assert (np.diff(np.stack(scores), axis=0) > 0).all()


def test_a_larger_l2_weight_keeps_the_edit_closer(G, clip):
    ws = seeds_to_ws(G, [3], truncation_psi=0.7)
    loose = optimize_latents(G, clip, "red", ws, steps=30, l2_lambda=0.0, progress=False)
    tight = optimize_latents(G, clip, "red", ws, steps=30, l2_lambda=5.0, progress=False)
    assert (tight - ws).norm() < (loose - ws).norm()


def test_global_direction_from_cached_relevance(G, clip, tmp_path):
    stats = stylespace_stats(G, 500, progress=False)
    relevance = channel_relevance(
        G, clip, num_images=4, stats=stats, cache=tmp_path, clip_name="colour", progress=False
    )
    total = sum(layer.channels for layer in style_layers(G))
    mask = editable_channels(G)
    assert relevance.shape == (total, 8) and mask.sum() < total  # ToRGB channels are left out
    assert np.allclose(np.linalg.norm(relevance[mask], axis=1), 1, atol=1e-5)
    assert not relevance[~mask].any()
    calls = clip.calls
    again = channel_relevance(G, clip, num_images=4, cache=tmp_path, clip_name="colour")
    assert clip.calls == calls and np.array_equal(again, relevance)  # read from the cache

    delta = text_direction(clip, "red", "green")
    direction = global_direction(G, relevance, stats[1], delta, beta=0.1, name="red")
    assert direction.space == "s" and direction.unit[0] == pytest.approx(4.1)
    kept = direction.info["channels"]
    assert 0 < kept <= mask.sum() and np.count_nonzero(direction.vectors[0]) == kept
    path = direction.save(tmp_path / "red.npz")
    back = load_directions(path)
    ws = seeds_to_ws(G, [0, 1, 2, 3], truncation_psi=0.7)
    images = edit_images(G, ws, back, "red", [0, 1, 2])
    assert np.array_equal(images[:, 0], synthesize(G, ws))
    red = images[..., 0].astype(float).mean(axis=(2, 3)) - images[..., 1:].astype(float).mean(
        axis=(2, 3, 4)
    )
    assert (red[:, 2] > red[:, 0]).mean() >= 0.75  # redder than green, for most seeds
    with pytest.raises(StyleGANError, match="lower --beta"):
        global_direction(G, relevance, stats[1], delta, beta=1.01)
    with pytest.raises(StyleGANError, match="another CLIP"):
        global_direction(G, relevance, stats[1], np.ones(3))


def test_mapper_groups_follow_the_resolutions():
    assert mapper_groups(18) == (4, 4, 10)
    assert mapper_groups(8) == (4, 4, 0)
    assert mapper_groups(3) == (3, 0, 0)
    mapper = LevelsMapper(num_ws=8, w_dim=4, map_medium=False)
    out = mapper(torch.randn(2, 8, 4))
    assert out[:, 4:].abs().sum() == 0 and out[:, :4].abs().sum() > 0
    with pytest.raises(StyleGANError, match="maps no group"):
        LevelsMapper(num_ws=8, w_dim=4, map_coarse=False, map_medium=False, map_fine=False)


def test_mapper_trains_resumes_and_edits(G, clip, tmp_path):
    first = train_mapper(G, clip, "red", steps=4, outdir=tmp_path, seed=1, progress=False)
    assert first.step == 4 and first.checkpoint is not None
    done = train_mapper(
        G, clip, "red", steps=200, outdir=tmp_path, resume=first.checkpoint, progress=False
    )
    assert done.step == 200
    straight = train_mapper(G, clip, "red", steps=200, seed=1, progress=False)
    for a, b in zip(straight.mapper.parameters(), done.mapper.parameters()):
        assert torch.equal(a, b)  # the resumed run is the uninterrupted one
    mapper = load_mapper(done.checkpoint, G)
    ws = seeds_to_ws(G, list(range(6)), truncation_psi=0.7)
    with torch.no_grad():
        assert torch.equal(mapper.edit(ws, 0), ws)
        scores = [_redness(G, clip, mapper.edit(ws, s)) for s in (0, 1, 2)]
    assert (scores[2] > scores[0]).mean() >= 5 / 6
    assert np.median(scores[1] - scores[0]) > 0
    with pytest.raises(StyleGANError, match="train a mapper for this network"):
        load_mapper(done.checkpoint, type("G", (), {"num_ws": 7, "w_dim": 16})())


def test_optimised_edit_strength_divides_the_l2_weight(G, clip):
    ws = seeds_to_ws(G, [0, 1], truncation_psi=0.7)
    edit = optimized_edit(G, clip, "red", ws, [0, 1, 2], steps=25, l2_lambda=0.5, progress=False)
    assert torch.equal(edit(ws, 0), ws)  # strength 0 is the source exactly
    red = [_redness(G, clip, edit(ws, s)) for s in (0, 1, 2)]
    assert (red[1] > red[0]).all() and (red[2] > red[1]).all()  # a weaker pull: a stronger edit
    # Each strength is its own optimisation: the batched one equals one run at l2 / s.
    alone = optimize_latents(G, clip, "red", ws, steps=25, l2_lambda=0.25, progress=False)
    # (Adam's rounding differs with the batch: close, not equal; strength 1 is far from it.)
    assert torch.allclose(edit(ws, 2), alone, atol=1e-3)
    assert not torch.allclose(edit(ws, 1), alone, atol=1e-2)
    # Between computed strengths, ws are interpolated (video sweeps); beyond, clamped.
    assert torch.allclose(edit(ws, 1.5), (edit(ws, 1) + edit(ws, 2)) / 2)
    assert torch.equal(edit(ws, 3), edit(ws, 2))
    with pytest.raises(StyleGANError, match="must be >= 0"):
        optimized_edit(G, clip, "red", ws, [-1, 1], steps=2, progress=False)
