"""InterFaceGAN (Shen et al. 2020): a linear boundary in Z or W between high and low scorers.

:func:`interfacegan` fits it to latents and scores (the top and bottom ``confident_fraction``,
a 70/30 split, a linear SVM or logistic regression of our own: no scikit-learn), optionally
orthogonal to other boundaries (conditional edits); :func:`interfacegan_boundary` gets the scores
from a CSV of per-seed scores, a conditional network's class or any ``score(images)`` callable.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from stylegan.errors import StyleGANError
from stylegan.latents import class_labels, z_from_seeds
from stylegan.tools.direction_set import DirectionSet
from stylegan.tools.directions import resolve_layers
from stylegan.tools.generate import check_batch_size, latents_to_ws, prepare_generator

CLASSIFIERS = ("svm", "logistic")


def fit_linear_classifier(
    x: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    classifier: str = "svm",
    C: float = 1.0,
    max_iter: int = 100,
) -> tuple[np.ndarray, float]:
    """``(weight [D], bias)`` of a linear classifier of ``labels`` (True/False) on ``x [N, D]``.

    ``svm``: the squared-hinge linear SVM (liblinear's default), ``logistic``: L2 logistic
    regression; both minimise ``½‖w‖² + C·Σ loss`` (bias unregularised) by Newton's method with
    a backtracking line search in float64: exact on these convex losses, in a few dozen steps,
    and no scikit-learn needed.
    """
    if classifier not in CLASSIFIERS:
        raise StyleGANError(f"unknown classifier {classifier!r}: use {' or '.join(CLASSIFIERS)}")
    x = np.asarray(x, dtype=np.float64)
    y = np.where(np.asarray(labels, dtype=bool), 1.0, -1.0)
    center = x.mean(axis=0)  # the normal does not depend on it; Newton's steps are better scaled
    X = np.concatenate([x - center, np.ones((len(x), 1))], axis=1)
    regularised = np.r_[np.ones(x.shape[1]), 0.0]

    def loss(theta: np.ndarray) -> float:
        margin = y * (X @ theta)
        if classifier == "svm":
            total = np.square(np.clip(1 - margin, 0, None)).sum()
        else:
            total = np.logaddexp(0, -margin).sum()
        return 0.5 * float(theta @ (regularised * theta)) + C * float(total)

    theta = np.zeros(X.shape[1])
    for _ in range(max_iter):
        margin = y * (X @ theta)
        if classifier == "svm":  # generalised Hessian: the samples inside the margin
            slack = np.clip(1 - margin, 0, None)
            gradient = regularised * theta - 2 * C * X.T @ (y * slack)
            curvature = 2 * C * (slack > 0)
        else:
            p = 0.5 * (1 + np.tanh(0.5 * margin))  # sigmoid(margin), without overflow
            gradient = regularised * theta - C * X.T @ (y * (1 - p))
            curvature = C * p * (1 - p)
        if np.linalg.norm(gradient) < 1e-9 * max(1.0, C * len(x)):
            break
        hessian = (X.T * curvature) @ X + np.diag(regularised + 1e-10)
        step = np.linalg.solve(hessian, -gradient)
        t, current = 1.0, loss(theta)
        while loss(theta + t * step) > current + 1e-4 * t * float(gradient @ step) and t > 1e-8:
            t *= 0.5
        theta = theta + t * step
    weight = theta[:-1]
    return weight, float(theta[-1] - center @ weight)


def orthogonalize(normal: np.ndarray, conditions: Sequence[np.ndarray]) -> np.ndarray:
    """``normal`` with the span of ``conditions`` projected out, renormalised (InterFaceGAN's
    conditional boundary: one condition gives ``n₁ − (n₁·n₂)n₂``)."""
    if not len(conditions):
        return normal
    basis, _ = np.linalg.qr(np.stack(conditions, axis=1).astype(np.float64))
    moved = normal - basis @ (basis.T @ normal)
    norm = np.linalg.norm(moved)
    if norm < 1e-6:
        raise StyleGANError("the boundary lies in the span of the conditions: nothing is left")
    return moved / norm


def _condition_vectors(conditions, dim: int) -> list[np.ndarray]:
    vectors = []
    for condition in conditions or []:
        array = condition.vectors if isinstance(condition, DirectionSet) else condition
        array = np.asarray(array, dtype=np.float64).reshape(-1, np.shape(array)[-1])
        if array.shape[1] != dim:
            raise StyleGANError(
                f"a condition direction has {array.shape[1]} dimensions, the latents {dim}: "
                f"give conditions of the same space and network"
            )
        vectors.extend(array)
    return vectors


def interfacegan(
    latents: np.ndarray | torch.Tensor,
    scores: np.ndarray | torch.Tensor,
    *,
    confident_fraction: float = 0.02,
    split: float = 0.7,
    classifier: str = "svm",
    conditions: Sequence[DirectionSet | np.ndarray] | None = None,
    seed: int = 0,
    space: str = "w",
    layers: Sequence[int] | None = None,
    num_ws: int | None = None,
    name: str = "boundary",
) -> DirectionSet:
    """InterFaceGAN's boundary: the top and bottom ``confident_fraction`` of ``latents [N, D]``
    by score, split ``split``/rest into train/validation per side, a linear classifier's normal
    (unit, intercept dropped), orthogonalised to ``conditions``. ``info`` holds the accuracy."""
    x = np.asarray(latents, dtype=np.float64).reshape(len(latents), -1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(x):
        raise StyleGANError(f"{len(x)} latents but {len(scores)} scores: give one score each")
    if not np.isfinite(scores).all():
        raise StyleGANError("the scores hold NaN or infinite values")
    if not 0 < confident_fraction <= 0.5 or not 0 < split < 1:
        raise StyleGANError("need 0 < confident fraction <= 0.5 and 0 < split < 1")
    side = int(len(x) * confident_fraction)
    train_side = int(side * split)
    if train_side < 1 or side - train_side < 1:
        raise StyleGANError(
            f"{len(x)} samples keep only {side} per side at fraction {confident_fraction}: "
            f"give more samples (at least {math.ceil(2 / confident_fraction / (1 - split))})"
        )
    order = np.argsort(-scores, kind="stable")
    rng = np.random.default_rng(seed)
    positives, negatives = rng.permutation(order[:side]), rng.permutation(order[-side:])
    train = np.concatenate([positives[:train_side], negatives[:train_side]])
    val = np.concatenate([positives[train_side:], negatives[train_side:]])
    labels = np.zeros(len(x), bool)
    labels[positives] = True
    weight, bias = fit_linear_classifier(x[train], labels[train], classifier)
    accuracy = float(((x[val] @ weight + bias > 0) == labels[val]).mean())
    norm = np.linalg.norm(weight)
    if not norm > 0:
        raise StyleGANError("the classifier found no direction: are the scores all equal?")
    normal = orthogonalize(weight / norm, _condition_vectors(conditions, x.shape[1]))
    return DirectionSet(
        normal[None],
        method="interfacegan",
        space=space,
        layers=None if layers is None else tuple(layers),
        num_ws=num_ws,
        names=[name],
        info={
            "validation_accuracy": accuracy,
            "classifier": classifier,
            "samples": len(x),
            "train_per_side": train_side,
            "validation_per_side": side - train_side,
            "conditions": len(conditions or []),
        },
    )


def read_seed_scores(path: str | Path) -> tuple[list[int], np.ndarray]:
    """Seeds and scores from a CSV with a header naming ``seed`` and ``score`` columns (others
    are ignored): one row per generated image, ``z = RandomState(seed).randn(z_dim)``."""
    path = Path(path)
    try:
        with path.open(newline="") as file:
            rows = list(csv.DictReader(file))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise StyleGANError(
            f"cannot read scores CSV {path} ({type(error).__name__}): give a CSV with columns "
            f"seed,score"
        ) from None
    columns = {name.strip().lower(): name for name in (rows[0].keys() if rows else []) if name}
    if not rows or not {"seed", "score"} <= set(columns):
        raise StyleGANError(
            f"scores CSV {path} needs a header with columns seed and score and at least one row "
            f"(found: {', '.join(columns) or 'nothing'})"
        )
    seeds, scores = [], []
    for number, row in enumerate(rows, start=2):
        try:
            seed, score = int(row[columns["seed"]]), float(row[columns["score"]])
        except (TypeError, ValueError):
            raise StyleGANError(
                f"scores CSV {path} line {number}: seed must be a whole number and score a number"
            ) from None
        if not 0 <= seed < 2**32 or not math.isfinite(score):
            raise StyleGANError(
                f"scores CSV {path} line {number}: seed outside 0 .. 2**32-1 or score not finite"
            )
        seeds.append(seed)
        scores.append(score)
    return seeds, np.asarray(scores)


def seeds_latents(
    G: nn.Module, seeds: Sequence[int], space: str = "w", class_idx: int | None = None
) -> np.ndarray:
    """The z or (untruncated) w of each seed, ``[N, dim]``, by the official seed protocol."""
    device = next(iter(G.parameters()), torch.empty(0)).device
    z = z_from_seeds(seeds, G.z_dim, device=device)
    if space == "z":
        return z.cpu().numpy()
    c = class_labels(class_idx, G.c_dim, len(seeds), device=device)
    return latents_to_ws(G, z, c)[:, 0].cpu().numpy()


def _check_space(space: str) -> None:
    if space not in ("w", "z"):
        raise StyleGANError(f"InterFaceGAN boundaries live in w or z, not {space!r}")


def check_class(G: nn.Module, class_idx: int) -> None:
    """A class index must name one of a conditional network's classes."""
    if not G.c_dim:
        raise StyleGANError("this network is unconditional: --class needs a conditional network")
    if not 0 <= int(class_idx) < G.c_dim:
        raise StyleGANError(f"--class {class_idx} is out of range: use 0 .. {G.c_dim - 1}")


def class_samples(
    G: nn.Module, class_idx: int, num_samples: int, *, seed: int = 0, others: bool = False
) -> torch.Tensor:
    """Untruncated w ``[N, w_dim]`` of class ``class_idx`` (``others``: of the other classes,
    drawn uniformly), for a conditional network."""
    check_class(G, class_idx)
    device = next(iter(G.parameters()), torch.empty(0)).device
    generator = torch.Generator().manual_seed(int(seed))
    z = torch.randn([num_samples, G.z_dim], generator=generator)
    classes = torch.full([num_samples], int(class_idx))
    if others:
        if G.c_dim < 2:
            raise StyleGANError("a class boundary needs a network with at least two classes")
        shift = torch.randint(1, G.c_dim, [num_samples], generator=generator)
        classes = (classes + shift) % G.c_dim
    c = nn.functional.one_hot(classes, G.c_dim).float()
    return latents_to_ws(G, z.to(device), c.to(device))[:, 0]


def interfacegan_boundary(
    G: nn.Module,
    scores_source: str | Path | int | Callable[[torch.Tensor], torch.Tensor | np.ndarray],
    num_samples: int | None = None,
    space: str = "w",
    *,
    class_idx: int | None = None,
    layers: str | Sequence[int] | None = "all",
    confident_fraction: float | None = None,
    seed: int = 0,
    batch_size: int = 32,
    progress: bool = True,
    **fit: object,
) -> DirectionSet:
    """An InterFaceGAN boundary of ``G`` with scores from one of three sources:

    - a CSV path (:func:`read_seed_scores`): each seed's latent regenerated (``class_idx`` for a
      conditional network); ``num_samples`` is ignored, every row is used;
    - an ``int`` k: a conditional network's class; half the samples (default 10,000) are class k
      (positives), half the other classes, all of them used (confident fraction 0.5); w only;
    - a callable ``score(images) -> [n]`` on float images ``[n, C, H, W]`` in [-1, 1], rendered
      from seeds ``seed, seed + 1, ...`` (default 10,000) with constant noise.

    A w boundary moves the ws of ``layers`` (InterFaceGAN: all). ``fit`` goes to
    :func:`interfacegan` (``split``, ``classifier``, ``conditions``).
    """
    _check_space(space)
    G, _ = prepare_generator(G)
    chosen = None if space == "z" else resolve_layers(G, layers)
    if (
        isinstance(scores_source, bool)
        or not isinstance(scores_source, (str, Path, int))
        and (not callable(scores_source))
    ):
        raise StyleGANError("scores must come from a CSV path, a class index or a callable")
    if isinstance(scores_source, (str, Path)):
        seeds, scores = read_seed_scores(scores_source)
        latents = seeds_latents(G, seeds, space, class_idx)
        default_fraction, name = 0.02, Path(scores_source).stem
    elif isinstance(scores_source, int):
        if space != "w":
            raise StyleGANError("a class boundary lives in w: z does not carry the class label")
        num = num_samples or 10_000
        positives = class_samples(G, scores_source, num // 2, seed=seed)
        negatives = class_samples(G, scores_source, num - num // 2, seed=seed + 1, others=True)
        latents = torch.cat([positives, negatives]).cpu().numpy()
        scores = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
        default_fraction, name = 0.5, f"class{scores_source}"
    else:
        latents, scores = _score_images(
            G, scores_source, num_samples or 10_000, space, class_idx, seed, batch_size, progress
        )
        default_fraction, name = 0.02, getattr(scores_source, "__name__", "score")
    return interfacegan(
        latents,
        scores,
        confident_fraction=confident_fraction or default_fraction,
        seed=seed,
        space=space,
        layers=chosen,
        num_ws=None if space == "z" else int(G.num_ws),
        name=str(name),
        **fit,
    )


@torch.no_grad()
def _score_images(G, score, num_samples, space, class_idx, seed, batch_size, progress):
    batch_size = check_batch_size(batch_size)
    latents, scores = [], []
    seeds = list(range(seed, seed + num_samples))
    bar = tqdm(total=num_samples, desc="scoring", unit="img", disable=not progress)
    device = next(iter(G.parameters()), torch.empty(0)).device
    for start in range(0, num_samples, batch_size):
        chunk = seeds[start : start + batch_size]
        z = z_from_seeds(chunk, G.z_dim, device=device)
        ws = latents_to_ws(G, z, class_labels(class_idx, G.c_dim, len(chunk), device=device))
        values = np.asarray(torch.as_tensor(score(G.synthesis(ws, noise_mode="const"))).cpu())
        if values.reshape(-1).shape != (len(chunk),):
            raise StyleGANError(
                f"the score function returned shape {list(values.shape)} for {len(chunk)} "
                f"images: it must return one number per image"
            )
        latents.append((z if space == "z" else ws[:, 0]).cpu().numpy())
        scores.append(values.reshape(-1).astype(np.float64))
        bar.update(len(chunk))
    bar.close()
    return np.concatenate(latents), np.concatenate(scores)


# ---- StyleSpace ---------------------------------------------------------------------------------
