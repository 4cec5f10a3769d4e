"""How well a CLIP finds images from text: text-to-image retrieval among a set of images.

Each image has one query (its caption, e.g. its emoji name); the query should rank its own image
first among all the images of the set. Top-1 and top-5 are the shares of queries whose image is
ranked first or in the first five; chance is 1/N and 5/N. Works for any
:class:`~stylegan.networks.clip.TextImageModel` (it calls ``encode_image`` and ``encode_text``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stylegan.clip.captions import match_captions, read_captions
from stylegan.data.dataset import ImageDataset, sample_dataset_path
from stylegan.errors import StyleGANError
from stylegan.networks.clip import TextImageModel


@dataclasses.dataclass
class Retrieval:
    """Text-to-image retrieval among ``images`` images, one query per image."""

    images: int
    top1: float
    top5: float
    median_rank: float

    @property
    def chance_top1(self) -> float:
        return 1 / self.images

    @property
    def chance_top5(self) -> float:
        return min(5, self.images) / self.images

    def to_dict(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "chance_top1": self.chance_top1,
            "chance_top5": self.chance_top5,
        }

    def __str__(self) -> str:
        return (
            f"top-1 {self.top1:.1%} (chance {self.chance_top1:.1%}), top-5 {self.top5:.1%} "
            f"(chance {self.chance_top5:.1%}), median rank {self.median_rank:g} of {self.images}"
        )


@torch.no_grad()
def retrieval(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor) -> Retrieval:
    """Row ``i`` of the texts should find image ``i``: top-1, top-5 and the median rank of the
    right image (ties count in the query's favour)."""
    sims = text_embeddings.float() @ image_embeddings.float().T
    ranks = (sims > sims.diagonal().unsqueeze(1)).sum(1) + 1
    return Retrieval(
        images=int(sims.shape[0]),
        top1=float((ranks <= 1).float().mean()),
        top5=float((ranks <= 5).float().mean()),
        median_rank=float(ranks.float().median()),
    )


@torch.no_grad()
def encode_texts(model: TextImageModel, texts: Sequence[str], batch: int = 256) -> torch.Tensor:
    """``encode_text`` in batches."""
    return torch.cat(
        [model.encode_text(list(texts[i : i + batch])) for i in range(0, len(texts), batch)]
    )


@torch.no_grad()
def encode_dataset_images(
    model: TextImageModel, dataset: ImageDataset, indices: Sequence[int], batch: int = 64
) -> torch.Tensor:
    """``encode_image`` of dataset images (uint8, as stored), in batches."""
    out = []
    for start in range(0, len(indices), batch):
        chunk = indices[start : start + batch]
        images = torch.from_numpy(np.stack([dataset[i][0] for i in chunk]))
        out.append(model.encode_image(images).cpu())
    return torch.cat(out)


def dataset_retrieval(
    model: TextImageModel,
    data: str | Path | ImageDataset,
    pairs: Sequence[tuple[str, str]],
) -> Retrieval:
    """Retrieval among the dataset images named in ``pairs`` (``(image name, query)``)."""
    dataset = data if isinstance(data, ImageDataset) else ImageDataset(data)
    index = {dataset.image_name(i): i for i in range(len(dataset))}
    missing = [name for name, _ in pairs if name not in index]
    if missing:
        raise StyleGANError(
            f"{len(missing)} image(s) to retrieve are not in {dataset.path} (e.g. {missing[0]}); "
            "evaluate on the dataset the CLIP was trained on"
        )
    if len(pairs) < 2:
        raise StyleGANError("retrieval needs at least 2 images")
    images = encode_dataset_images(model, dataset, [index[name] for name, _ in pairs])
    return retrieval(images, encode_texts(model, [q for _, q in pairs]).cpu())


def caption_pairs(data: str | Path, captions: str | Path) -> list[tuple[str, str]]:
    """``(image name, first caption)`` of every captioned image of a dataset."""
    dataset = ImageDataset(data)
    names = [dataset.image_name(i) for i in range(len(dataset))]
    matched = match_captions(names, read_captions(captions), str(captions))
    return [(names[i], matched[i][0].caption) for i in sorted(matched)]


def heldout_pairs(model: Any) -> list[tuple[str, str]]:
    """``(image name, caption)`` of the images a domain CLIP was not trained on (its record)."""
    held = (getattr(model, "info", None) or {}).get("heldout")
    if not held:
        raise StyleGANError(
            f"{getattr(model, 'name', 'this CLIP')} records no held-out images; pass --captions "
            "to evaluate on a dataset's captions"
        )
    return [(str(h["image"]), str(h["caption"])) for h in held]


def heldout_retrieval(model: Any, data: str | Path | None = None) -> Retrieval:
    """Retrieval among a domain CLIP's held-out images (default dataset: the bundled sample)."""
    return dataset_retrieval(
        model, sample_dataset_path() if data is None else data, heldout_pairs(model)
    )
