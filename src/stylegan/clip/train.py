"""Training a domain CLIP on a captioned dataset: InfoNCE with a learned temperature.

The backbone is frozen, so its features are computed once per image and view (the image plus
``views - 1`` jittered copies: small shifts, scalings and rotations on white, blur, noise; no
flips, as "left" and "right" are in the captions) and cached in ``OUTDIR/features.safetensors``;
each step then only runs the heads. A fixed share of the images (``holdout``, chosen by
``seed``) is never trained on: the vocabulary is built without its captions too, so its
retrieval figures are those of unseen emoji.

Each step draws ``batch_size`` training images, one random view and one random text of each
(:func:`stylegan.clip.captions.caption_texts`), and applies CLIP's symmetric cross-entropy over
the batch's cosine similarities times the learned scale. Texts shared by several images
("symbols", "red") make several pairs in a batch right: every text that belongs to an image
counts as a positive for it (the loss is ``-log`` of the softmax mass on the positives). AdamW,
a linear warm-up over the first 5 % of the steps, then cosine decay to zero.

``OUTDIR/clip/`` is the resumable checkpoint (rewritten every ``snapshot_every`` steps, at the
end, and on Ctrl-C / SIGTERM); :func:`stylegan.clip.domain.save_domain_clip` with ``half=True``
makes a shippable file of it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from stylegan.clip.captions import caption_texts, colour_words, match_captions, read_captions
from stylegan.clip.domain import (
    DEFAULT_TAPS,
    DomainCLIP,
    image_feature_dim,
    load_domain_clip,
    pooled_features,
    save_domain_clip,
)
from stylegan.clip.evaluate import Retrieval, encode_texts, retrieval
from stylegan.clip.tokenizer import WordTokenizer
from stylegan.data.dataset import ImageDataset
from stylegan.errors import StyleGANError, ToolTrainingInterrupted
from stylegan.io.atomic import write_atomically
from stylegan.io.checkpoint import check_checkpoint_destination
from stylegan.metrics.features import load_feature_network
from stylegan.networks.clip import PAD_ID, CLIPHeads, CLIPHeadsConfig
from stylegan.runtime import stop_signals

CHECKPOINT_NAME = "clip"
FEATURES_FILE = "features.safetensors"


@dataclasses.dataclass(frozen=True)
class CLIPTrainingConfig:
    """Settings of :func:`train_clip` (the heads' sizes are ``heads``, a dict of
    :class:`~stylegan.networks.clip.CLIPHeadsConfig` fields)."""

    steps: int = 2000
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 0.05
    views: int = 4
    holdout: float = 0.12
    seed: int = 0
    image_size: int = 128
    taps: tuple[int, ...] = DEFAULT_TAPS
    colour_captions: bool = True
    word_dropout: float = 0.1
    heads: dict = dataclasses.field(default_factory=dict)
    snapshot_every: int = 500

    def __post_init__(self):
        for name in ("steps", "batch_size", "views", "image_size", "snapshot_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise StyleGANError(
                    f"{name} must be a whole number >= 1, got {getattr(self, name)}"
                )
        if self.batch_size < 2:
            raise StyleGANError("batch_size must be at least 2 (contrastive pairs need others)")
        if not 0 <= self.word_dropout < 1:
            raise StyleGANError(f"word_dropout must be in [0, 1), got {self.word_dropout}")
        if not 0 <= self.holdout < 1:
            raise StyleGANError(f"holdout must be in [0, 1), got {self.holdout}")
        if not (math.isfinite(self.lr) and self.lr > 0 and self.weight_decay >= 0):
            raise StyleGANError(
                f"need lr > 0 and weight_decay >= 0, got {self.lr}, {self.weight_decay}"
            )
        allowed = {f.name for f in dataclasses.fields(CLIPHeadsConfig)}
        unknown = set(self.heads) - (allowed - {"feature_dim", "vocab_size"})
        if unknown:
            raise StyleGANError(
                f"unknown CLIP head settings {sorted(unknown)}; known: {', '.join(sorted(allowed))}"
            )


@dataclasses.dataclass
class CLIPTraining:
    """What :func:`train_clip` returns."""

    model: DomainCLIP
    checkpoint: Path | None
    step: int
    loss: float
    heldout: Retrieval | None
    train: Retrieval
    seconds: float


class CLIPTrainingInterrupted(ToolTrainingInterrupted):
    """CLIP training stopped by a signal after writing its resumable checkpoint."""

    what = "CLIP training"

    def __init__(self, outdir: Path, snapshot: Path | None, signal_name: str):
        super().__init__(outdir, snapshot, signal_name)
        self.args = (
            f"{self.what} stopped by {signal_name} (exit status {self.exit_code}); checkpoint: "
            f"{snapshot}; continue with the same command and --resume",
        )


# ---- data ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class CaptionedImages:
    """The matched images of a dataset with their texts, split into training and held out."""

    dataset: ImageDataset
    indices: list[int]  # dataset indices of the images that have captions
    texts: list[list[str]]  # every training text of each of those images
    queries: list[str]  # each image's first caption: the retrieval query
    train: list[int]  # positions in ``indices``
    heldout: list[int]


def captioned_images(
    data: str | Path, captions: str | Path, config: CLIPTrainingConfig, progress: bool = True
) -> CaptionedImages:
    """Match the captions to the dataset, build every image's texts, split off the held-out."""
    dataset = ImageDataset(data)
    if dataset.num_channels != 3:
        raise StyleGANError(f"dataset {data} is greyscale; a CLIP is trained on RGB images")
    names = [dataset.image_name(i) for i in range(len(dataset))]
    matched = match_captions(names, read_captions(captions), str(captions))
    indices = sorted(matched)
    texts, queries = [], []
    for i in tqdm(indices, desc="captions", disable=not progress, leave=False):
        colours = colour_words(dataset[i][0]) if config.colour_captions else []
        texts.append(caption_texts(matched[i], colours))
        queries.append(matched[i][0].caption)
    order = torch.randperm(len(indices), generator=torch.Generator().manual_seed(config.seed))
    num_heldout = round(config.holdout * len(indices))
    if len(indices) - num_heldout < 2:
        raise StyleGANError(f"only {len(indices)} captioned images: need at least 2 to train on")
    heldout = sorted(order[:num_heldout].tolist())
    train = sorted(order[num_heldout:].tolist())
    return CaptionedImages(dataset, indices, texts, queries, train, heldout)


def jitter(images01: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A jittered copy of RGB images in [0, 1] on white: shift (up to 1/16 of the size), scale
    0.85-1.1, rotate up to 8 degrees, Gaussian blur (sigma up to 1 px, half the images) and a
    little noise (a third of them); colours and handedness are kept."""
    n = images01.shape[0]

    def u(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=gen)

    angle, scale = u(-8, 8) * math.pi / 180, u(0.85, 1.1)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin, u(-0.125, 0.125)], 1),
            torch.stack([sin, cos, u(-0.125, 0.125)], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(images01.shape), align_corners=False)
    x = 1 - F.grid_sample(1 - images01, grid, mode="bilinear", align_corners=False)  # white fill
    sigma = u(0.3, 1.0)
    blurred = torch.stack([_blur(img, float(s)) for img, s in zip(x, sigma)])
    x = torch.where((torch.rand(n, generator=gen) < 0.5).view(-1, 1, 1, 1), blurred, x)
    noisy = (torch.rand(n, generator=gen) < 0.33).view(-1, 1, 1, 1)
    x = x + noisy * 0.03 * torch.randn(x.shape, generator=gen)
    return x.clamp(0, 1)


def _blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(2 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)
    x = F.pad(image[None], [radius, radius, radius, radius], mode="replicate")
    x = F.conv2d(x, k, groups=3)
    return F.conv2d(x, k.transpose(2, 3), groups=3)[0]


def image_views(
    data: CaptionedImages, config: CLIPTrainingConfig, net, batch: int = 64, progress: bool = True
) -> torch.Tensor:
    """``[views, N, F]`` backbone features of every captioned image: view 0 as it is, the
    others jittered (:func:`jitter`, seeded by ``config.seed``)."""
    gen = torch.Generator().manual_seed(config.seed + 1)
    out = torch.empty(config.views, len(data.indices), image_feature_dim(config.taps))
    bar = tqdm(total=config.views * len(data.indices), desc="features", disable=not progress)
    with torch.no_grad():
        for start in range(0, len(data.indices), batch):
            chunk = data.indices[start : start + batch]
            x = torch.from_numpy(np.stack([data.dataset[i][0] for i in chunk])).float() / 255
            for v in range(config.views):
                xv = x if v == 0 else jitter(x, gen)
                out[v, start : start + len(chunk)] = pooled_features(
                    net, xv.to(net.device), config.image_size, config.taps
                ).cpu()
                bar.update(len(chunk))
    bar.close()
    return out


def _features_key(data: CaptionedImages, config: CLIPTrainingConfig) -> str:
    """What the cached features depend on: the images, the views and the backbone settings."""
    digest = hashlib.sha256()
    for i in data.indices:
        digest.update(data.dataset.image_name(i).encode())
    path = data.dataset.path
    stat = path.stat()
    record = [str(path.resolve()), stat.st_size, int(stat.st_mtime), digest.hexdigest()]
    record += [config.views, config.seed, config.image_size, list(config.taps)]
    return hashlib.sha256(json.dumps(record).encode()).hexdigest()


def cached_views(
    data: CaptionedImages, config: CLIPTrainingConfig, outdir: Path | None, net, progress: bool
) -> torch.Tensor:
    """:func:`image_views`, read from ``outdir/features.safetensors`` when it was made for the
    same images and settings, else computed (and written there)."""
    key = _features_key(data, config)
    file = None if outdir is None else outdir / FEATURES_FILE
    if file is not None and file.is_file():
        try:
            from safetensors import safe_open

            with safe_open(str(file), "pt") as f:
                same = (f.metadata() or {}).get("key") == key
            if same:
                return load_file(str(file))["features"]
        except (SafetensorError, OSError):
            pass  # unreadable: compute again
    features = image_views(data, config, net, progress=progress)
    if file is not None:
        write_atomically(
            file,
            lambda tmp: save_file({"features": features}, str(tmp), metadata={"key": key}),
            features.nbytes,
            overwrite=True,
        )
    return features


# ---- evaluation ---------------------------------------------------------------------------------


def evaluate_retrieval(
    model: DomainCLIP, features: torch.Tensor, queries: Sequence[str]
) -> Retrieval:
    """:func:`retrieval` of ``queries`` among images given by their backbone ``features``."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        images = model.heads.encode_features(features.to(model.device))
        texts = encode_texts(model, queries)
    model.train(was_training)
    return retrieval(images, texts)


# ---- training -----------------------------------------------------------------------------------


def contrastive_loss(
    images: torch.Tensor, texts: torch.Tensor, positives: torch.Tensor, scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric InfoNCE over a batch with several positives per row and column:
    ``-log`` of the softmax mass on ``positives`` ([B, B] bool, diagonal true)."""
    logits = scale * images @ texts.T
    masked = logits.masked_fill(~positives, float("-inf"))
    i2t = torch.logsumexp(logits, 1) - torch.logsumexp(masked, 1)
    t2i = torch.logsumexp(logits, 0) - torch.logsumexp(masked, 0)
    return (i2t.mean() + t2i.mean()) / 2


def drop_words(ids: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """Word ids with each word dropped with probability ``p`` (one word always stays), packed
    to the left and cut to the longest row: texts learn to match on the words they share."""
    keep = ids != PAD_ID
    if p > 0:
        drop = torch.rand(ids.shape, generator=gen) < p
        first = torch.zeros_like(keep)
        first[:, 0] = True  # never drop every word: keep the first if all were drawn
        all_dropped = (keep & ~drop).sum(1, keepdim=True) == 0
        keep = keep & (~drop | (first & all_dropped))
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)
    packed = torch.where(keep, ids, PAD_ID).gather(1, order)
    return packed[:, : max(1, int(keep.sum(1).max()))]


def _lr_at(step: int, config: CLIPTrainingConfig) -> float:
    warmup = max(1, config.steps // 20)
    if step < warmup:
        return config.lr * (step + 1) / warmup
    t = (step - warmup) / max(1, config.steps - warmup)
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def train_clip(
    data: str | Path,
    captions: str | Path,
    outdir: str | Path | None = None,
    *,
    config: CLIPTrainingConfig | None = None,
    resume: bool = False,
    name: str = "domain-clip",
    device: str | torch.device = "cpu",
    progress: bool = True,
    stop: Any = None,
) -> CLIPTraining:
    """Train a domain CLIP on ``data`` (a dataset zip or folder) with ``captions`` (a captions
    CSV); see the module docstring. ``resume`` continues ``outdir/clip`` to ``config.steps``
    with the same data and settings: a run interrupted and resumed gives the weights of one never
    interrupted (a different ``steps`` is allowed, but the learning-rate schedule follows it).
    ``stop`` replaces the signal handling (an object with a ``requested`` attribute)."""
    config = config or CLIPTrainingConfig()
    outdir = None if outdir is None else Path(outdir)
    ckpt_path = None if outdir is None else outdir / CHECKPOINT_NAME
    if resume and (ckpt_path is None or not ckpt_path.is_dir()):
        raise StyleGANError(f"nothing to resume: no CLIP checkpoint at {ckpt_path}")
    if ckpt_path is not None and not resume:
        check_checkpoint_destination(ckpt_path, overwrite=True)
    start = time.perf_counter()
    items = captioned_images(data, captions, config, progress)
    backbone = load_feature_network("effnet", device=device, progress=progress)
    features = cached_views(items, config, outdir, backbone, progress)
    train_idx = torch.tensor(items.train)

    # Texts: one table of unique strings; which of them belong to which training image.
    all_texts = sorted({t for i in items.train for t in items.texts[i]})
    text_id = {t: k for k, t in enumerate(all_texts)}
    image_texts = [torch.tensor([text_id[t] for t in items.texts[i]]) for i in items.train]
    belongs = torch.zeros(len(items.train), len(all_texts), dtype=torch.bool)
    for row, ids in enumerate(image_texts):
        belongs[row, ids] = True

    state = None
    if resume:
        model, ckpt = load_domain_clip(ckpt_path, device, training_state=True)
        state = ckpt.training_state
        if not isinstance(state, dict) or "step" not in state:
            raise StyleGANError(f"{ckpt_path} holds no CLIP training state; cannot resume")
        if state.get("config") != _config_record(config, items):
            raise StyleGANError(
                f"{ckpt_path} was trained with other data or settings; resume with the same ones"
            )
        tokenizer = model.tokenizer
    else:
        tokenizer = WordTokenizer.build(all_texts)
        heads_config = CLIPHeadsConfig(
            feature_dim=features.shape[2], vocab_size=len(tokenizer), **config.heads
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            heads = CLIPHeads.from_config(heads_config)
        flat = features[:, train_idx].reshape(-1, features.shape[2])
        heads.set_feature_statistics(flat.mean(0), flat.std(0))
        model = DomainCLIP(
            backbone, heads, tokenizer, image_size=config.image_size, taps=config.taps, name=name
        )
    model = model.to(device).train()
    length = model.heads.context_length
    tokens = tokenizer.batch(all_texts, length)
    opt = torch.optim.AdamW(
        model.heads.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    gen = torch.Generator().manual_seed(config.seed + 2)
    step = 0
    dropout_rng = torch.Generator().manual_seed(config.seed + 3).get_state()
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["rng"])
        dropout_rng = state["dropout_rng"]
        step = int(state["step"])

    def report() -> tuple[Retrieval | None, Retrieval]:
        held = None
        if items.heldout:
            idx = torch.tensor(items.heldout)
            held = evaluate_retrieval(
                model, features[0, idx], [items.queries[i] for i in items.heldout]
            )
        # The same number of training images, for comparison (all when none are held out).
        count = len(items.heldout) or len(items.train)
        sub = items.train[:: max(1, len(items.train) // count)][:count]
        seen = evaluate_retrieval(
            model, features[0, torch.tensor(sub)], [items.queries[i] for i in sub]
        )
        return held, seen

    def save(rng: torch.Tensor, held: Retrieval | None = None, seen: Retrieval | None = None):
        if ckpt_path is None:
            return None
        model.info = _info(items, config, step, held, seen)
        training_state = {
            "step": step, "optimizer": opt.state_dict(), "rng": gen.get_state(),
            "dropout_rng": rng, "config": _config_record(config, items),
        }  # fmt: skip
        return save_domain_clip(model, ckpt_path, training_state=training_state)

    recent: list[float] = []
    bar = tqdm(
        total=config.steps, initial=min(step, config.steps), desc="clip", disable=not progress
    )
    batch = min(config.batch_size, len(items.train))
    context = stop_signals(stop)
    # Dropout draws from torch's global generator: its own stream here, saved with the state.
    with context as signals, torch.random.fork_rng(devices=[]):
        torch.set_rng_state(dropout_rng)
        while step < config.steps:
            for group in opt.param_groups:
                group["lr"] = _lr_at(step, config)
            rows = torch.randperm(len(items.train), generator=gen)[:batch]
            views = torch.randint(config.views, [batch], generator=gen)
            picks = torch.tensor(
                [
                    int(image_texts[r][torch.randint(len(image_texts[r]), [1], generator=gen)])
                    for r in rows
                ]
            )
            ids = drop_words(tokens[picks], config.word_dropout, gen)
            img = model.heads.encode_features(features[views, train_idx[rows]].to(device))
            txt = model.heads.encode_tokens(ids.to(device))
            loss = contrastive_loss(
                img, txt, belongs[rows][:, picks].to(device), model.heads.scale()
            )
            if not torch.isfinite(loss):
                raise StyleGANError(f"the CLIP loss is not finite at step {step}; lower the lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            recent = [*recent[-49:], float(loss.detach())]
            bar.update(1)
            bar.set_postfix(
                loss=f"{np.mean(recent):.3f}", scale=f"{model.logit_scale:.1f}", refresh=False
            )
            if step % config.snapshot_every == 0 and step < config.steps:
                save(torch.get_rng_state())
            if signals.requested:
                bar.close()
                snapshot = save(torch.get_rng_state())
                raise CLIPTrainingInterrupted(outdir or Path("."), snapshot, signals.requested)
        dropout_rng = torch.get_rng_state()
    bar.close()
    held, seen = report()
    saved = save(dropout_rng, held, seen)
    model.info = _info(items, config, step, held, seen)
    return CLIPTraining(
        model.eval(), saved, step, float(np.mean(recent)) if recent else float("nan"), held, seen,
        time.perf_counter() - start,
    )  # fmt: skip


def _config_record(config: CLIPTrainingConfig, items: CaptionedImages) -> dict[str, Any]:
    """What a resumed run must share with the first: settings (but the step count and snapshot
    interval) and the images."""
    record = dataclasses.asdict(config)
    record.pop("steps"), record.pop("snapshot_every")
    record["taps"] = list(config.taps)
    record["images"] = len(items.indices)
    return record


def _info(
    items: CaptionedImages,
    config: CLIPTrainingConfig,
    step: int,
    held: Retrieval | None,
    seen: Retrieval | None,
) -> dict[str, Any]:
    """The training record stored with the model: split, settings, retrieval figures."""
    info: dict[str, Any] = {
        "dataset": items.dataset.path.name,
        "images": len(items.indices),
        "train_images": len(items.train),
        "step": step,
        "config": _config_record(config, items),
        "heldout": [
            {"image": items.dataset.image_name(items.indices[i]), "caption": items.queries[i]}
            for i in items.heldout
        ],
    }
    for key, r in (("heldout_retrieval", held), ("train_retrieval", seen)):
        if r is not None:
            info[key] = r.to_dict()
    return info
