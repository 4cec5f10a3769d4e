"""Our StyleGAN3 generator reproduces NVIDIA's official outputs from the official weights.

The fixtures in ``tests/fixtures/official_sg3/`` hold, per configuration (T and R at 16 px, a
conditional T at 32 px with a non-default schedule and a user transform), the official
``init_kwargs``, state dict, inputs and outputs produced by NVlabs/stylegan3's
``training/networks_stylegan3.py`` on the CPU in fp32 (see the README there and
``scripts/make_official_sg3_fixtures.py``).
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan.networks.stylegan3 import Generator

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "official_sg3"
FIXTURES = sorted(p.stem for p in FIXTURE_DIR.glob("*.npz"))
ATOL = 1e-4

pytestmark = pytest.mark.skipif(not FIXTURES, reason="no official StyleGAN3 fixtures found")


@functools.cache
def load_fixture(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURE_DIR / f"{name}.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def official_state(fx: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {key[2:]: torch.from_numpy(value) for key, value in fx.items() if key.startswith("G.")}


def fresh(name: str) -> Generator:
    """Our generator from the official init_kwargs (own random weights, designed filters)."""
    return Generator(**json.loads(str(load_fixture(name)["G_init_kwargs"])))


@functools.cache
def build(name: str) -> Generator:
    """Our generator with the official weights loaded strictly (shared: do not modify)."""
    G = fresh(name)
    G.load_state_dict(official_state(load_fixture(name)), strict=True)
    return G.eval().requires_grad_(False)


def assert_matches(ours: torch.Tensor, official: np.ndarray, what: str) -> None:
    expected = torch.from_numpy(official)
    assert ours.shape == expected.shape, f"{what}: shape {tuple(ours.shape)} != {expected.shape}"
    assert ours.dtype == torch.float32, f"{what}: dtype {ours.dtype}, expected float32"
    diff = (ours.detach() - expected).abs()
    worst = diff.max().item()
    where = np.unravel_index(int(diff.argmax()), diff.shape)
    assert worst <= ATOL, (
        f"{what}: max abs diff {worst:.3g} at {where} (ours {ours[where].item():.6g}, official "
        f"{expected[where].item():.6g}; {(diff > ATOL).float().mean().item():.1%} over {ATOL})"
    )


@pytest.fixture(autouse=True)
def _exact_fp32():
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    with torch.no_grad():
        yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


@pytest.mark.parametrize("name", FIXTURES)
def test_state_dict_keys_and_shapes_equal_official(name):
    ours = {key: tuple(value.shape) for key, value in fresh(name).state_dict().items()}
    official = {
        key: tuple(value.shape) for key, value in official_state(load_fixture(name)).items()
    }
    assert sorted(set(ours) - set(official)) == [], "keys only we have"
    assert sorted(set(official) - set(ours)) == [], "keys only the official network has"
    assert ours == official


@pytest.mark.parametrize("name", FIXTURES)
def test_designed_filters_equal_official(name):
    """The Kaiser (and, for R, radial jinc) filters we design equal the official buffers."""
    ours = fresh(name).state_dict()
    official = official_state(load_fixture(name))
    keys = [k for k in official if k.endswith(("up_filter", "down_filter"))]
    assert keys
    for key in keys:
        torch.testing.assert_close(ours[key], official[key], rtol=0, atol=1e-7, msg=key)


@pytest.mark.parametrize("name", FIXTURES)
def test_mapping_matches_official(name):
    fx = load_fixture(name)
    G = build(name)
    z, c = torch.from_numpy(fx["z"]), torch.from_numpy(fx["c"])
    meta = json.loads(str(fx["meta"]))
    psi, cutoff = meta["truncation_psi"], meta["truncation_cutoff"]
    assert_matches(G.mapping(z, c), fx["ws_psi1"], "ws (psi 1)")
    assert_matches(G.mapping(z, c, truncation_psi=psi), fx["ws_psi07"], f"ws (psi {psi})")
    assert_matches(
        G.mapping(z, c, truncation_psi=psi, truncation_cutoff=cutoff),
        fx["ws_psi07_cutoff4"],
        f"ws (psi {psi}, cutoff {cutoff})",
    )


@pytest.mark.parametrize("name", FIXTURES)
def test_generator_matches_official(name):
    fx = load_fixture(name)
    G = build(name)
    z, c = torch.from_numpy(fx["z"]), torch.from_numpy(fx["c"])
    meta = json.loads(str(fx["meta"]))
    psi, cutoff = meta["truncation_psi"], meta["truncation_cutoff"]
    assert_matches(G(z, c, noise_mode="const"), fx["img_psi1"], "image (psi 1)")
    assert_matches(
        G(z, c, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode="const"),
        fx["img_psi07_cutoff4"],
        f"image (psi {psi}, cutoff {cutoff})",
    )


@pytest.mark.parametrize("name", FIXTURES)
def test_user_transform_matches_official(name):
    """Synthesis from the official ws through a translate + rotate ``input.transform``."""
    fx = load_fixture(name)
    G = copy.deepcopy(build(name))
    G.synthesis.input.transform.copy_(torch.from_numpy(fx["user_transform"]))
    img = G.synthesis(torch.from_numpy(fx["ws_psi1"]))
    assert_matches(img, fx["img_user_transform"], "image (user transform)")


def test_transform_matrix_is_what_gen_images_stores():
    """``transform_matrix`` builds the same buffer as the fixture script's gen_images recipe."""
    from stylegan.networks.stylegan3 import transform_matrix

    fx = load_fixture(FIXTURES[0])
    meta = json.loads(str(fx["meta"]))
    ours = transform_matrix(meta["user_translate"], meta["user_rotate"])
    torch.testing.assert_close(ours, torch.from_numpy(fx["user_transform"]), rtol=0, atol=1e-7)


@pytest.mark.parametrize("name", FIXTURES)
def test_update_emas_matches_official(name):
    """One training-mode call with update_emas: the same w_avg, magnitude_ema and image."""
    fx = load_fixture(name)
    G = copy.deepcopy(build(name)).train()
    z, c = torch.from_numpy(fx["z"]), torch.from_numpy(fx["c"])
    img = G(z, c, update_emas=True)
    state = G.state_dict()
    emas = [key for key in fx if key.startswith("emas.")]
    assert len(emas) == G.num_ws  # w_avg + one magnitude_ema per synthesis layer
    for key in emas:
        expected = torch.from_numpy(fx[key])
        torch.testing.assert_close(state[key[5:]], expected, rtol=0, atol=1e-6, msg=key)
    assert_matches(img, fx["img_update_emas"], "image (update_emas=True)")
