"""Tools that take a generator and make pictures: images from seeds, style mixing, the noise
figure and interpolation videos. Each returns arrays or writes files; the CLI wraps them."""

from stylegan.tools.generate import generate_images, save_images
from stylegan.tools.interpolate import interpolate_keyframes, lerp, slerp
from stylegan.tools.mixing import named_style_range, parse_styles, style_mixing_grid
from stylegan.tools.noise import noise_variation_figure
from stylegan.tools.video import interpolation_frames, save_interpolation_video, write_video

__all__ = [
    "generate_images",
    "interpolate_keyframes",
    "interpolation_frames",
    "lerp",
    "named_style_range",
    "noise_variation_figure",
    "parse_styles",
    "save_images",
    "save_interpolation_video",
    "slerp",
    "style_mixing_grid",
    "write_video",
]
