"""Finding latent directions: SeFa, GANSpace, InterFaceGAN and StyleSpace channels.

Each method returns a :class:`~stylegan.tools.direction_set.DirectionSet` (the one file format)
and works for StyleGAN 1, 2 and 3 generators:

- :func:`sefa`: closed form, from the style-affine weights alone (Shen & Zhou 2021);
- :func:`ganspace`: PCA of w over sampled latents (Härkönen et al. 2020), streamed so 100k samples
  never sit in memory at once (:func:`pca_components` is the core, over any batches);
- InterFaceGAN (its own module, :mod:`stylegan.tools.interfacegan`): a linear classifier's
  normal between high and low scorers (Shen et al. 2020);
- :func:`stylespace_channels`: the style channels that set positives apart (Wu et al. 2021).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from stylegan.errors import StyleGANError
from stylegan.networks.stylegan2 import ToRGBLayer
from stylegan.tools.direction_set import DirectionSet, layer_presets, parse_layers
from stylegan.tools.generate import check_batch_size, latents_to_ws, prepare_generator
from stylegan.tools.styles import StyleLayer, channel_name, compute_styles, style_layers

# ---- shared: layers, sampling -------------------------------------------------------------------


def resolve_layers(G: nn.Module, layers: str | Sequence[int] | None) -> tuple[int, ...]:
    """``"all"``, ``coarse``/``middle``/``fine`` (:func:`layer_presets`), ``"2-5"`` or indices."""
    num_ws = int(G.num_ws)
    if layers is None or isinstance(layers, str):
        return parse_layers(layers, num_ws, layer_presets(num_ws))
    chosen = tuple(sorted({int(i) for i in layers}))
    if not chosen or any(not 0 <= i < num_ws for i in chosen):
        raise StyleGANError(f"layers {list(layers)} must lie in 0-{num_ws - 1} (this network's ws)")
    return chosen


def sample_ws(
    G: nn.Module,
    num_samples: int,
    *,
    seed: int = 0,
    batch_size: int = 256,
    progress: bool = False,
    desc: str = "sampling",
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(z, ws)`` batches of untruncated samples, classes drawn uniformly for conditional nets.

    z comes from one seeded CPU generator, so a seed gives the same samples on every device.
    """
    if num_samples < 1:
        raise StyleGANError(f"number of samples must be at least 1, got {num_samples}")
    batch_size = check_batch_size(batch_size)
    device = next(iter(G.parameters()), torch.empty(0)).device
    generator = torch.Generator().manual_seed(int(seed))
    with tqdm(total=num_samples, desc=desc, unit="sample", disable=not progress) as bar:
        for start in range(0, num_samples, batch_size):
            n = min(batch_size, num_samples - start)
            z = torch.randn([n, G.z_dim], generator=generator)
            c = torch.zeros([n, G.c_dim])
            if G.c_dim:
                c[torch.arange(n), torch.randint(G.c_dim, [n], generator=generator)] = 1
            yield z.to(device), latents_to_ws(G, z.to(device), c.to(device))
            bar.update(n)


# ---- SeFa ---------------------------------------------------------------------------------------


def sefa_layers(G: nn.Module, layers: Sequence[int]) -> list[StyleLayer]:
    """The style layers SeFa factorises among those reading ws ``layers``: every affine but the
    ToRGBs before the last (as SeFa's ``factorize_weight``: all convs plus the last ToRGB).

    StyleGAN3's input affine (w -> rotation and translation of the input) counts: it is how w
    moves the image there; a fresh network's is all zeros and drops out in :func:`sefa_matrix`.
    """
    every = style_layers(G)
    chosen = []
    for layer in every:
        owner = G.get_submodule(layer.name.rsplit(".", 1)[0])
        if isinstance(owner, ToRGBLayer) and layer is not every[-1]:
            continue
        if layer.w_index in layers:
            chosen.append(layer)
    if not chosen:
        raise StyleGANError(
            f"ws {list(layers)} feed no style layer SeFa uses: choose other --layers"
        )
    return chosen


def sefa_matrix(G: nn.Module, layers: Sequence[int]) -> np.ndarray:
    """SeFa's ``A``: the chosen affines' weights ``[sum of channels, w_dim]`` (as they act, weight
    gain included), each row (one style channel) scaled to unit norm; all-zero rows dropped."""
    rows = []
    for layer in sefa_layers(G, layers):
        module = layer.module
        weight = module.weight.detach().double().cpu() * float(getattr(module, "weight_gain", 1))
        rows.append(weight.numpy())
    A = np.concatenate(rows)
    norms = np.linalg.norm(A, axis=1, keepdims=True)
    keep = norms[:, 0] > 1e-12 * max(norms.max(), 1e-300)
    if not keep.any():
        raise StyleGANError(
            "the style layers of these ws have all-zero weights (an untrained network?): "
            "nothing to factorise; choose other --layers"
        )
    return A[keep] / norms[keep]


def sefa(G: nn.Module, layers: str | Sequence[int] | None = "all", num: int | None = None):
    """SeFa: the eigenvectors of ``AᵀA`` by descending eigenvalue (``A``: :func:`sefa_matrix`).

    Edits move the ws of ``layers`` by a distance (unit 1); SeFa's own use ±3 at psi 0.7.
    """
    chosen = resolve_layers(G, layers)
    A = sefa_matrix(G, chosen)
    eigenvalues, vectors = np.linalg.eigh(A.T @ A)  # ascending
    order = np.argsort(eigenvalues)[::-1][: _count(num, len(eigenvalues), "--num")]
    vectors = _fix_signs(vectors[:, order].T)
    return DirectionSet(
        vectors,
        method="sefa",
        layers=chosen,
        num_ws=int(G.num_ws),
        eigenvalues=eigenvalues[order],
        names=[f"sefa{i}" for i in range(len(order))],
        info={"style_channels": int(A.shape[0])},
    )


# ---- GANSpace -----------------------------------------------------------------------------------


@dataclass
class PCA:
    """Principal components of streamed samples."""

    components: np.ndarray  # [K, D], unit norm, by descending variance
    variances: np.ndarray  # [K], of the samples projected on each component
    mean: np.ndarray  # [D]
    total_variance: float  # trace of the covariance (for explained-variance fractions)
    count: int

    @property
    def explained(self) -> np.ndarray:
        """The fraction of the total variance each component holds."""
        return self.variances / max(self.total_variance, 1e-300)


def pca_components(
    sample_batches: Iterable[torch.Tensor | np.ndarray], num_components: int | None = None
) -> PCA:
    """Exact PCA of samples given in batches ``[n, D]``: the covariance is accumulated in float64
    (about the first batch's mean, which keeps the sums well conditioned), then ``eigh``."""
    count, shift, total, outer = 0, None, None, None
    for batch in sample_batches:
        x = torch.as_tensor(batch).detach().reshape(len(batch), -1).to("cpu", torch.float64)
        if shift is None:
            shift = x.mean(dim=0)
            total, outer = torch.zeros_like(shift), torch.zeros(len(shift), len(shift)).double()
        x = x - shift
        count += len(x)
        total += x.sum(dim=0)
        outer += x.T @ x
    if count < 2:
        raise StyleGANError(f"PCA needs at least 2 samples, got {count}")
    offset = total / count
    covariance = (outer - count * torch.outer(offset, offset)) / (count - 1)
    variances, vectors = np.linalg.eigh(covariance.numpy())
    order = np.argsort(variances)[::-1][: _count(num_components, len(variances), "components")]
    return PCA(
        components=_fix_signs(vectors[:, order].T),
        variances=np.clip(variances[order], 0, None),
        mean=(shift + offset).numpy(),
        total_variance=float(np.trace(covariance.numpy())),
        count=count,
    )


def ganspace(
    G: nn.Module,
    num_samples: int = 100_000,
    num_components: int | None = 80,
    *,
    seed: int = 0,
    batch_size: int = 1000,
    layers: str | Sequence[int] | None = "all",
    progress: bool = True,
) -> DirectionSet:
    """GANSpace: PCA of w (the mapping's output, untruncated) over ``num_samples`` latents.

    Components are unit vectors; ``unit`` is the std of w along each (GANSpace's σ_k), so
    strength δ moves ``w_l += δ·σ_k·v_k`` for the ``layers`` (GANSpace's [start, end) range).
    """
    chosen = resolve_layers(G, layers)
    G, _ = prepare_generator(G)
    batches = (ws[:, 0] for _, ws in sample_ws(
        G, num_samples, seed=seed, batch_size=batch_size, progress=progress, desc="ganspace"
    ))  # fmt: skip
    pca = pca_components(batches, min(num_components or G.w_dim, G.w_dim))
    return DirectionSet(
        pca.components,
        method="ganspace",
        layers=chosen,
        num_ws=int(G.num_ws),
        unit=np.sqrt(pca.variances),
        mean=pca.mean,
        eigenvalues=pca.variances,
        names=[f"pc{i}" for i in range(len(pca.components))],
        info={"samples": pca.count, "seed": int(seed), "explained": pca.explained.tolist()},
    )


# ---- InterFaceGAN -------------------------------------------------------------------------------


def stylespace_stats(
    G: nn.Module,
    num_samples: int = 100_000,
    *,
    seed: int = 0,
    batch_size: int = 1000,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of every style channel over ``num_samples`` untruncated samples (float64,
    accumulated per batch about the first batch's mean)."""
    G, _ = prepare_generator(G)
    count, shift, total, squares = 0, None, 0.0, 0.0
    for _, ws in sample_ws(
        G, num_samples, seed=seed, batch_size=batch_size, progress=progress, desc="style stats"
    ):
        s = compute_styles(G, ws).double().cpu()
        if shift is None:
            shift = s.mean(dim=0)
        s = s - shift
        count += len(s)
        total = total + s.sum(dim=0)
        squares = squares + s.square().sum(dim=0)
    if count < 2:
        raise StyleGANError(f"style statistics need at least 2 samples, got {count}")
    offset = total / count
    variance = ((squares - count * offset.square()) / (count - 1)).clamp(min=0)
    return (shift + offset).numpy(), variance.sqrt().numpy()


def stylespace_channels(
    G: nn.Module,
    positives_ws: torch.Tensor,
    *,
    num_samples_for_stats: int = 100_000,
    top: int = 10,
    stats: tuple[np.ndarray, np.ndarray] | None = None,
    seed: int = 0,
    batch_size: int = 1000,
    progress: bool = True,
) -> DirectionSet:
    """The ``top`` style channels that set ``positives_ws`` (``[P, num_ws, w_dim]`` or
    ``[P, w_dim]``; StyleSpace uses 10) apart, as StyleSpace's ``MAdvance`` S2N ranks them.

    Each positive's styles are normalised by the population (``stats`` or
    :func:`stylespace_stats` of ``num_samples_for_stats``): ``z = (s - mean) / std``; a channel
    scores ``|mean(z)| / std(z)`` over the positives. Directions are one-hot over all channels,
    signed toward the positives, with ``unit`` the channel's population std (``s_c += α·σ_c``).
    """
    G, device = prepare_generator(G)
    ws = torch.as_tensor(positives_ws, dtype=torch.float32).to(device)
    if ws.ndim == 2:
        ws = ws[:, None].repeat(1, G.num_ws, 1)
    if ws.ndim != 3 or ws.shape[1:] != (G.num_ws, G.w_dim) or len(ws) < 2:
        raise StyleGANError(
            f"positives must be at least 2 ws of shape [num_ws={G.num_ws}, w_dim={G.w_dim}], "
            f"got {list(ws.shape)}"
        )
    mean, std = stats if stats is not None else stylespace_stats(
        G, num_samples_for_stats, seed=seed, batch_size=batch_size, progress=progress
    )  # fmt: skip
    live = std > 1e-8  # a channel that never varies (e.g. zero weights) cannot be told apart
    z = (compute_styles(G, ws).double().cpu().numpy() - mean) / np.where(live, std, 1)
    centre, spread = z.mean(axis=0), z.std(axis=0, ddof=1)
    s2n = np.where(live, np.abs(centre) / np.maximum(spread, 1e-8), 0)
    count = _count(top, len(s2n), "--num")
    order = np.argsort(-s2n, kind="stable")[:count]
    vectors = np.zeros((count, len(s2n)), np.float32)
    vectors[np.arange(count), order] = np.sign(centre[order]) + (centre[order] == 0)
    return DirectionSet(
        vectors,
        method="stylespace",
        space="s",
        num_ws=int(G.num_ws),
        unit=std[order],
        names=[channel_name(G, int(i)) for i in order],
        info={
            "positives": len(ws),
            "channels": [int(i) for i in order],
            "s2n": s2n[order].tolist(),
            "stats_samples": None if stats is not None else int(num_samples_for_stats),
        },
    )


# ---- helpers ------------------------------------------------------------------------------------


def _count(num: int | None, available: int, what: str) -> int:
    if num is None:
        return available
    if int(num) < 1:
        raise StyleGANError(f"{what} must be at least 1, got {num}")
    return min(int(num), available)


def _fix_signs(vectors: np.ndarray) -> np.ndarray:
    """Eigenvectors have no sign of their own: make each one's largest entry positive, so the
    same network always gives the same file."""
    largest = vectors[np.arange(len(vectors)), np.abs(vectors).argmax(axis=1)]
    return vectors * np.where(largest < 0, -1, 1)[:, None]
