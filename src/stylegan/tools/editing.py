"""Applying latent directions: moving ws (or z, or styles) along a :class:`DirectionSet`.

An edit of strength ``a`` along direction k adds ``a * unit[k] * v_k``:

- space ``w``: to the ws of the chosen layers (``ws[:, layers] += a * unit * v``), as SeFa,
  GANSpace and InterFaceGAN's W+ edits do;
- space ``z``: to z before the mapping (InterFaceGAN's z boundaries), then mapped as usual;
- space ``s``: to the affine outputs while the generator runs (StyleSpace), through
  :func:`stylegan.tools.styles.style_offsets`.

``mode="project"`` is InterFaceGAN's own edit in Z/W, ``x + (d - x.n) n``: ``d`` is then a signed
distance from the hyperplane, so strength 0 puts the image *on* the boundary. The default
``"shift"`` is purely additive, and strength 0 adds nothing: the unedited image, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.images import make_grid, save_image
from stylegan.latents import parse_value_sweep
from stylegan.tools.direction_set import DirectionSet, layer_presets, parse_layers
from stylegan.tools.generate import latents_to_ws, prepare_rendering, synthesize
from stylegan.tools.styles import style_layers, style_offsets

EDIT_MODES = ("shift", "project")
DEFAULT_STRENGTHS = "-3:3:7"


def parse_strengths(spec: str | Sequence[float]) -> list[float]:
    """``"-3:3:7"`` (7 values from -3 to 3, both included), ``"-2,0,2"``, or numbers."""
    return parse_value_sweep(spec, "strength", DEFAULT_STRENGTHS)


def resolve_layers(
    G: nn.Module, directions: DirectionSet, layers: str | Sequence[int] | None = None
) -> tuple[int, ...]:
    """The ws indices an edit moves: ``layers`` if given (``"2-5"``, ``"0,1"``, ``coarse`` /
    ``middle`` / ``fine``, ``all`` or indices), else the set's own, else all of them."""
    num_ws = int(G.num_ws)
    if layers is None:
        return directions.layers if directions.layers is not None else tuple(range(num_ws))
    if isinstance(layers, str):  # presets as `stylegan directions --layers` (SeFa's)
        return parse_layers(layers, num_ws, layer_presets(num_ws))
    return parse_layers(",".join(str(int(i)) for i in layers), num_ws)


def _check_mode(mode: str) -> None:
    if mode not in EDIT_MODES:
        raise StyleGANError(f"unknown edit mode {mode!r}: use one of {', '.join(EDIT_MODES)}")


def _move(x: torch.Tensor, vector: torch.Tensor, distance: float, mode: str) -> torch.Tensor:
    """``x [..., D]`` moved along ``vector``: shifted by it, or to ``distance`` from the plane."""
    if mode == "shift":
        return x + distance * vector
    normal = vector / vector.norm().clamp_min(1e-12)
    return x + (distance - (x * normal).sum(-1, keepdim=True)) * normal


def _direction(directions: DirectionSet, key: int | str, like: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(directions.scaled(key)).to(like.device, torch.float32)


def apply_direction(
    G: nn.Module,
    ws: torch.Tensor,
    directions: DirectionSet,
    key: int | str,
    strength: float,
    layers: str | Sequence[int] | None = None,
    mode: str = "shift",
) -> torch.Tensor:
    """``ws [N, num_ws, w_dim]`` moved along direction ``key`` (a w-space set) on ``layers``.

    A new tensor; with ``mode="shift"`` and strength 0 it equals ``ws`` exactly. For z sets
    use :func:`apply_direction_z`, for style sets :func:`direction_style_offset`.
    """
    _check_mode(mode)
    if directions.space != "w":
        raise StyleGANError(
            f"apply_direction moves ws, but this is a {directions.space}-space direction set: "
            f"use {'apply_direction_z' if directions.space == 'z' else 'edit_images'}"
        )
    directions.check_network(G)
    check_ws(G, ws)
    chosen = list(resolve_layers(G, directions, layers))
    edited = ws.clone()
    if strength == 0 and mode == "shift":
        return edited  # add nothing at all: not even -0.0 or rounding
    vector = _direction(directions, key, ws)
    edited[:, chosen] = _move(ws[:, chosen].float(), vector, float(strength), mode).to(ws.dtype)
    return edited


def apply_direction_z(
    z: torch.Tensor, directions: DirectionSet, key: int | str, strength: float, mode: str = "shift"
) -> torch.Tensor:
    """``z [N, z_dim]`` moved along direction ``key`` of a z-space set (before the mapping)."""
    _check_mode(mode)
    if directions.space != "z":
        raise StyleGANError(
            f"apply_direction_z moves z, but this is a {directions.space}-space direction set"
        )
    if z.ndim != 2 or z.shape[1] != directions.dim:
        raise StyleGANError(
            f"z of shape {list(z.shape)} does not fit directions of z_dim {directions.dim}"
        )
    if strength == 0 and mode == "shift":
        return z.clone()
    return _move(z.float(), _direction(directions, key, z), float(strength), mode).to(z.dtype)


def direction_style_offset(
    G: nn.Module,
    directions: DirectionSet,
    key: int | str,
    strength: float,
    layers: str | Sequence[int] | None = None,
) -> torch.Tensor | None:
    """The style offset ``[total channels]`` of a style-space edit, zero outside the style layers
    reading ``layers``; None for strength 0 (nothing to add)."""
    if directions.space != "s":
        raise StyleGANError(f"a style offset needs an s-space set, not {directions.space!r}")
    directions.check_network(G)
    if strength == 0:
        return None
    offset = torch.from_numpy(directions.scaled(key) * float(strength))
    if layers is not None or directions.layers is not None:
        chosen = set(resolve_layers(G, directions, layers))
        mask = torch.zeros_like(offset)
        for layer in style_layers(G):
            if layer.w_index in chosen:
                mask[layer.offset : layer.offset + layer.channels] = 1
        offset = offset * mask
    return offset


def check_ws(G: nn.Module, ws: torch.Tensor) -> None:
    """A one-line error unless ``ws`` is ``[N, num_ws, w_dim]`` of ``G``."""
    expected = [int(G.num_ws), int(G.w_dim)]
    if ws.ndim != 3 or list(ws.shape[1:]) != expected:
        raise StyleGANError(
            f"ws of shape {list(ws.shape)} do not fit this network: expected [N, {expected[0]}, "
            f"{expected[1]}]"
        )


def _render_column(G, latents, directions, key, strength, layers, mode, render) -> np.ndarray:
    """Every row's image at one strength, rendered like :func:`synthesize` renders ws."""
    c, mapping, noise_mode, batch_size = render
    if directions.space == "z":
        z = apply_direction_z(latents, directions, key, strength, mode)
        ws = latents_to_ws(G, z, c, *mapping)
    elif directions.space == "w":
        ws = apply_direction(G, latents, directions, key, strength, layers, mode)
    else:
        offset = direction_style_offset(G, directions, key, strength, layers)
        if offset is not None:
            with style_offsets(G, offset):
                return synthesize(G, latents, noise_mode, batch_size)
        ws = latents
    return synthesize(G, ws, noise_mode, batch_size)


@torch.no_grad()
def edit_images(
    G: nn.Module,
    latents: torch.Tensor,
    directions: DirectionSet,
    key: int | str,
    strengths: str | Sequence[float] = DEFAULT_STRENGTHS,
    layers: str | Sequence[int] | None = None,
    *,
    mode: str = "shift",
    noise_mode: str = "const",
    batch_size: int = 8,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    c: torch.Tensor | None = None,
    device=None,
) -> np.ndarray:
    """uint8 ``[rows, strengths, H, W, C]``: every latent edited at every strength.

    ``latents`` are ws ``[N, num_ws, w_dim]`` for w and s sets, z ``[N, z_dim]`` for z sets (then
    mapped with ``truncation_psi``/``truncation_cutoff`` and labels ``c``). Each column renders
    the rows in the same batches with the same noise, so the strength-0 column is the unedited
    image exactly (``noise_mode="random"`` draws the same noise for every column).
    """
    strengths = parse_strengths(strengths)
    _check_mode(mode)
    figure = (int(latents.shape[0]), len(strengths), "edit grid")
    G, device, batch_size = prepare_rendering(G, device, noise_mode, batch_size, figure)
    directions.check_network(G)
    directions.index(key)
    if directions.space == "z" and layers is not None:
        raise StyleGANError("--layers applies to w and s directions; z directions move every layer")
    latents = latents.to(device)
    if directions.space == "z":
        if latents.ndim != 2 or latents.shape[1] != G.z_dim:
            raise StyleGANError(
                f"a z-space direction needs z [N, {G.z_dim}] (seeds), got {list(latents.shape)}"
            )
        if c is None:
            c = torch.zeros(latents.shape[0], G.c_dim, device=device)
    else:
        check_ws(G, latents)
    render = (c, (truncation_psi, truncation_cutoff), noise_mode, batch_size)
    columns = []
    for strength in strengths:
        with _same_noise(device, noise_mode):
            columns.append(
                _render_column(G, latents, directions, key, strength, layers, mode, render)
            )
    return np.stack(columns, axis=1)


@contextmanager
def _same_noise(device: torch.device, noise_mode: str) -> Iterator[None]:
    """Under ``noise_mode="random"``, reseed torch's generator for each column so that columns
    differ only by the edit (the caller's RNG state is restored afterwards)."""
    if noise_mode != "random":
        yield
        return
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        yield


def edit_grid(images: np.ndarray) -> np.ndarray:
    """The figure of :func:`edit_images`: one row per latent, one column per strength."""
    rows, cols = images.shape[:2]
    return make_grid(images.reshape(rows * cols, *images.shape[2:]), cols=cols)


def sweep_strengths(strengths: Sequence[float], frames: int) -> list[float]:
    """``frames`` strengths going from 0 to the largest, back to the smallest and to 0 again: a
    loop that starts and ends on the unedited image."""
    lo, hi = min(strengths), max(strengths)
    t = np.linspace(0, 1, frames, endpoint=False)
    # A triangle wave 0 -> hi -> lo -> 0 over one period.
    path = np.interp(t, [0, 0.25, 0.75, 1], [0, hi, lo, 0])
    return [float(s) for s in path]


def edit_video_frames(
    G: nn.Module,
    latents: torch.Tensor,
    directions: DirectionSet,
    key: int | str,
    strengths: Sequence[float],
    frames: int = 60,
    **edit: object,
) -> Iterator[np.ndarray]:
    """Frames of a strength sweep (:func:`sweep_strengths`): every row's image side by side."""
    rows = int(latents.shape[0])
    cols = math.ceil(math.sqrt(rows))
    for strength in sweep_strengths(strengths, frames):
        images = edit_images(G, latents, directions, key, [strength], **edit)
        yield make_grid(images[:, 0], cols=cols)


def save_edit(
    images: np.ndarray,
    strengths: Sequence[float],
    outdir: str | Path,
    row_names: Sequence[str] | None = None,
    save_cells: bool = False,
) -> list[Path]:
    """Write ``edit.png`` and, if asked, every cell as ``<row>-strength<S>.png``."""
    outdir = Path(outdir)
    paths = [save_image(edit_grid(images), outdir / "edit.png")]
    if save_cells:
        names = list(row_names or [f"row{i}" for i in range(len(images))])
        for i, name in enumerate(names):
            for j, strength in enumerate(strengths):
                paths.append(save_image(images[i, j], outdir / f"{name}-strength{strength:g}.png"))
    return paths
