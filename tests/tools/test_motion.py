"""Motion videos and user transforms on StyleGAN3 (input transform) and StyleGAN2 (constant)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.networks.transform import user_transform_matrix
from stylegan.tools.generate import generate_images
from stylegan.tools.motion import (
    motion_frames,
    motion_path,
    parse_motion,
    parse_vec2,
    set_user_transform,
    transformed_images,
    write_motion_video,
)
from tiny_networks import tiny_network


@pytest.fixture(scope="module")
def sg3():
    sizes = dict(z_dim=16, w_dim=16, img_resolution=32, channel_base=1024, channel_max=32)
    return tiny_network("stylegan3.Generator", num_layers=6, num_critical=2, **sizes).eval()


def test_parsers():
    assert parse_vec2("0.25,-1") == (0.25, -1.0)
    assert parse_vec2((1, 2)) == (1.0, 2.0)
    with pytest.raises(StyleGANError):
        parse_vec2("1")
    assert parse_motion("circle+rotate") == ("circle", "rotate")
    assert parse_motion("PAN") == ("pan",)
    for bad in ("zoom", "", "pan+circle"):
        with pytest.raises(StyleGANError):
            parse_motion(bad)


def test_motion_path():
    path = motion_path("pan", num_frames=4, img_resolution=32, speed=2)
    assert path == [((2 * i / 32, 0.0), 0.0) for i in range(4)]
    circle = motion_path("circle+rotate", num_frames=4, img_resolution=32, radius=8, degrees=90)
    assert circle[0] == ((0.0, 0.0), 0.0)
    (tx, ty), angle = circle[2]  # half way round: the far side of the circle
    assert tx == pytest.approx(-16 / 32) and ty == pytest.approx(0, abs=1e-12)
    assert angle == 45.0


def test_set_user_transform_sg3(sg3):
    with set_user_transform(sg3, (0.1, -0.2), 30.0):
        torch.testing.assert_close(
            sg3.synthesis.input.transform, user_transform_matrix((0.1, -0.2), 30.0)
        )
    assert torch.equal(sg3.synthesis.input.transform, torch.eye(3))
    # As gen_images.py: the buffer holds inv(make_transform(translate, angle)).
    m = user_transform_matrix((0.1, -0.2), 30.0).double()
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    forward = torch.tensor([[c, s, 0.1], [-s, c, -0.2], [0, 0, 1]], dtype=torch.float64)
    torch.testing.assert_close(m @ forward, torch.eye(3, dtype=torch.float64), atol=1e-6, rtol=0)


def test_transformed_images_sg3(sg3):
    plain = generate_images(sg3, [1])
    moved = transformed_images(sg3, [1], translate=(4 / 32, 0))
    assert not np.array_equal(plain, moved)
    # Integer shift to the right: the interior matches the shifted original closely.
    diff = np.abs(moved[0, 6:-6, 10:-6].astype(int) - plain[0, 6:-6, 6:-10].astype(int))
    assert diff.mean() < 2
    assert torch.equal(sg3.synthesis.input.transform, torch.eye(3))


def test_frames_count_shape_and_restore(sg3):
    frames = list(motion_frames(sg3, [0, 1], motion="circle+rotate", num_frames=3, degrees=30))
    assert len(frames) == 3
    assert all(f.shape == (32, 64, 3) and f.dtype == np.uint8 for f in frames)
    np.testing.assert_array_equal(frames[0], np.concatenate(list(generate_images(sg3, [0, 1])), 1))
    assert not np.array_equal(frames[1], frames[0])
    assert torch.equal(sg3.synthesis.input.transform, torch.eye(3))


def test_pan_by_whole_pixels_shifts_content_sg3(sg3):
    frames = list(motion_frames(sg3, [2], motion="pan", num_frames=4, speed=1.0))
    base = frames[0].astype(int)
    for i, frame in enumerate(frames[1:], start=1):
        shifted = np.abs(frame[6:-6, 6 + i : -6].astype(int) - base[6:-6, 6 : -6 - i]).mean()
        unshifted = np.abs(frame[6:-6, 6 + i : -6].astype(int) - base[6:-6, 6 + i : -6]).mean()
        assert shifted < 2, (i, shifted)
        assert shifted < unshifted / 2


def test_side_by_side_doubles_width(sg3, make_real):
    frames = list(motion_frames(sg3, [0], motion="pan", num_frames=2, compare=sg3, speed=0.5))
    assert [f.shape for f in frames] == [(32, 64, 3)] * 2
    np.testing.assert_array_equal(frames[1][:, :32], frames[1][:, 32:])
    with pytest.raises(StyleGANError, match="equal image sizes"):
        motion_frames(sg3, [0], compare=make_real())  # 32 px beside 16 px


def test_works_on_stylegan2(make_real):
    G = make_real()
    before = G.synthesis.b4.const.detach().clone()
    frames = list(motion_frames(G, [0, 1, 2], motion="circle", num_frames=4, grid_cols=2))
    assert len(frames) == 4
    assert all(f.shape == (32, 32, 3) for f in frames)  # 2x2 grid of 16 px cells
    assert not np.array_equal(frames[1], frames[0])
    assert torch.equal(G.synthesis.b4.const, before)
    with set_user_transform(G, (0.25, 0)):  # one constant pixel: an exact circular shift
        torch.testing.assert_close(
            G.synthesis.b4.const.detach(), torch.roll(before, 1, dims=2), atol=1e-5, rtol=0
        )
    assert torch.equal(G.synthesis.b4.const, before)


def test_side_by_side_stylegan2_vs_stylegan3(sg3):
    G2 = tiny_network("stylegan2.Generator", 1, img_resolution=32, channel_max=16).eval()
    frames = list(motion_frames(G2, [0], motion="pan", num_frames=2, compare=sg3))
    assert [f.shape for f in frames] == [(32, 64, 3)] * 2


def test_write_motion_video(standin, tmp_path):
    path = write_motion_video(standin, tmp_path / "m.gif", [0], motion="rotate", num_frames=3)
    assert path.suffix == ".gif" and path.is_file()


def test_refuses_networks_that_cannot_move():
    from torch import nn

    class Plain(nn.Module):
        z_dim, c_dim, img_resolution, img_channels = 4, 0, 8, 3

    with pytest.raises(StyleGANError, match="no input transformation"):
        motion_frames(Plain(), [0])
