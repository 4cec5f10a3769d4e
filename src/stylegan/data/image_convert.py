"""One source file to one dataset image: decode, RGB, crop / pad / resize, PNG bytes.

Output images are always 3-channel RGB: greyscale, palette and CMYK inputs are converted,
transparent ones composited onto the background; 16-bit and float greyscale are scaled by a fixed
rule. An input that cannot become a dataset image raises ``_SkipImage`` with the reason.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from stylegan.data.reader import UnreadableFile, open_image
from stylegan.errors import StyleGANError

_TRANSFORM_HINT = (
    "--transform center-crop (keep the middle square), pad (add borders of the --background "
    "colour) or center-crop-wide (with --resolution WxH)"
)

# This input cannot become a dataset image; the message says why (one exception for the reader's
# guards and ours, so both land in the skip list the same way).
_SkipImage = UnreadableFile


def load_rgb(data: bytes, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """An image file's bytes as an upright RGB image, exactly as the dataset tool decodes them
    (transparency over ``background``); :class:`UnreadableFile` says why it cannot be."""
    return _load_rgb(data, background)


def _load_rgb(data: bytes, background: tuple[int, int, int]) -> Image.Image:
    """Decode one file to an RGB image upright as viewers show it; transparency over background."""
    try:
        with open_image(data) as img:  # refuses too many pixels before decoding any
            img.load()
            with contextlib.suppress(Exception):  # a broken EXIF block is no reason to skip
                img = ImageOps.exif_transpose(img)
            return _to_rgb(img, background)
    except _SkipImage:
        raise
    except UnidentifiedImageError as err:
        raise _SkipImage("not a readable image") from err
    except Exception as err:  # Pillow reports damaged files with many exception types
        raise _SkipImage(f"unreadable image: {err}") from err


def _to_rgb(img: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    if img.mode.startswith("I") or img.mode == "F":
        img = Image.fromarray(_greyscale_to_uint8(img), "L")
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return img.convert("RGB")


def _greyscale_to_uint8(img: Image.Image) -> np.ndarray:
    """Scale a 16-bit, 32-bit integer or float greyscale image to 8 bits by a fixed rule.

    ``convert("L")`` would clip at 255 (16-bit turns white) or truncate (float in [0, 1] turns
    black). 16-bit (``I;16*``) always divides by 257. Float and 32-bit integer files carry no
    range, so the values decide: float in [0, 1] (the usual convention) multiplies by 255, float
    in [0, 255] is kept; 32-bit integers in [0, 255] are kept, in [0, 65535] divide by 257.
    Anything else (negative values, NaN, wider ranges) is skipped with its range: no stretch
    could be right for every image, and a per-image min-max stretch would change the contrast of
    each image differently.
    """
    array = np.asarray(img, dtype=np.float32)
    if img.mode.startswith("I;16"):
        return np.round(array / 257).astype(np.uint8)
    low, high = float(array.min()), float(array.max())
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0:
        raise _SkipImage(f"{img.mode} image with values in [{low:g}, {high:g}]: expected >= 0")
    if img.mode == "F" and high <= 1:
        array = array * 255
    elif img.mode == "I" and high > 255:
        if high > 65535:
            raise _SkipImage(f"32-bit image with values up to {high:g}: expected [0, 65535]")
        array = array / 257
    elif high > 255:
        raise _SkipImage(f"float image with values up to {high:g}: expected [0, 1] or [0, 255]")
    return np.clip(np.round(array), 0, 255).astype(np.uint8)


def _transform(
    img: Image.Image,
    transform: str | None,
    width: int,
    height: int,
    resample,
    background: tuple[int, int, int],
) -> Image.Image:
    """Crop or pad to square as asked, then resize to ``width`` x ``width``."""
    w, h = img.size
    if transform is None:
        if w != h:
            raise StyleGANError(f"an image is {w}x{h}, not square; choose {_TRANSFORM_HINT}")
    elif transform == "center-crop":
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        img = img.crop((left, top, left + side, top + side))
    elif transform == "pad":
        side = max(w, h)
        canvas = Image.new("RGB", (side, side), background)
        canvas.paste(img, ((side - w) // 2, (side - h) // 2))
        img = canvas
    elif transform == "center-crop-wide":
        return _center_crop_wide(img, width, height, resample)
    if img.size != (width, width):
        img = img.resize((width, width), resample)
    return img


def _center_crop_wide(img: Image.Image, width: int, height: int, resample) -> Image.Image:
    """NVIDIA's wide crop: a ``width:height`` band from the middle, on a black square canvas."""
    w, h = img.size
    if w < width:
        raise _SkipImage(f"narrower than {width} px")
    if round(width * h / w) < height:
        raise _SkipImage(f"too wide for a {width}x{height} band")
    # NVIDIA's tool measures the band in output pixels, which squeezes inputs wider than
    # `width`; measuring it in input pixels keeps the aspect ratio.
    band = round(w * height / width)
    top = (h - band) // 2
    img = img.crop((0, top, w, top + band)).resize((width, height), resample)
    canvas = Image.new("RGB", (width, width), (0, 0, 0))
    canvas.paste(img, (0, (width - height) // 2))
    return canvas


def _encode_png(img: Image.Image, compress_level: int) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="png", compress_level=compress_level, optimize=compress_level == 9)
    return buffer.getvalue()
