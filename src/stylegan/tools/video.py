"""Latent interpolation videos: a grid of cells, each looping through its own keyframe seeds.

As in NVIDIA's ``gen_video.py``: cell ``i`` of a ``cols x rows`` grid gets the consecutive seeds
``i*K .. i*K+K-1`` as keyframes, each keyframe lasts ``frames_per_key`` frames, the video loops
back to the first keyframe, and the noise is held fixed (``noise_mode='const'``) so that only the
latent moves. Frames are produced lazily in batches so long videos need little memory.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from tqdm import tqdm

from stylegan.errors import StyleGANError
from stylegan.images import make_grid
from stylegan.latents import class_labels, parse_seeds, z_from_seeds
from stylegan.tools.generate import latents_to_ws, prepare_rendering, synthesize
from stylegan.tools.interpolate import check_kind, interpolate_keyframes

LATENT_SPACES = ("z", "w")
VIDEO_FORMATS = ("mp4", "gif")


def parse_grid(spec: str | Sequence[int]) -> tuple[int, int]:
    """``"4x3"`` (or ``"4,3"``) -> ``(cols, rows) = (4, 3)``, as ``gen_video.py --grid``."""
    if isinstance(spec, str):
        match = re.fullmatch(r"\s*(\d+)\s*[x,]\s*(\d+)\s*", spec.lower())
        if not match:
            raise StyleGANError(f"cannot read grid {spec!r}: use COLSxROWS, e.g. 2x2")
        spec = (int(match.group(1)), int(match.group(2)))
    cols, rows = (int(v) for v in spec)
    if cols < 1 or rows < 1:
        raise StyleGANError(f"grid {cols}x{rows} is empty: use at least 1x1")
    return cols, rows


def keyframe_seeds(
    seeds: Sequence[int] | str, grid: str | Sequence[int] = (1, 1), num_keyframes=None
) -> list[list[int]]:
    """The keyframe seeds of every cell (row-major): consecutive runs of ``seeds``.

    Without ``num_keyframes`` the number of seeds must be a multiple of the number of cells; with
    it, the seeds are reused from the start as often as needed.
    """
    seeds = parse_seeds(seeds)
    cols, rows = parse_grid(grid)
    cells = cols * rows
    if num_keyframes is None:
        if len(seeds) % cells:
            raise StyleGANError(
                f"{len(seeds)} seeds do not fill a {cols}x{rows} grid evenly: give a multiple of "
                f"{cells} seeds, or --num-keyframes to reuse seeds"
            )
        num_keyframes = len(seeds) // cells
    if num_keyframes < 1:
        raise StyleGANError(f"need at least one keyframe, got {num_keyframes}")
    flat = [seeds[i % len(seeds)] for i in range(num_keyframes * cells)]
    return [flat[i * num_keyframes : (i + 1) * num_keyframes] for i in range(cells)]


def interpolation_frames(
    G: nn.Module,
    seeds: Sequence[int] | str,
    grid: str | Sequence[int] = (1, 1),
    frames_per_key: int = 60,
    kind: str = "cubic",
    space: str = "w",
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    num_keyframes: int | None = None,
    noise_mode: str = "const",
    batch_size: int = 8,
    device=None,
    progress: bool = False,
) -> Iterator[np.ndarray]:
    """Yield the video's frames, uint8 ``[rows H, cols W, C]``, ``K * frames_per_key`` of them.

    ``kind``: ``linear``, ``slerp`` (``z`` space only: w is not Gaussian, so the sphere means
    nothing there) or ``cubic`` (periodic spline through the keyframes). ``space``: interpolate
    the seeds' ``z`` and map every frame, or map the keyframes once and interpolate ``ws``.
    """
    # Validate everything before the first frame, so errors surface when the generator is made.
    check_kind(kind)
    if space not in LATENT_SPACES:
        raise StyleGANError(f"unknown latent space {space!r}; choose z or w")
    if kind == "slerp" and space != "z":
        raise StyleGANError("slerp is for z space (use --space z), or pick linear or cubic in w")
    if frames_per_key < 1:
        raise StyleGANError(f"frames per keyframe must be at least 1, got {frames_per_key}")
    cells = keyframe_seeds(seeds, grid, num_keyframes)
    cols, _ = parse_grid(grid)
    G, device, batch_size = prepare_rendering(G, device, noise_mode, batch_size)
    num_keys = len(cells[0])
    c = class_labels(class_idx, G.c_dim, num_keys, device=device)
    cutoff = truncation_cutoff
    keys = []
    for cell_seeds in cells:
        z = z_from_seeds(cell_seeds, G.z_dim, device=device)
        keys.append(z if space == "z" else latents_to_ws(G, z, c, truncation_psi, cutoff))

    def ws_at(t: torch.Tensor) -> torch.Tensor:
        # Times [T] -> ws [T * cells, num_ws, w_dim], frame-major: a frame's cells are adjacent.
        latents = torch.stack([interpolate_keyframes(k, t, kind) for k in keys], dim=1)
        latents = latents.flatten(0, 1)
        if space == "w":
            return latents
        return latents_to_ws(G, latents, c[:1].expand(len(latents), -1), truncation_psi, cutoff)

    num_frames = num_keys * frames_per_key
    return _render_frames(
        G, ws_at, num_frames, frames_per_key, cells, cols, noise_mode, batch_size, progress
    )


def _render_frames(
    G, ws_at, num_frames, frames_per_key, cells, cols, noise_mode, batch_size, progress
) -> Iterator[np.ndarray]:
    frames_per_batch = max(1, batch_size // len(cells))
    bar = tqdm(total=num_frames, desc="video", unit="frame", disable=not progress)
    try:
        for start in range(0, num_frames, frames_per_batch):
            stop = min(start + frames_per_batch, num_frames)
            t = torch.arange(start, stop, dtype=torch.float64) / frames_per_key
            images = synthesize(G, ws_at(t), noise_mode, batch_size)
            for frame_cells in images.reshape(len(t), len(cells), *images.shape[1:]):
                yield make_grid(frame_cells, cols=cols)
                bar.update(1)
    finally:
        bar.close()


def ffmpeg_available() -> bool:
    """Whether imageio-ffmpeg can find an ffmpeg executable (bundled or on PATH)."""
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return False
    return True


def write_video(
    frames: Iterable[np.ndarray],
    path: str | Path,
    fps: float = 30,
    format: str | None = None,
    quality: float = 8,
) -> Path:
    """Write uint8 ``[H, W, C]`` frames as an MP4 (H.264, yuv420p) or an animated GIF.

    ``format`` defaults to the file's suffix (``.gif`` -> GIF, else MP4). Without ffmpeg an MP4
    request falls back to a GIF next to it (with a warning). Returns the path written.
    """
    path = Path(path)
    format = (format or ("gif" if path.suffix.lower() == ".gif" else "mp4")).lower()
    if format not in VIDEO_FORMATS:
        raise StyleGANError(f"unknown video format {format!r}; choose mp4 or gif")
    if fps <= 0:
        raise StyleGANError(f"fps must be positive, got {fps}")
    if format == "mp4" and not ffmpeg_available():
        path = path.with_suffix(".gif")
        warnings.warn(f"ffmpeg is not available; writing a GIF instead: {path}", stacklevel=2)
        format = "gif"
    if format == "gif" and path.suffix.lower() != ".gif":
        path = path.with_suffix(".gif")
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "gif":
        _write_gif(frames, path, fps)
    else:
        _write_mp4(frames, path, fps, quality)
    return path


def _write_mp4(frames: Iterable[np.ndarray], path: Path, fps: float, quality: float) -> None:
    import imageio.v2 as imageio

    # macro_block_size=1 stops imageio from rescaling; we pad to even sizes for yuv420p instead.
    writer = imageio.get_writer(
        path,
        format="FFMPEG",
        mode="I",
        fps=fps,
        codec="libx264",
        pixelformat="yuv420p",
        quality=quality,
        macro_block_size=1,
        ffmpeg_log_level="error",
    )
    count = 0
    try:
        for frame in frames:
            writer.append_data(_even(_as_frame(frame)))
            count += 1
    finally:
        writer.close()
    if count == 0:
        path.unlink(missing_ok=True)
        raise StyleGANError("no frames to write")


def _write_gif(frames: Iterable[np.ndarray], path: Path, fps: float) -> None:
    images = (Image.fromarray(_as_frame(f)) for f in frames)
    first = next(images, None)
    if first is None:
        raise StyleGANError("no frames to write")
    # GIF stores frame times in 1/100 s; Pillow merges identical consecutive frames.
    first.save(
        path, save_all=True, append_images=images, duration=max(20, round(1000 / fps)), loop=0
    )


def _as_frame(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame, dtype=np.uint8)
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    return np.ascontiguousarray(frame)


def _even(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    pad = [(0, h % 2), (0, w % 2)] + [(0, 0)] * (frame.ndim - 2)
    return np.pad(frame, pad, mode="edge") if h % 2 or w % 2 else frame


def video_writer(
    make_frames: Callable[..., Iterable[np.ndarray]], name: str
) -> Callable[..., Path]:
    """``save(G, path, seeds, fps=30, format=None, **frame_kwargs)``: ``make_frames(G, seeds,
    **frame_kwargs)`` straight into :func:`write_video` (MP4, or GIF by suffix or without
    ffmpeg); it returns the path written. One writer for every kind of frames."""

    def save(
        G: nn.Module,
        path: str | Path,
        seeds: Sequence[int] | str,
        fps: float = 30,
        format: str | None = None,
        **frame_kwargs,
    ) -> Path:
        return write_video(make_frames(G, seeds, **frame_kwargs), path, fps, format)

    save.__name__ = save.__qualname__ = name
    save.__doc__ = (
        f":func:`{make_frames.__name__}` straight into :func:`write_video`; returns the path."
    )
    return save


save_interpolation_video = video_writer(interpolation_frames, "save_interpolation_video")
