import numpy as np
import pytest
import torch
from PIL import Image

from stylegan.errors import StyleGANError
from stylegan.images import to_uint8_nhwc
from stylegan.latents import class_labels, z_from_seeds
from stylegan.tools.generate import generate_images, save_images, seeds_to_ws


def test_output_shape_and_dtype(G):
    images = generate_images(G, [0, 1, 2])
    r = G.img_resolution
    assert images.shape == (3, r, r, G.img_channels)
    assert images.dtype == np.uint8


def test_deterministic(G):
    a = generate_images(G, "0-4", truncation_psi=0.7)
    b = generate_images(G, "0-4", truncation_psi=0.7)
    np.testing.assert_array_equal(a, b)


def test_batch_size_does_not_change_images(G):
    seeds = [3, 1, 4]
    ref = generate_images(G, seeds, batch_size=1).astype(int)
    for batch_size in (2, 8):
        other = generate_images(G, seeds, batch_size=batch_size).astype(int)
        # Float rounding across batch sizes may flip a uint8 by one step, never more.
        assert np.abs(other - ref).max() <= 1


def test_seed_order_and_subsets_agree(G):
    both = generate_images(G, [7, 9]).astype(int)
    single = generate_images(G, [9]).astype(int)
    assert np.abs(both[1] - single[0]).max() <= 1


def test_official_seed_protocol(G):
    seeds = [0, 42, 1234]
    z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(G.z_dim) for s in seeds]))
    assert torch.equal(z.float(), z_from_seeds(seeds, G.z_dim))
    c = class_labels(None, G.c_dim, len(seeds))
    with torch.no_grad():
        expected = to_uint8_nhwc(G(z.float(), c, truncation_psi=0.6, noise_mode="const")).numpy()
    got = generate_images(G, seeds, truncation_psi=0.6, batch_size=len(seeds))
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_zero_psi_collapses_every_seed_to_w_avg(G):
    ws = seeds_to_ws(G, [0, 1, 2], truncation_psi=0)
    torch.testing.assert_close(ws, G.mapping.w_avg.expand_as(ws))
    images = generate_images(G, [0, 1, 2], truncation_psi=0)
    assert np.array_equal(images[0], images[1]) and np.array_equal(images[0], images[2])


def test_truncation_cutoff_keeps_later_layers(G):
    ws = seeds_to_ws(G, [0, 1], truncation_psi=0, truncation_cutoff=2)
    assert torch.allclose(ws[0, :2], ws[1, :2])
    assert not torch.allclose(ws[0, 2:], ws[1, 2:])
    images = generate_images(G, [0, 1], truncation_psi=0, truncation_cutoff=2)
    assert not np.array_equal(images[0], images[1])


def test_conditional_needs_a_valid_class(make_standin):
    G = make_standin(c_dim=3)
    a = generate_images(G, [0], class_idx=0)
    b = generate_images(G, [0], class_idx=2)
    assert not np.array_equal(a, b)
    with pytest.raises(StyleGANError, match="--class"):
        generate_images(G, [0])
    with pytest.raises(StyleGANError, match="out of range"):
        generate_images(G, [0], class_idx=3)


def test_conditional_real_generator(make_real):
    G = make_real(c_dim=3)
    images = generate_images(G, [1, 1], class_idx=0)
    other = generate_images(G, [1], class_idx=2)
    assert not np.array_equal(images[0], other[0])
    z = z_from_seeds([1], G.z_dim)
    with torch.no_grad():
        expected = to_uint8_nhwc(G(z, class_labels(2, 3, 1), noise_mode="const")).numpy()
    assert np.abs(other.astype(int) - expected.astype(int)).max() <= 1


def test_class_on_unconditional_network(standin):
    with pytest.raises(StyleGANError, match="unconditional"):
        generate_images(standin, [0], class_idx=1)


def test_bad_inputs(standin):
    with pytest.raises(StyleGANError, match="seeds"):
        generate_images(standin, "a-b")
    with pytest.raises(StyleGANError, match="noise mode"):
        generate_images(standin, [0], noise_mode="fresh")
    with pytest.raises(StyleGANError, match="batch size"):
        generate_images(standin, [0], batch_size=0)


def test_noise_modes_differ_only_through_noise(standin):
    const = generate_images(standin, [0], noise_mode="const")
    none = generate_images(standin, [0], noise_mode="none")
    rand = generate_images(standin, [0], noise_mode="random")
    # noise_strength starts at 0 (as in StyleGAN2), so every mode gives the same image.
    assert np.array_equal(const, none) and np.array_equal(const, rand)


def test_device_argument(standin):
    images = generate_images(standin, [0, 1], device="cpu")
    assert images.shape[0] == 2


def test_save_images_names_and_grid(tmp_path, standin):
    seeds = [0, 5, 123]
    images = generate_images(standin, seeds)
    paths = save_images(images, seeds, tmp_path / "out", grid=True)
    names = [p.name for p in paths]
    assert names == ["seed0000.png", "seed0005.png", "seed0123.png", "grid.png"]
    np.testing.assert_array_equal(np.asarray(Image.open(paths[1])), images[1])
    grid = np.asarray(Image.open(paths[-1]))
    r = standin.img_resolution
    assert grid.shape == (2 * r, 2 * r, 3)  # 3 images tile as 2x2
    np.testing.assert_array_equal(grid[r:, :r], images[2])
    with pytest.raises(StyleGANError):
        save_images(images, [0, 1], tmp_path)


def test_greyscale_images_save(tmp_path, make_standin):
    G = make_standin(img_channels=1)
    images = generate_images(G, [0, 1])
    assert images.shape[-1] == 1
    paths = save_images(images, [0, 1], tmp_path)
    assert np.asarray(Image.open(paths[0])).shape == (G.img_resolution, G.img_resolution)


@pytest.mark.parametrize("truncation_psi", [None, 0.6])
def test_generate_images_and_G_generate_are_one_path(make_real, truncation_psi):
    G = make_real(c_dim=3)
    seeds = [4, 0, 9]
    kwargs = dict(truncation_psi=truncation_psi, class_idx=1, batch_size=2)
    images = generate_images(G, seeds, **kwargs)
    np.testing.assert_array_equal(images, G.generate(seeds, **kwargs).numpy())
