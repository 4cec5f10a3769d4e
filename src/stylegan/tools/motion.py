"""Motion videos: fixed latents, the generator's input moved continuously (StyleGAN3 paper videos).

Every frame renders the same ``ws`` with another user transform of the input: sub-pixel
translation along a line (``pan``) or a circle (``circle``), and/or rotation about the image
centre (``rotate``); combine them with ``+`` (``circle+rotate``). An alias-free generator's
image then moves as a whole, while a StyleGAN2 image shows "texture sticking": details stay
glued to the pixel grid. ``compare=`` renders a second network beside the first, driven by the
same motion.

StyleGAN3 networks are moved through ``G.synthesis.input.transform``, set exactly as NVIDIA's
``gen_images.py`` / ``gen_video.py`` do (``inv(make_transform(translate, rotate))``);
StyleGAN2 networks, which have no such input, by resampling their learned 4x4 constant as a
periodic band-limited signal, the convention of our equivariance metrics (see
:mod:`stylegan.networks.transform`). The transform is restored after every frame.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from stylegan.errors import StyleGANError
from stylegan.images import make_grid
from stylegan.latents import parse_seeds
from stylegan.networks.transform import InputTransform, transform_kind, user_transform_matrix
from stylegan.tools.generate import prepare_rendering, seeds_to_ws, synthesize
from stylegan.tools.video import video_writer

MOTIONS = ("pan", "circle", "rotate")


def parse_vec2(spec: str | Sequence[float]) -> tuple[float, float]:
    """``"0.3,1"`` -> ``(0.3, 1.0)``, as ``gen_images.py --translate``."""
    if isinstance(spec, str):
        parts = spec.split(",")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) != 2:
            raise StyleGANError(f"cannot read {spec!r} as two numbers X,Y (e.g. 0.1,-0.05)")
        return values[0], values[1]
    x, y = (float(v) for v in spec)
    return x, y


@contextlib.contextmanager
def set_user_transform(
    G: nn.Module, translate: Sequence[float] = (0.0, 0.0), rotate: float = 0.0
) -> Iterator[nn.Module]:
    """Render ``G`` translated by ``translate`` (image widths: ``1 / img_resolution`` is one
    pixel; +x right, +y down) and rotated by ``rotate`` degrees inside the ``with`` block, as
    ``gen_images.py --translate X,Y --rotate DEG``; the previous state is restored afterwards.

    StyleGAN3: ``synthesis.input.transform``; StyleGAN2: the resampled constant input.
    """
    translate = parse_vec2(translate)
    with InputTransform(G) as transform:
        transform.set(user_transform_matrix(translate, float(rotate)))
        yield G


def parse_motion(spec: str | Sequence[str]) -> tuple[str, ...]:
    """``"circle+rotate"`` -> ``("circle", "rotate")``; at most one of pan and circle."""
    parts = spec.split("+") if isinstance(spec, str) else list(spec)
    parts = tuple(p.strip().lower() for p in parts if p.strip())
    unknown = [p for p in parts if p not in MOTIONS]
    if not parts or unknown:
        raise StyleGANError(
            f"unknown motion {spec!r}: use {', '.join(MOTIONS)} or a combination like circle+rotate"
        )
    if "pan" in parts and "circle" in parts:
        raise StyleGANError("pan and circle both translate: pick one")
    return tuple(dict.fromkeys(parts))


def motion_path(
    motion: str | Sequence[str] = "circle",
    num_frames: int = 120,
    img_resolution: int = 256,
    speed: float = 1.0,
    radius: float | None = None,
    degrees: float = 360.0,
) -> list[tuple[tuple[float, float], float]]:
    """Per frame ``((tx, ty) in image widths, angle in degrees)``; frame 0 is untransformed.

    ``pan``: ``speed`` pixels per frame along +x (fractions give sub-pixel motion).
    ``circle``: one loop over the video on a circle of ``radius`` pixels (default an eighth of
    the image) through the origin. ``rotate``: ``degrees`` over the video (360 loops).
    """
    parts = parse_motion(motion)
    if num_frames < 1:
        raise StyleGANError(f"need at least one frame, got {num_frames}")
    radius = img_resolution / 8 if radius is None else float(radius)
    path = []
    for i in range(num_frames):
        phase = i / num_frames
        tx = ty = 0.0
        angle = 0.0
        if "pan" in parts:
            tx = i * speed / img_resolution
        if "circle" in parts:
            theta = 2 * math.pi * phase
            tx = radius * (math.cos(theta) - 1) / img_resolution
            ty = radius * math.sin(theta) / img_resolution
        if "rotate" in parts:
            angle = degrees * phase
        path.append(((tx, ty), angle))
    return path


def motion_frames(
    G: nn.Module,
    seeds: Sequence[int] | str,
    motion: str | Sequence[str] = "circle",
    num_frames: int = 120,
    compare: nn.Module | None = None,
    speed: float = 1.0,
    radius: float | None = None,
    degrees: float = 360.0,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    noise_mode: str = "const",
    batch_size: int = 8,
    grid_cols: int | None = None,
    device=None,
    progress: bool = False,
) -> Iterator[np.ndarray]:
    """Yield uint8 frames ``[H, W, C]`` of the seeds' images (a grid of ``grid_cols`` columns,
    default all in one row) moving along :func:`motion_path`; with ``compare``, that network's
    grid (same seeds, same motion) is placed to the right, doubling the width.
    """
    seed_list = parse_seeds(seeds)
    if not seed_list:
        raise StyleGANError("no seeds given")
    nets = [G] if compare is None else [G, compare]
    prepared = []
    for net in nets:
        transform_kind(net)  # fail early for networks that cannot move
        net, dev, batch_size = prepare_rendering(net, device, noise_mode, batch_size)
        ws = seeds_to_ws(net, seed_list, truncation_psi, truncation_cutoff, class_idx, device=dev)
        prepared.append((net, ws))
    shapes = {(n.img_resolution, n.img_channels) for n, _ in prepared}
    if len(shapes) > 1:
        raise StyleGANError(f"side by side needs equal image sizes and channels, got {shapes}")
    res = prepared[0][0].img_resolution
    path = motion_path(motion, num_frames, res, speed, radius, degrees)
    cols = grid_cols or len(seed_list)
    return _render(prepared, path, noise_mode, batch_size, cols, progress)


def _render(prepared, path, noise_mode, batch_size, cols, progress) -> Iterator[np.ndarray]:
    bar = tqdm(total=len(path), desc="motion", unit="frame", disable=not progress)
    try:
        for translate, angle in path:
            grids = []
            for net, ws in prepared:
                with set_user_transform(net, translate, angle):
                    images = synthesize(net, ws, noise_mode, batch_size)
                grids.append(make_grid(images, cols=cols))
            yield np.concatenate(grids, axis=1) if len(grids) > 1 else grids[0]
            bar.update(1)
    finally:
        bar.close()


write_motion_video = video_writer(motion_frames, "write_motion_video")


@torch.no_grad()
def transformed_images(
    G: nn.Module,
    seeds: Sequence[int] | str,
    translate: Sequence[float] = (0.0, 0.0),
    rotate: float = 0.0,
    **generate_kwargs,
) -> np.ndarray:
    """:func:`stylegan.tools.generate.generate_images` under :func:`set_user_transform`."""
    from stylegan.tools.generate import generate_images

    with set_user_transform(G, translate, rotate):
        return generate_images(G, seeds, **generate_kwargs)
