"""Our StyleGAN2 networks reproduce NVIDIA's official outputs from the official weights.

The fixtures in ``tests/fixtures/official/`` hold, per configuration, the official
``init_kwargs``, state dicts, inputs and outputs produced by NVlabs/stylegan3's
``training/networks_stylegan2.py`` on the CPU in fp32 (see the README there and
``scripts/make_official_fixtures.py``). The official code itself differs from itself by up to
about 1e-5 between batch sizes, so 1e-4 is tight enough to catch any real difference.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan.networks.stylegan2 import Generator
from stylegan.networks.stylegan2_discriminator import Discriminator

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "official"
FIXTURES = sorted(p.stem for p in FIXTURE_DIR.glob("*.npz"))
ATOL = 1e-4

pytestmark = pytest.mark.skipif(not FIXTURES, reason="no official fixtures found")


@functools.cache
def load_fixture(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURE_DIR / f"{name}.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def official_state(fx: dict[str, np.ndarray], prefix: str) -> dict[str, torch.Tensor]:
    return {
        key[len(prefix) + 1 :]: torch.from_numpy(value)
        for key, value in fx.items()
        if key.startswith(prefix + ".")
    }


@functools.cache
def build(name: str, prefix: str) -> torch.nn.Module:
    """Our network from the official init_kwargs, with the official weights loaded strictly."""
    fx = load_fixture(name)
    cls = {"G": Generator, "D": Discriminator}[prefix]
    net = cls(**json.loads(str(fx[f"{prefix}_init_kwargs"])))
    net.load_state_dict(official_state(fx, prefix), strict=True)
    return net.eval().requires_grad_(False)


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


@pytest.mark.parametrize("prefix", ["G", "D"])
@pytest.mark.parametrize("name", FIXTURES)
def test_state_dict_keys_and_shapes_equal_official(name, prefix):
    fx = load_fixture(name)
    cls = {"G": Generator, "D": Discriminator}[prefix]
    net = cls(**json.loads(str(fx[f"{prefix}_init_kwargs"])))
    ours = {key: tuple(value.shape) for key, value in net.state_dict().items()}
    official = {key: tuple(value.shape) for key, value in official_state(fx, prefix).items()}
    assert sorted(set(ours) - set(official)) == [], "keys only we have"
    assert sorted(set(official) - set(ours)) == [], "keys only the official network has"
    assert ours == official


@pytest.mark.parametrize("name", FIXTURES)
def test_mapping_matches_official(name):
    fx = load_fixture(name)
    G = build(name, "G")
    z, c = torch.from_numpy(fx["z"]), torch.from_numpy(fx["c"])
    meta = json.loads(str(fx["meta"]))
    psi, cutoff = meta["truncation_psi"], meta["truncation_cutoff"]
    assert_matches(G.mapping(z, c), fx["ws_psi1"], "ws (psi 1)")
    assert_matches(G.mapping(z, c, truncation_psi=psi), fx["ws_psi07"], f"ws (psi {psi})")
    assert_matches(
        G.mapping(z, c, truncation_psi=psi, truncation_cutoff=cutoff),
        fx["ws_psi07_cutoff2"],
        f"ws (psi {psi}, cutoff {cutoff})",
    )


@pytest.mark.parametrize("noise_mode", ["const", "none"])
@pytest.mark.parametrize("name", FIXTURES)
def test_synthesis_matches_official(name, noise_mode):
    """Synthesis alone, fed the official ws: separates synthesis errors from mapping errors."""
    fx = load_fixture(name)
    G = build(name, "G")
    img = G.synthesis(torch.from_numpy(fx["ws_psi1"]), noise_mode=noise_mode)
    assert_matches(img, fx[f"img_{noise_mode}"], f"synthesis image (noise_mode {noise_mode})")


@pytest.mark.parametrize("name", FIXTURES)
def test_generator_matches_official(name):
    fx = load_fixture(name)
    G = build(name, "G")
    z, c = torch.from_numpy(fx["z"]), torch.from_numpy(fx["c"])
    meta = json.loads(str(fx["meta"]))
    psi, cutoff = meta["truncation_psi"], meta["truncation_cutoff"]
    assert_matches(G(z, c, noise_mode="const"), fx["img_const"], "image (noise_mode const)")
    assert_matches(G(z, c, noise_mode="none"), fx["img_none"], "image (noise_mode none)")
    assert_matches(
        G(z, c, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode="const"),
        fx["img_const_psi07_cutoff2"],
        f"image (psi {psi}, cutoff {cutoff}, noise_mode const)",
    )


@pytest.mark.parametrize("name", FIXTURES)
def test_discriminator_matches_official(name):
    fx = load_fixture(name)
    D = build(name, "D")
    c = torch.from_numpy(fx["c"])
    fake = torch.from_numpy(fx["img_const"])
    assert_matches(D(fake, c), fx["logits_fake"], "D logits (official generated images)")
    noise = torch.from_numpy(fx["img_random"])
    assert_matches(D(noise, c), fx["logits_random"], "D logits (random images)")
