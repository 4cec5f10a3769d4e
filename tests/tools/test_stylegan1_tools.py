"""The paper's figures on the original StyleGAN: generate (default truncation), mix, noise,
truncation, and what coarse vs fine styles change in a trained network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import stylegan
from stylegan.cli import cli
from stylegan.errors import StyleGANError
from stylegan.io.checkpoint import save_checkpoint
from stylegan.networks.stylegan1 import Generator
from stylegan.networks.stylegan2 import Generator as Generator2
from stylegan.tools.frequency import style_mixing_frequency
from stylegan.tools.generate import resolve_truncation
from stylegan.tools.noise import noise_variation_figure
from stylegan.tools.truncation import parse_psi, truncated_ws, truncation_images
from tiny_networks import tiny_network

TRAINED = Path(__file__).parents[1] / "fixtures" / "stylegan1_tiny" / "G_ema.safetensors"


def _tiny(seed: int = 0) -> Generator:
    G = tiny_network("stylegan1.Generator", seed)
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.5)
        G.mapping.w_avg.normal_()
    return G.eval()


@pytest.fixture
def saved(tmp_path) -> Path:
    path = tmp_path / "sg1.safetensors"
    save_checkpoint(path, {"G_ema": _tiny()})
    return path


def _run(*args: str):
    result = CliRunner().invoke(cli, [*args, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return result


def _png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_resolve_truncation():
    G = _tiny()
    assert resolve_truncation(G, None, None) == (0.7, 8)
    assert resolve_truncation(G, None, 3) == (0.7, 3)
    assert resolve_truncation(G, 1.0, None) == (1.0, None)
    torch.manual_seed(0)
    G2 = Generator2(8, 0, 8, 8, 3, channel_base=32, channel_max=8)
    assert resolve_truncation(G2, None, None) == (1.0, None)


def test_cli_generate_uses_the_originals_truncation_by_default(saved, tmp_path):
    _run("generate", "--network", str(saved), "--seeds", "0-1", "--outdir", str(tmp_path / "d"))
    _run("generate", "--network", str(saved), "--seeds", "0-1", "--trunc", "0.7", "--trunc-cutoff",
         "8", "--outdir", str(tmp_path / "e"))  # fmt: skip
    _run("generate", "--network", str(saved), "--seeds", "0-1", "--trunc", "1",
         "--outdir", str(tmp_path / "n"))  # fmt: skip
    default, explicit = _png(tmp_path / "d/seed0000.png"), _png(tmp_path / "e/seed0000.png")
    assert np.array_equal(default, explicit)
    assert not np.array_equal(default, _png(tmp_path / "n/seed0000.png"))


def test_cli_mix_noise_truncation(saved, tmp_path):
    for styles in ("coarse", "middle", "fine"):
        _run("mix", "--network", str(saved), "--rows", "1,2", "--cols", "3,4", "--styles", styles,
             "--outdir", str(tmp_path / styles))  # fmt: skip
        assert _png(tmp_path / styles / "mixing.png").shape == (48, 48, 3)
    _run("noise", "--network", str(saved), "--seeds", "0", "--samples", "2", "--std-samples", "8",
         "--outdir", str(tmp_path / "noise"))  # fmt: skip
    assert _png(tmp_path / "noise/noise.png").shape == (16, 48, 3)
    _run("truncation", "--network", str(saved), "--seeds", "0-2", "--psi=-1:1:5", "--save-cells",
         "--outdir", str(tmp_path / "trunc"))  # fmt: skip
    figure = _png(tmp_path / "trunc/truncation.png")
    assert figure.shape == (3 * 16, 5 * 16, 3)
    assert (tmp_path / "trunc/seed0002-psi-0.5.png").is_file()


def test_noise_map_is_zero_without_noise():
    G = _tiny()
    figure = noise_variation_figure(G, [0], num_samples=1, num_std=4)
    assert figure[:, 16:].max() > 0  # the std map shows where noise acts
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.zero_()
    figure = noise_variation_figure(G, [0], num_samples=1, num_std=4)
    assert figure[:, 16:].max() == 0


def test_truncation_maths_and_images():
    G = _tiny()
    psis = parse_psi("-1:1:3")
    assert psis == [-1.0, 0.0, 1.0] and parse_psi("1,0.7") == [1.0, 0.7]
    ws = truncated_ws(G, [0, 1], psis, truncation_cutoff=4)
    raw = G.mapping(
        torch.from_numpy(np.stack([np.random.RandomState(s).randn(16) for s in (0, 1)])).float(),
        None,
    )
    w_avg = G.mapping.w_avg
    torch.testing.assert_close(ws[:, 0, :4], 2 * w_avg - raw[:, :4])  # psi -1: the opposite
    torch.testing.assert_close(ws[:, 0, 4:], raw[:, 4:])  # beyond the cutoff: untouched
    torch.testing.assert_close(ws[:, 2], raw)
    images = truncation_images(G, [0, 1, 2], [0.0, 1.0], truncation_cutoff=None)
    assert images.shape == (3, 2, 16, 16, 3)
    assert np.array_equal(images[0, 0], images[1, 0]) and np.array_equal(images[0, 0], images[2, 0])
    assert not np.array_equal(images[0, 1], images[1, 1])
    for bad in ("", "a,b", "1:2", "0:1:0"):
        with pytest.raises(StyleGANError):
            parse_psi(bad)
    with pytest.raises(StyleGANError, match="seeds"):
        truncation_images(G, [], [1.0])


def test_coarse_styles_change_structure_fine_styles_change_colour():
    # A trained 32 px StyleGAN (tests/fixtures/stylegan1_tiny): copy seed B's styles into seed
    # A's at the coarse (4-8 px) or the fine (32 px) layers and look at the changed image's
    # spectrum. Colour is energy at frequency 0 (channel means), pose and shape are low
    # non-zero frequencies (up to 4 cycles per image).
    G = stylegan.load(TRAINED)
    seeds_a, seeds_b = list(range(32)), list(range(100, 132))
    coarse = style_mixing_frequency(G, seeds_a, seeds_b, "coarse")
    fine = style_mixing_frequency(G, seeds_a, seeds_b, "fine")
    assert coarse.layers == (0, 1, 2) and fine.layers == (6, 7)
    # Instance norm + AdaIN: the image's colour means come from the last layer's style only,
    # so coarse styles cannot change colour at all; fine styles do (measured: 35% of energy).
    assert coarse.colour_fraction < 1e-6
    assert fine.colour_fraction > 0.2
    # Coarse styles move shapes: most of their change is at low non-zero frequencies
    # (measured 70% vs 47%), and more of it in absolute terms.
    assert coarse.low_frequency_fraction > 0.6
    assert coarse.low_frequency_fraction > fine.low_frequency_fraction + 0.1
    structure = lambda r: r.energy * r.low_frequency_fraction  # noqa: E731
    assert structure(coarse) > 1.2 * structure(fine)
