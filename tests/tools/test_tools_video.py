import imageio.v2 as imageio
import numpy as np
import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.images import to_uint8_nhwc
from stylegan.latents import z_from_seeds
from stylegan.tools import video as video_module
from stylegan.tools.generate import generate_images, seeds_to_ws
from stylegan.tools.video import (
    interpolation_frames,
    keyframe_seeds,
    parse_grid,
    save_interpolation_video,
    write_video,
)


def test_parse_grid():
    assert parse_grid("2x3") == (2, 3)
    assert parse_grid("4,1") == (4, 1)
    assert parse_grid((1, 1)) == (1, 1)
    for bad in ("2", "axb", "0x2", "2x-1"):
        with pytest.raises(StyleGANError, match="grid"):
            parse_grid(bad)


def test_keyframe_seeds():
    assert keyframe_seeds("0-7", "2x1") == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert keyframe_seeds([5, 6, 7], "1x1") == [[5, 6, 7]]
    # With an explicit keyframe count the seeds wrap around.
    assert keyframe_seeds([1, 2, 3], "2x1", num_keyframes=2) == [[1, 2], [3, 1]]
    with pytest.raises(StyleGANError, match="do not fill a 2x2 grid"):
        keyframe_seeds("0-5", "2x2")


@pytest.mark.parametrize("space", ["w", "z"])
def test_frames_hit_the_keyframe_images(G, space):
    seeds, per_key = [3, 8, 13], 4
    frames = list(interpolation_frames(G, seeds, frames_per_key=per_key, kind="cubic", space=space))
    r = G.img_resolution
    assert len(frames) == len(seeds) * per_key
    assert all(f.shape == (r, r, G.img_channels) and f.dtype == np.uint8 for f in frames)
    keys = generate_images(G, seeds).astype(int)
    for k in range(len(seeds)):
        assert np.abs(frames[k * per_key].astype(int) - keys[k]).max() <= 1
    assert not np.array_equal(frames[1], frames[0])  # it moves between keyframes


def test_grid_layout_and_batching(G):
    # 1 column x 2 rows: cell 0 loops through seeds 0, 1 and cell 1 (the lower one) through 2, 3.
    kwargs = dict(grid="1x2", frames_per_key=2, kind="linear", truncation_psi=0.5)
    frames = np.stack(list(interpolation_frames(G, "0-3", batch_size=3, **kwargs)))
    r = G.img_resolution
    assert frames.shape == (2 * 2, 2 * r, r, G.img_channels)
    keys = generate_images(G, [2, 3], truncation_psi=0.5).astype(int)
    assert np.abs(frames[0, r:].astype(int) - keys[0]).max() <= 1
    assert np.abs(frames[2, r:].astype(int) - keys[1]).max() <= 1
    other = np.stack(list(interpolation_frames(G, "0-3", batch_size=16, **kwargs)))
    assert np.abs(other.astype(int) - frames.astype(int)).max() <= 1


def test_grid_cells_are_row_major(standin):
    frames = list(interpolation_frames(standin, "0-7", grid="2x2", frames_per_key=1))
    r = standin.img_resolution
    assert len(frames) == 2 and frames[0].shape == (2 * r, 2 * r, 3)
    keys = generate_images(standin, [0, 2, 4, 6])  # first keyframe of each cell
    np.testing.assert_array_equal(frames[0][:r, :r], keys[0])
    np.testing.assert_array_equal(frames[0][:r, r:], keys[1])
    np.testing.assert_array_equal(frames[0][r:, :r], keys[2])
    np.testing.assert_array_equal(frames[0][r:, r:], keys[3])


def test_linear_w_frames_are_lerps(standin):
    frames = list(interpolation_frames(standin, [0, 1], frames_per_key=4, kind="linear"))
    ws = seeds_to_ws(standin, [0, 1])
    # Frame 6 is halfway back from keyframe 1 to keyframe 0 (the video loops).
    with torch.no_grad():
        mid = standin.synthesis(((ws[0] + ws[1]) / 2)[None], noise_mode="const")
    np.testing.assert_array_equal(frames[6], to_uint8_nhwc(mid)[0].numpy())


def test_slerp_in_z(standin):
    frames = list(interpolation_frames(standin, [0, 1], frames_per_key=2, kind="slerp", space="z"))
    assert len(frames) == 4
    z = z_from_seeds([0, 1], standin.z_dim)
    from stylegan.tools.interpolate import slerp

    zmid = slerp(z[:1], z[1:], 0.5)
    with torch.no_grad():
        expected = to_uint8_nhwc(standin(zmid, torch.zeros([1, 0]), noise_mode="const"))[0].numpy()
    np.testing.assert_array_equal(frames[1], expected)


def test_bad_video_arguments(standin):
    with pytest.raises(StyleGANError, match="slerp"):
        interpolation_frames(standin, [0, 1], kind="slerp", space="w")
    with pytest.raises(StyleGANError, match="latent space"):
        interpolation_frames(standin, [0, 1], space="s")
    with pytest.raises(StyleGANError, match="interpolation"):
        interpolation_frames(standin, [0, 1], kind="bezier")
    with pytest.raises(StyleGANError, match="grid"):
        interpolation_frames(standin, [0, 1, 2], grid="2x1")
    with pytest.raises(StyleGANError, match="frames per keyframe"):
        interpolation_frames(standin, [0, 1], frames_per_key=0)


def _moving_frames(n, h=16, w=24, channels=3):
    rng = np.random.RandomState(0)
    base = rng.randint(0, 255, size=(h, w, channels), dtype=np.uint8)
    return [np.roll(base, i, axis=1) for i in range(n)]


def test_mp4_round_trip(tmp_path):
    path = write_video(iter(_moving_frames(7)), tmp_path / "clip.mp4", fps=10)
    assert path == tmp_path / "clip.mp4"
    reader = imageio.get_reader(path, format="FFMPEG")
    try:
        frames = [f for f in reader]
        assert reader.get_meta_data()["fps"] == pytest.approx(10)
    finally:
        reader.close()
    assert len(frames) == 7
    assert frames[0].shape == (16, 24, 3)


def test_mp4_pads_odd_sizes_and_takes_greyscale(tmp_path):
    path = write_video(_moving_frames(3, h=9, w=15, channels=1), tmp_path / "grey.mp4", fps=5)
    frames = imageio.mimread(path, format="FFMPEG")
    assert len(frames) == 3
    assert frames[0].shape[:2] == (10, 16)


def test_gif_by_suffix_and_by_format(tmp_path):
    frames = _moving_frames(5)
    gif = write_video(frames, tmp_path / "a.gif", fps=20)
    assert gif.suffix == ".gif"
    read = imageio.mimread(gif)
    assert len(read) == 5 and read[0].shape[:2] == (16, 24)
    forced = write_video(frames, tmp_path / "b.mp4", fps=20, format="gif")
    assert forced == tmp_path / "b.gif" and len(imageio.mimread(forced)) == 5


def test_gif_fallback_without_ffmpeg(tmp_path, monkeypatch):
    monkeypatch.setattr(video_module, "ffmpeg_available", lambda: False)
    with pytest.warns(UserWarning, match="GIF"):
        path = write_video(_moving_frames(4), tmp_path / "c.mp4", fps=10)
    assert path == tmp_path / "c.gif"
    assert len(imageio.mimread(path)) == 4


def test_write_video_errors(tmp_path):
    with pytest.raises(StyleGANError, match="no frames"):
        write_video([], tmp_path / "empty.mp4")
    with pytest.raises(StyleGANError, match="no frames"):
        write_video([], tmp_path / "empty.gif")
    with pytest.raises(StyleGANError, match="format"):
        write_video(_moving_frames(2), tmp_path / "x.avi", format="avi")
    with pytest.raises(StyleGANError, match="fps"):
        write_video(_moving_frames(2), tmp_path / "x.mp4", fps=0)


def test_save_interpolation_video(tmp_path, G):
    path = save_interpolation_video(
        G, tmp_path / "lerp.mp4", [0, 1, 2, 3], fps=12, grid="2x1", frames_per_key=5
    )
    frames = imageio.mimread(path, format="FFMPEG")
    r = G.img_resolution
    assert len(frames) == 2 * 5
    assert frames[0].shape == (r, 2 * r, 3)
