"""Attribute probes: a linear classifier on a frozen feature network, trained on dataset labels.

A probe gives every image a score for a class (``scores``) or every class a probability
(``probabilities``), so a labelled dataset is enough to find an InterFaceGAN direction for one of
its classes: score generated images, fit the boundary, edit along it. The features of each image
are extracted once (EfficientNet-Lite0 by default, offline, see
:mod:`stylegan.metrics.features`); the probe itself is a multinomial logistic regression (one
linear layer on standardised features, L2-regularised) trained full batch with Adam on a
training split, its accuracy measured on the held-out rest.

Saved as ``probe.safetensors`` (weights and feature statistics) with ``probe.json`` beside it
(class names, feature network, accuracy): no pickle.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from stylegan.data.dataset import ImageDataset
from stylegan.errors import StyleGANError
from stylegan.io.atomic import write_atomically
from stylegan.metrics.features import FeatureNetwork, load_feature_network
from stylegan.networks.layers import iter_seed_images

PROBE_FORMAT = "stylegan-attribute-probe"
PROBE_VERSION = 1


@dataclass
class ProbeInfo:
    """What a probe was trained on and how well it does: the JSON beside its weights."""

    class_names: list[str]
    feature_net: str = "effnet"
    accuracy: float = float("nan")  # on the held-out split
    train_accuracy: float = float("nan")
    num_train: int = 0
    num_val: int = 0
    dataset: str = ""
    extra: dict = field(default_factory=dict)


class AttributeProbe(nn.Module):
    """Feature network + linear layer: images -> class logits, probabilities, one class's score.

    Images are uint8 ``[N, C, H, W]`` in 0..255, or floats in [-1, 1] as a generator returns them.
    """

    def __init__(self, feature_net: FeatureNetwork, linear: nn.Linear, mean, std, info: ProbeInfo):
        super().__init__()
        self.feature_net, self.linear, self.info = feature_net, linear, info
        self.register_buffer("feature_mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("feature_std", torch.as_tensor(std, dtype=torch.float32))
        self.requires_grad_(False).eval()

    @property
    def class_names(self) -> list[str]:
        return self.info.class_names

    def class_index(self, key: int | str) -> int:
        """The index of a class given by number or name."""
        names = self.class_names
        if isinstance(key, str) and not key.isdigit():
            if key not in names:
                raise StyleGANError(
                    f"the probe has no class {key!r}; its classes are: {', '.join(names)}"
                )
            return names.index(key)
        k = int(key)
        if not 0 <= k < len(names):
            raise StyleGANError(f"class {k} out of range: the probe has {len(names)} classes")
        return k

    def features_to_logits(self, features: torch.Tensor) -> torch.Tensor:
        x = (features.to(self.feature_mean.device) - self.feature_mean) / self.feature_std
        return self.linear(x)

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, classes]`` logits."""
        return self.features_to_logits(self.feature_net(_as_uint8_range(images)))

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, classes]`` class probabilities (softmax)."""
        return torch.softmax(self.logits(images), dim=1)

    def scores(self, images: torch.Tensor, class_index: int | str) -> torch.Tensor:
        """``[N]`` log-odds of the class against all others: ``log p - log(1 - p)``; it orders
        images as the probability does but stays spread out where p is near 0 or 1."""
        k = self.class_index(class_index)
        log_p = torch.log_softmax(self.logits(images), dim=1)
        others = torch.logsumexp(torch.cat([log_p[:, :k], log_p[:, k + 1 :]], dim=1), dim=1)
        return log_p[:, k] - others

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (.safetensors) and its ``.json`` beside it, each atomically."""
        path = Path(path)
        if path.suffix != ".safetensors":
            path = path.with_suffix(".safetensors")
        tensors = {
            "weight": self.linear.weight.detach().cpu().contiguous(),
            "bias": self.linear.bias.detach().cpu().contiguous(),
            "feature_mean": self.feature_mean.cpu().contiguous(),
            "feature_std": self.feature_std.cpu().contiguous(),
        }
        size = sum(t.numel() * 4 for t in tensors.values())
        meta = json.dumps({"format": PROBE_FORMAT, "version": PROBE_VERSION, **asdict(self.info)})
        write_atomically(path, lambda tmp: save_file(tensors, str(tmp)), size, overwrite=True)
        write_atomically(
            probe_json_path(path), lambda tmp: tmp.write_text(meta), len(meta), overwrite=True
        )
        return path


def probe_json_path(path: str | Path) -> Path:
    """Where the JSON of the probe at ``path`` lives: same name, ``.json``."""
    return Path(path).with_suffix(".json")


def _as_uint8_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 stays; floats are generator output in [-1, 1], mapped to 0..255 as saved images are."""
    if isinstance(images, torch.Tensor) and images.is_floating_point():
        return ((images.float() + 1) * 127.5).round().clamp(0, 255)
    return images


def dataset_class_names(dataset: ImageDataset, names_file: str | Path | None = None) -> list[str]:
    """The names of the dataset's classes: from ``names_file`` (one per line), dataset.json's
    ``class_names``, the bundled sample's categories, or ``class_K``."""
    count = dataset.label_dim
    if names_file is not None:
        try:
            names = [n.strip() for n in Path(names_file).read_text().splitlines() if n.strip()]
        except (OSError, UnicodeDecodeError) as error:
            raise StyleGANError(f"cannot read names file {names_file} ({error})") from None
    else:
        names = dataset.class_names() or [f"class_{k}" for k in range(count)]
    if len(names) < count:
        raise StyleGANError(
            f"{len(names)} class names for {count} classes: give one name per line for each class"
        )
    return names[:count]


@torch.no_grad()
def extract_features(
    net: FeatureNetwork, dataset: ImageDataset, batch_size: int = 64, progress: bool = True
) -> torch.Tensor:
    """``[N, feature_dim]`` features of every dataset image (on the CPU)."""
    chunks = range(0, len(dataset), batch_size)
    out = []
    for i in tqdm(chunks, desc="features", unit="batch", disable=not progress):
        images = np.stack([dataset[j][0] for j in range(i, min(i + batch_size, len(dataset)))])
        out.append(net(torch.from_numpy(images)).float().cpu())
    return torch.cat(out)


def fit_logistic_regression(
    features: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    epochs: int = 300,
    lr: float = 0.01,
    weight_decay: float = 1e-3,
    seed: int = 0,
) -> nn.Linear:
    """A multinomial logistic regression on standardised ``features``: full-batch Adam on the
    cross-entropy plus ``weight_decay * |W|^2`` (the bias is not penalised)."""
    generator = torch.Generator().manual_seed(seed)
    linear = nn.Linear(features.shape[1], num_classes)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(linear.weight.shape, generator=generator) * 0.01)
        linear.bias.zero_()
    optimizer = torch.optim.Adam(linear.parameters(), lr=lr)
    for _ in range(epochs):
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(linear(features), labels)
        (loss + weight_decay * linear.weight.square().sum()).backward()
        optimizer.step()
    return linear.requires_grad_(False)


def train_attribute_probe(
    dataset_path: str | Path,
    *,
    feature_net: str = "effnet",
    epochs: int = 300,
    lr: float = 0.01,
    weight_decay: float = 1e-3,
    val_fraction: float = 0.2,
    seed: int = 0,
    names_file: str | Path | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 64,
    max_images: int | None = None,
    progress: bool = True,
) -> AttributeProbe:
    """Train a probe on the class labels of an NVIDIA-layout dataset (zip or folder).

    A random ``val_fraction`` of the images (at least one) is held out; ``probe.info.accuracy``
    is the accuracy there. ``max_images`` keeps a random subset (NVIDIA's ``max_size``).
    """
    if not 0 < val_fraction < 1:
        raise StyleGANError(f"val_fraction must lie between 0 and 1, got {val_fraction}")
    dataset = ImageDataset(dataset_path, use_labels=True, max_size=max_images, random_seed=seed)
    if not dataset.has_labels or not dataset.has_onehot_labels:
        raise StyleGANError(
            f"dataset {dataset_path} has no class labels: a probe learns classes from "
            f"dataset.json (make one with `stylegan dataset --labels ...`)"
        )
    if len(dataset) < 2:
        raise StyleGANError(f"dataset {dataset_path} has {len(dataset)} image(s): need at least 2")
    names = dataset_class_names(dataset, names_file)
    labels = torch.from_numpy(
        np.array([int(dataset.get_label(i).argmax()) for i in range(len(dataset))])
    )
    net = load_feature_network(feature_net, device=device, progress=progress)
    features = extract_features(net, dataset, batch_size, progress)
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    num_val = min(max(1, round(val_fraction * len(dataset))), len(dataset) - 1)
    val, train = order[:num_val], order[num_val:]
    mean = features[train].mean(0)
    std = features[train].std(0, unbiased=False).clamp_min(1e-6)  # constant features: no blow-up
    standard = (features - mean) / std
    linear = fit_logistic_regression(
        standard[train], labels[train], dataset.label_dim, epochs, lr, weight_decay, seed
    )

    def accuracy(index: torch.Tensor) -> float:
        return float((linear(standard[index]).argmax(1) == labels[index]).float().mean())

    info = ProbeInfo(
        class_names=names, feature_net=feature_net, accuracy=accuracy(val),
        train_accuracy=accuracy(train), num_train=len(train), num_val=len(val),
        dataset=Path(dataset_path).name,
    )  # fmt: skip
    return AttributeProbe(net, linear, mean, std, info).to(device)


def load_attribute_probe(path: str | Path, device: str | torch.device = "cpu") -> AttributeProbe:
    """Read a probe saved by :meth:`AttributeProbe.save` (its feature network is loaded too)."""
    path = Path(path)
    meta_path = probe_json_path(path)
    if not path.is_file() or not meta_path.is_file():
        raise StyleGANError(
            f"probe {path} (with {meta_path.name} beside it) does not exist: train one with "
            f"`stylegan attributes train`"
        )
    try:
        meta = json.loads(meta_path.read_text())
        tensors = load_file(str(path))
        if meta.get("format") != PROBE_FORMAT:
            raise ValueError(f"format {meta.get('format')!r}")
        known = set(ProbeInfo.__dataclass_fields__)
        info = ProbeInfo(**{k: v for k, v in meta.items() if k in known})
        weight, bias = tensors["weight"], tensors["bias"]
    except Exception as error:  # noqa: BLE001 - any unreadable probe is the user's to fix
        raise StyleGANError(
            f"cannot read probe {path} ({type(error).__name__}: {error}): train a new one with "
            f"`stylegan attributes train`"
        ) from None
    if weight.shape[0] != len(info.class_names):
        raise StyleGANError(
            f"probe {path} has {weight.shape[0]} classes but {len(info.class_names)} names"
        )
    linear = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        linear.weight.copy_(weight)
        linear.bias.copy_(bias)
    net = load_feature_network(info.feature_net, device=device)
    return AttributeProbe(net, linear, tensors["feature_mean"], tensors["feature_std"], info).to(
        device
    )


@torch.no_grad()
def score_seeds(
    probe: AttributeProbe, G: nn.Module, seeds, class_index: int | str, **rendering: Any
) -> list[tuple[int, float]]:
    """``(seed, score)`` for each seed: the probe's :meth:`~AttributeProbe.scores` of the image
    the seed gives (rendered as ``stylegan generate`` saves it, uint8). ``rendering``: the
    keywords of :func:`~stylegan.networks.layers.iter_seed_images` (truncation, class, noise
    mode, batch size, progress)."""
    k = probe.class_index(class_index)
    rows = []
    for chunk, images in iter_seed_images(G, seeds, **rendering):
        scores = probe.scores(images.permute(0, 3, 1, 2), k).cpu()
        rows += [(int(s), float(v)) for s, v in zip(chunk, scores)]
    return rows


def write_scores_csv(rows: list[tuple[int, float]], path: str | Path | None = None) -> str:
    """``seed,score`` CSV text of ``rows`` (the file `stylegan directions --scores` reads),
    written to ``path`` if given."""
    text = "seed,score\n" + "".join(f"{seed},{score:.6g}\n" for seed, score in rows)
    if path is not None:
        data = text.encode()
        write_atomically(Path(path), lambda tmp: tmp.write_bytes(data), len(data), overwrite=True)
    return text
