import numpy as np
import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.tools.generate import seeds_to_ws
from stylegan.tools.noise import noise_draws, noise_variation_figure, std_to_grey


def test_no_noise_means_no_variation(G, noise_strength):
    noise_strength(G, 0.0)
    w = seeds_to_ws(G, [3])[0]
    samples, std = noise_draws(G, w, num_draws=10, keep=3, batch_size=4)
    # Exactly zero up to float rounding between batch sizes (the last batch is smaller).
    assert std.max() < 1e-6
    torch.testing.assert_close(samples[0], samples[2], atol=1e-6, rtol=0)
    figure = noise_variation_figure(G, [3], num_samples=2, num_std=10)
    r = G.img_resolution
    assert not figure[:, 2 * r :].any()  # the std image is black


def test_noise_makes_draws_differ(G, noise_strength):
    noise_strength(G, 0.3)
    w = seeds_to_ws(G, [3])[0]
    samples, std = noise_draws(G, w, num_draws=12, keep=3, batch_size=5)
    assert samples.shape == (3, G.img_channels, G.img_resolution, G.img_resolution)
    assert std.shape == (G.img_resolution, G.img_resolution)
    assert (std > 0).float().mean() > 0.5
    assert not torch.equal(samples[0], samples[1])
    # The std is the plain per-pixel population std over the draws, averaged over channels.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        draws = torch.cat([G.synthesis(w[None].expand(4, -1, -1), noise_mode="random")])
    _, std4 = noise_draws(G, w, num_draws=4, seed=7, batch_size=4)
    expected = draws.double().std(0, unbiased=False).mean(0).float()
    torch.testing.assert_close(std4, expected, atol=1e-5, rtol=1e-4)


def test_only_layers_with_noise_strength_matter(make_real):
    G = make_real()
    w = seeds_to_ws(G, [0])[0]
    with torch.no_grad():
        strengths = [p for n, p in G.named_parameters() if n.endswith("noise_strength")]
        assert len(strengths) >= 2
        for p in strengths:
            p.zero_()
        strengths[-1].fill_(0.5)  # only the last (finest) layer draws noise
    _, std = noise_draws(G, w, num_draws=8)
    assert std.max() > 0


def test_draws_are_seeded_and_leave_the_global_rng_alone(standin, noise_strength):
    noise_strength(standin, 0.5)
    w = seeds_to_ws(standin, [0])[0]
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = noise_draws(standin, w, num_draws=6, seed=1, keep=2)
    assert torch.equal(torch.get_rng_state(), before)
    b = noise_draws(standin, w, num_draws=6, seed=1, keep=2)
    c = noise_draws(standin, w, num_draws=6, seed=2, keep=2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_figure_layout_and_reproducibility(G, noise_strength):
    noise_strength(G, 0.2)
    seeds = [0, 5]
    figure = noise_variation_figure(G, seeds, num_samples=3, num_std=4, truncation_psi=0.7)
    r, ch = G.img_resolution, G.img_channels
    assert figure.shape == (2 * r, 4 * r, ch) and figure.dtype == np.uint8
    again = noise_variation_figure(G, seeds, num_samples=3, num_std=4, truncation_psi=0.7)
    np.testing.assert_array_equal(figure, again)
    # A row does not depend on which other seeds are in the figure.
    alone = noise_variation_figure(G, [5], num_samples=3, num_std=4, truncation_psi=0.7)
    np.testing.assert_array_equal(figure[r:], alone)
    # Each std image is scaled to its own maximum and is grey.
    std_image = figure[:r, 3 * r :]
    assert std_image.max() == 255
    assert (std_image == std_image[:, :, :1]).all()


def test_std_to_grey():
    grey = std_to_grey(torch.tensor([[0.0, 0.5], [1.0, 0.25]]), channels=1)
    assert grey.shape == (2, 2, 1)
    assert grey[:, :, 0].tolist() == [[0, 128], [255, 64]]
    assert not std_to_grey(torch.zeros(2, 2)).any()
    assert not std_to_grey(torch.full((2, 2), 3e-8)).any()  # float rounding is not variation


def test_bad_arguments(standin):
    with pytest.raises(StyleGANError):
        noise_variation_figure(standin, [0], num_samples=0)
    with pytest.raises(StyleGANError):
        noise_draws(standin, seeds_to_ws(standin, [0])[0], num_draws=1)
