"""Text-driven editing: StyleCLIP's latent optimisation and global directions (Patashnik et al.
2021); the latent mapper is in :mod:`stylegan.tools.clip_mapper`.

Every method steers with a text-image model passed in (a :class:`TextImageModel`: the shipped
``twemoji-clip`` or a real CLIP, see :mod:`stylegan.clip`), so tools never load one themselves.
Each edit has a strength, and strength 1 is the method's own default edit:

- optimisation: ``w_opt`` after 300 Adam steps on ``CLIP distance + (0.008 / strength) *
  ||w - w_s||^2`` in W+ (lr 0.1, NVIDIA's ramps): the paper's weight at 1, half the pull to
  the source at 2 (:func:`optimized_edit`); extrapolating one result (:func:`blend`) overshoots
  past the optimum instead, so each strength is its own optimisation, run in one batch;
- global directions: ``s + strength * alpha * sigma * r`` in style space, ``r`` the channels'
  relevance to the text direction (``alpha`` 4.1, channels with ``|r| < beta`` = 0.15 zeroed),
  saved as an s-space :class:`~stylegan.tools.direction_set.DirectionSet` whose unit is alpha;
- mapper: ``w + strength * 0.1 * M(w)``.

Strength 0 is the source image exactly in all three.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from stylegan.errors import StyleGANError
from stylegan.images import make_grid
from stylegan.io.atomic import write_atomically
from stylegan.networks.clip import TextImageModel
from stylegan.tools.direction_set import DirectionSet
from stylegan.tools.directions import sample_ws, stylespace_stats
from stylegan.tools.editing import check_ws, sweep_strengths
from stylegan.tools.generate import prepare_generator, synthesize
from stylegan.tools.projection import learning_rate
from stylegan.tools.styles import compute_styles, style_layers, style_offsets

# Generic prompt templates; a model that was trained on its own (``templates``) is asked with those.
DEFAULT_TEMPLATES = ("{}", "a photo of a {}.", "a rendering of a {}.", "a drawing of a {}.")
OPTIMIZE_STEPS = 300
OPTIMIZE_LR = 0.1
OPTIMIZE_L2 = 0.008
GLOBAL_ALPHA = 4.1
GLOBAL_BETA = 0.15
RELEVANCE_IMAGES = 100  # StyleCLIP's fs3: 100 images, each channel moved to mean +- 5 sigma
RELEVANCE_SIGMAS = 5.0


def text_features(
    clip: TextImageModel, prompts: Sequence[str], templates: Sequence[str] | None = None
) -> torch.Tensor:
    """One unit vector per prompt, averaged over ``templates`` (default: the model's own
    ``templates`` if it has them, else :data:`DEFAULT_TEMPLATES`) as CLIP's zero-shot does."""
    if isinstance(prompts, str):
        prompts = [prompts]
    if not prompts or any(not str(p).strip() for p in prompts):
        raise StyleGANError("give a non-empty text prompt, e.g. --text 'red heart'")
    templates = list(templates or getattr(clip, "templates", None) or DEFAULT_TEMPLATES)
    out = []
    with torch.no_grad():
        for prompt in prompts:
            emb = clip.encode_text([t.format(prompt) for t in templates]).float()
            mean = emb.mean(dim=0)
            out.append(mean / mean.norm().clamp_min(1e-12))
    return torch.stack(out)


def clip_similarity(clip: TextImageModel, images: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """Cosine similarity ``[N]`` of images (-1..1) to one text vector ``[D]`` or ``[1, D]``."""
    return clip.encode_image(images).float() @ text.reshape(-1).to(images.device).float()


def image_similarity(clip: TextImageModel, images: np.ndarray, prompt: str) -> np.ndarray:
    """Cosine similarity ``[N]`` of uint8 images ``[N, H, W, C]`` to a prompt (for reports)."""
    target = text_features(clip, [prompt])[0]
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        return clip_similarity(clip, x, target).cpu().numpy()


# ---- latent optimisation --------------------------------------------------------------------


def optimize_latents(
    G: nn.Module,
    clip: TextImageModel,
    prompt: str,
    ws_source: torch.Tensor,
    *,
    steps: int = OPTIMIZE_STEPS,
    lr: float = OPTIMIZE_LR,
    l2_lambda: float | torch.Tensor = OPTIMIZE_L2,
    noise_mode: str = "const",
    templates: Sequence[str] | None = None,
    progress: bool = True,
) -> torch.Tensor:
    """StyleCLIP's optimisation from ``ws_source [N, num_ws, w_dim]``: the edited ws ``w_opt``.

    Each row is optimised on its own terms (its CLIP distance ``1 - cos`` plus ``l2_lambda``, a
    number or one per row ``[N]``, times its squared distance to its source); Adam treats every
    entry apart, so one batch is N separate optimisations.
    """
    lambdas = torch.as_tensor(l2_lambda, dtype=torch.float32).reshape(-1)
    if steps < 1 or not lr > 0 or not bool((lambdas >= 0).all()):
        raise StyleGANError(
            f"optimisation needs steps >= 1, lr > 0 and l2_lambda >= 0 (got {steps}, {lr}, "
            f"{l2_lambda})"
        )
    G, device = prepare_generator(G)
    check_ws(G, ws_source)
    if lambdas.numel() not in (1, len(ws_source)):
        raise StyleGANError(f"give one l2_lambda or one per row ({len(ws_source)})")
    lambdas = lambdas.to(device)
    source = ws_source.to(device).float()
    target = text_features(clip, [prompt], templates)[0].to(device)
    ws = source.clone().requires_grad_(True)
    opt = torch.optim.Adam([ws], lr=lr)
    params = [p for p in G.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        for step in tqdm(range(steps), desc="text optimisation", disable=not progress):
            for group in opt.param_groups:
                group["lr"] = learning_rate(step, steps, lr)
            images = G.synthesis(ws, noise_mode=noise_mode)
            distance = 1 - clip_similarity(clip, images, target)
            l2 = (ws - source).square().sum(dim=(1, 2))
            loss = (distance + lambdas * l2).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    finally:
        for p in params:
            p.requires_grad_(True)
    return ws.detach()


def optimized_edit(
    G: nn.Module,
    clip: TextImageModel,
    prompt: str,
    ws_source: torch.Tensor,
    strengths: Sequence[float],
    *,
    l2_lambda: float = OPTIMIZE_L2,
    **optimize: object,
) -> Callable[[torch.Tensor, float], torch.Tensor]:
    """The optimisation edit at each strength ``s`` (``l2_lambda / s``; 0 = the source), all
    strengths and rows in one batch: ``edit(ws_source, s)`` for :func:`edited_images`; a
    strength between two computed ones is interpolated linearly (for video sweeps)."""
    table = sorted({float(s) for s in strengths} - {0.0})
    if any(s < 0 for s in table):
        raise StyleGANError(
            "optimisation strengths must be >= 0 (strength s divides the L2 weight); for the "
            "opposite edit, give the opposite prompt"
        )
    n = len(ws_source)
    results = {0.0: ws_source.float()}
    if table:
        lambdas = torch.tensor([l2_lambda / s for s in table]).repeat_interleave(n)
        batch = ws_source.float().repeat(len(table), 1, 1)
        ws = optimize_latents(G, clip, prompt, batch, l2_lambda=lambdas, **optimize).cpu()
        results.update({s: ws[i * n : (i + 1) * n] for i, s in enumerate(table)})
    known = sorted(results)

    def edit(source: torch.Tensor, strength: float) -> torch.Tensor:
        if source.shape != ws_source.shape:
            raise StyleGANError("this optimised edit was made for other rows")
        s = min(max(float(strength), 0.0), known[-1])
        hi = next(k for k in known if k >= s)
        lo = max(k for k in known if k <= s)
        a, b = results[lo].to(source.device), results[hi].to(source.device)
        return a if hi == lo else a + (s - lo) / (hi - lo) * (b - a)

    edit.results = results  # strength -> ws, for saving
    return edit


def blend(ws_source: torch.Tensor, ws_edited: torch.Tensor, strength: float) -> torch.Tensor:
    """``w_s + strength * (w_edited - w_s)``: strength 0 is the source exactly, 1 the edit."""
    if strength == 0:
        return ws_source.clone()
    return ws_source + float(strength) * (ws_edited.to(ws_source) - ws_source)


# ---- global directions ----------------------------------------------------------------------


def editable_channels(G: nn.Module) -> np.ndarray:
    """Mask ``[total channels]`` of the style channels StyleCLIP edits: all but ToRGB's."""
    mask = np.zeros(sum(layer.channels for layer in style_layers(G)), bool)
    for layer in style_layers(G):
        if "torgb" not in layer.name.lower():
            mask[layer.offset : layer.offset + layer.channels] = True
    return mask


def _network_digest(G: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(G.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def channel_relevance(
    G: nn.Module,
    clip: TextImageModel,
    *,
    num_images: int = RELEVANCE_IMAGES,
    seed: int = 0,
    batch_size: int = 64,
    stats: tuple[np.ndarray, np.ndarray] | None = None,
    cache: str | Path | None = None,
    clip_name: str = "",
    progress: bool = True,
    digest: str | None = None,
) -> np.ndarray:
    """StyleCLIP's ``fs3``: per style channel, the unit CLIP image direction that moving it
    makes, ``[total channels, D]`` (zero rows for ToRGB channels).

    For each editable channel, ``num_images`` samples get it set to ``mean - 5 sigma`` and to
    ``mean + 5 sigma``; the difference of their image embeddings is normalised per image,
    averaged and normalised again. It costs ``2 * num_images`` renders per channel, so it is
    computed once and kept in ``cache`` (a folder; the file is named by the network's weights,
    ``clip_name``, ``num_images`` and ``seed``).
    """
    G, device = prepare_generator(G)
    cache_file = _cache_file(cache, "relevance", G, clip_name, num_images, seed, digest=digest)
    if cache_file is not None and cache_file.is_file():
        return np.load(cache_file, allow_pickle=False)
    if num_images < 1:
        raise StyleGANError(f"channel relevance needs at least 1 image, got {num_images}")
    mean, std = stats if stats is not None else stylespace_stats(G, progress=progress)
    ws = torch.cat([w for _, w in sample_ws(G, num_images, seed=seed, batch_size=batch_size)])
    styles = compute_styles(G, ws).cpu()
    channels = np.flatnonzero(editable_channels(G))
    relevance: np.ndarray | None = None
    per_batch = max(1, batch_size // (2 * num_images))  # channels per render batch
    chunks = range(0, len(channels), per_batch)
    with torch.no_grad():
        for start in tqdm(chunks, desc="channel relevance", disable=not progress):
            chosen = channels[start : start + per_batch]
            embeddings = _moved_embeddings(G, clip, ws, styles, chosen, mean, std, batch_size)
            if relevance is None:
                relevance = np.zeros((len(mean), embeddings.shape[-1]), np.float32)
            relevance[chosen] = embeddings
    assert relevance is not None
    _write_cache(cache_file, relevance)
    return relevance


def _cache_file(
    cache: str | Path | None, kind: str, G: nn.Module, *parts: object, digest: str | None = None
) -> Path | None:
    """``cache/<kind>-<hash>.npy``, the hash naming the network's weights (``digest``, when the
    caller has it already) and ``parts``."""
    if cache is None:
        return None
    key = json.dumps([digest or _network_digest(G), *parts])
    return Path(cache).expanduser() / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npy"


def _write_cache(path: Path | None, array: np.ndarray) -> None:
    """Write a cache file atomically (a crash leaves no half file to be read later)."""
    if path is not None:

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:  # a file object: np.save would add .npy to a name
                np.save(f, array)

        write_atomically(path, write, array.nbytes + 1024, overwrite=True)


def cached_stylespace_stats(
    G: nn.Module,
    cache: str | Path | None = None,
    num_samples: int = 100_000,
    progress: bool = True,
    digest: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~stylegan.tools.directions.stylespace_stats`, kept in ``cache`` (a folder)."""
    G, _ = prepare_generator(G)
    cache_file = _cache_file(cache, "style-stats", G, num_samples, digest=digest)
    if cache_file is not None and cache_file.is_file():
        mean, std = np.load(cache_file, allow_pickle=False)
        return mean, std
    mean, std = stylespace_stats(G, num_samples, progress=progress)
    _write_cache(cache_file, np.stack([mean, std]))
    return mean, std


def _moved_embeddings(G, clip, ws, styles, chosen, mean, std, batch_size) -> np.ndarray:
    """The unit mean direction ``[len(chosen), D]`` of each chosen channel (see
    :func:`channel_relevance`)."""
    n = len(ws)
    offsets, rows = [], []
    for c in chosen:
        for sign in (-1.0, 1.0):
            offset = torch.zeros_like(styles)
            offset[:, c] = float(mean[c] + sign * RELEVANCE_SIGMAS * std[c]) - styles[:, c]
            offsets.append(offset)
            rows.append(ws)
    offsets_all, ws_all = torch.cat(offsets), torch.cat(rows)
    device = ws.device
    embeddings = []
    for i in range(0, len(ws_all), batch_size):
        with style_offsets(G, offsets_all[i : i + batch_size].to(device)):
            images = G.synthesis(ws_all[i : i + batch_size], noise_mode="const")
        embeddings.append(clip.encode_image(images).float().cpu())
    emb = torch.cat(embeddings).reshape(len(chosen), 2, n, -1)
    diff = emb[:, 1] - emb[:, 0]
    diff = diff / diff.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    mean_dir = diff.mean(dim=1)
    return (mean_dir / mean_dir.norm(dim=-1, keepdim=True).clamp_min(1e-12)).numpy()


def text_direction(
    clip: TextImageModel,
    target: str,
    neutral: str,
    templates: Sequence[str] | None = None,
) -> np.ndarray:
    """StyleCLIP's ``Δt``: the unit difference of the target and neutral prompts' embeddings."""
    both = text_features(clip, [target, neutral], templates)
    delta = both[0] - both[1]
    if float(delta.norm()) < 1e-6:
        raise StyleGANError(
            f"the target {target!r} and neutral {neutral!r} prompts embed alike: give a neutral "
            "prompt that differs from the target only in what should change"
        )
    return (delta / delta.norm()).cpu().numpy()


def global_direction(
    G: nn.Module,
    relevance: np.ndarray,
    std: np.ndarray,
    delta_t: np.ndarray,
    *,
    alpha: float = GLOBAL_ALPHA,
    beta: float = GLOBAL_BETA,
    name: str = "text",
    info: dict | None = None,
) -> DirectionSet:
    """The s-space direction of a text edit: ``r = fs3 . Δt``, zero where ``|r| < beta``,
    divided by ``max |r|``, times each channel's ``sigma``; ``unit`` is ``alpha``."""
    total = sum(layer.channels for layer in style_layers(G))
    if relevance.shape[0] != total or std.shape != (total,):
        raise StyleGANError(
            f"channel relevance for {relevance.shape[0]} channels does not fit this network's "
            f"{total}: recompute it for this network"
        )
    if relevance.shape[1] != delta_t.shape[-1]:
        raise StyleGANError(
            f"channel relevance of dimension {relevance.shape[1]} comes from another CLIP than "
            f"the text direction ({delta_t.shape[-1]}): use the same model for both"
        )
    r = relevance.astype(np.float64) @ delta_t.astype(np.float64)
    top = float(np.abs(r).max(initial=0.0))
    kept = np.abs(r) >= beta
    if not kept.any():
        raise StyleGANError(
            f"no style channel is relevant at beta {beta:g} (the largest |relevance| is "
            f"{top:.3f}): lower --beta"
        )
    vector = np.where(kept, r / top, 0.0) * std
    details = {"alpha": alpha, "beta": beta, "channels": int(kept.sum()), "max_relevance": top}
    return DirectionSet(
        vector[None].astype(np.float32),
        method="styleclip-global",
        space="s",
        names=[name],
        unit=np.asarray([alpha], np.float32),
        num_ws=int(G.num_ws),
        info={**details, **(info or {})},
    )


def text_global_direction(
    G: nn.Module,
    clip: TextImageModel,
    target: str,
    neutral: str,
    *,
    alpha: float = GLOBAL_ALPHA,
    beta: float = GLOBAL_BETA,
    num_images: int = RELEVANCE_IMAGES,
    cache: str | Path | None = None,
    clip_name: str = "",
    templates: Sequence[str] | None = None,
    progress: bool = True,
) -> DirectionSet:
    """StyleCLIP's global direction for ``target`` against ``neutral`` in one call: style
    statistics and channel relevance come from ``cache`` after the first call for a network and
    CLIP (then a text edit costs two text encodings and a dot product)."""
    delta_t = text_direction(clip, target, neutral, templates)  # bad prompts fail first
    G, _ = prepare_generator(G)
    digest = None if cache is None else _network_digest(G)  # hashed once for both lookups
    stats = cached_stylespace_stats(G, cache, progress=progress, digest=digest)
    relevance = channel_relevance(
        G, clip, num_images=num_images, stats=stats, cache=cache, clip_name=clip_name,
        progress=progress, digest=digest,
    )  # fmt: skip
    info = {"prompt": target, "neutral": neutral, "clip": clip_name or getattr(clip, "name", "")}
    return global_direction(
        G, relevance, stats[1], delta_t, alpha=alpha, beta=beta, name=target, info=info
    )


# ---- edit grids -----------------------------------------------------------------------------


def edited_images(
    G: nn.Module,
    ws_source: torch.Tensor,
    edit: Callable[[torch.Tensor, float], torch.Tensor],
    strengths: Sequence[float],
    *,
    noise_mode: str = "const",
    batch_size: int = 8,
) -> np.ndarray:
    """uint8 ``[rows, strengths, H, W, C]`` of ``edit(ws_source, strength)`` (a ws edit such as
    a mapper's or :func:`blend` with optimised ws), columns rendered alike."""
    G, device = prepare_generator(G)
    check_ws(G, ws_source)
    source = ws_source.to(device)
    columns = []
    with torch.no_grad():
        for strength in strengths:
            columns.append(synthesize(G, edit(source, float(strength)), noise_mode, batch_size))
    return np.stack(columns, axis=1)


def edited_frames(
    G: nn.Module,
    ws_source: torch.Tensor,
    edit: Callable[[torch.Tensor, float], torch.Tensor],
    strengths: Sequence[float],
    frames: int = 60,
    **render: object,
) -> Iterator[np.ndarray]:
    """Frames of a strength sweep (:func:`~stylegan.tools.editing.sweep_strengths`, as the other
    edits' videos): every row's image side by side."""
    cols = math.ceil(math.sqrt(int(ws_source.shape[0])))
    for strength in sweep_strengths(strengths, frames):
        yield make_grid(edited_images(G, ws_source, edit, [strength], **render)[:, 0], cols=cols)
