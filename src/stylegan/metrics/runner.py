"""Quality metrics of a generator against a dataset, named and sized as in NVIDIA's tools.

``fid50k_full``, ``kid50k_full``, ``pr50k3_full``, ``is50k``, ``ppl2_wend``, ``ppl_zfull`` and
the rest of the official names mean what they mean there: which statistic, which feature
network (Inception for FID/KID/IS, VGG16 for precision/recall and PPL), how many generated
images and how many reals (``_full``: the whole dataset). A feature network written into the
name replaces the standard one and stays visible in every result: ``fid_effnet5k`` is FID over
EfficientNet-Lite0 features, which works offline but is not comparable with Inception FIDs.

Dataset statistics are cached by the dataset's content hash, so a renamed copy hits the cache
and an edited dataset never does. Results append to ``metric-<name>.jsonl`` like NVIDIA's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stylegan.errors import StyleGANError
from stylegan.metrics import maths
from stylegan.metrics.ppl import ppl_from_samples, ppl_samples
from stylegan.runtime import format_time

DETECTORS = ("inception", "vgg16", "effnet")
DEFAULT_DETECTOR = {"fid": "inception", "kid": "inception", "is": "inception", "pr": "vgg16"}
_COUNTED = re.compile(r"^(fid|kid|pr|is)(?:_(inception|vgg16|effnet))?(\d+)k(\d+)?(_full)?$")
_PPL = re.compile(r"^ppl(2)?_(z|w)(full|end)$")


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """What one metric name asks for."""

    name: str
    kind: str  # fid, kid, pr, is, ppl, eq
    detector: str
    num_gen: int  # generated images (PPL: path samples)
    max_real: int | None = None  # None = the whole dataset
    nhood_size: int = 3  # precision/recall: k of the k-NN radii
    ppl_space: str = "w"
    ppl_sampling: str = "end"
    ppl_crop: bool = False

    @property
    def needs_data(self) -> bool:
        return self.kind in ("fid", "kid", "pr")


def parse_metric(name: str, num: int | None = None) -> MetricSpec:
    """The :class:`MetricSpec` of an official-style name; ``num`` overrides the sample count."""
    match = _COUNTED.match(name)
    if match:
        kind, detector, thousands, k, full = match.groups()
        count = int(thousands) * 1000
        if kind == "pr" and k is None:
            raise StyleGANError(f"metric {name!r}: precision/recall names its k, e.g. pr50k3_full")
        if kind != "pr" and k is not None:
            raise StyleGANError(f"metric {name!r}: only pr names a neighbourhood size")
        if kind == "is" and full:
            raise StyleGANError(f"metric {name!r}: the Inception Score uses no real images")
        full_real = {"fid": None, "kid": 1_000_000, "pr": 200_000}.get(kind)
        num_gen = num or count
        return MetricSpec(
            name=name,
            kind=kind,
            detector=detector or DEFAULT_DETECTOR[kind],
            num_gen=num_gen,
            max_real=full_real if full else (num or count),
            nhood_size=int(k) if k else 3,
        )
    match = _PPL.match(name)
    if match:
        v2, space, sampling = match.groups()
        return MetricSpec(
            name=name,
            kind="ppl",
            detector="vgg16",
            num_gen=num or 50_000,
            ppl_space=space,
            ppl_sampling=sampling,
            ppl_crop=not v2,  # ppl2_*: the whole image; ppl_*: the official face crop
        )
    if name in ("eqt50k_int", "eqt50k_frac", "eqr50k"):
        # Equivariance PSNRs (StyleGAN3): no feature network, no real images.
        return MetricSpec(name=name, kind="eq", detector="none", num_gen=num or 50_000)
    raise StyleGANError(
        f"unknown metric {name!r}: use e.g. fid50k_full, kid50k_full, pr50k3_full, is50k, "
        "ppl2_wend, ppl_zfull, eqt50k_int, eqt50k_frac, eqr50k, or an EfficientNet variant "
        "such as fid_effnet5k"
    )


def result_keys(spec: MetricSpec) -> list[str]:
    """Names of the numbers a metric reports, as in NVIDIA's ``metric-*.jsonl``."""
    if spec.kind == "pr":
        return [f"{spec.name}_precision", f"{spec.name}_recall"]
    if spec.kind == "is":
        return [f"{spec.name}_mean", f"{spec.name}_std"]
    return [spec.name]


# ---- feature extraction -------------------------------------------------------------------------

_detectors: dict[tuple[str, str, str | None], Any] = {}


def get_detector(name: str, device: torch.device, path: str | None = None):
    """A feature network, loaded once per process and device."""
    from stylegan.metrics.features import load_feature_network

    key = (name, str(device), path)
    if key not in _detectors:
        _detectors[key] = load_feature_network(name, path=path, device=device)
    return _detectors[key]


def to_uint8_nchw(images: torch.Tensor) -> torch.Tensor:
    """Generator output ``[N, C, H, W]`` in [-1, 1] to uint8 RGB ``[N, 3, H, W]`` on its device.

    The official metrics' arithmetic: add 128 and truncate (half up, where
    :func:`stylegan.images.to_uint8_nhwc` rounds half to even); grey is repeated to RGB.
    """
    images = (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images


def dataset_content_hash(path: str | Path) -> str:
    """sha256 over the bytes of a zip, or over the names and bytes of a folder's files."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def stats_cache_dir() -> Path:
    from stylegan.io.download import cache_dir

    return cache_dir() / "metrics"


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return contextlib.nullcontext(None)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", leave=False, dynamic_ncols=True)


def dataset_features(
    dataset,
    detector,
    max_items: int | None,
    capture_all: bool,
    batch_size: int = 64,
    cache: bool = True,
    progress: bool = True,
) -> maths.FeatureStats:
    """Features of the first ``max_items`` dataset images (all if None), cached on disk."""
    num = len(dataset) if max_items is None else min(len(dataset), max_items)
    cache_file = None
    if cache:
        key = json.dumps(
            {
                "data": dataset_content_hash(dataset.path),
                "mirrored": dataset.mirrored,
                "items": len(dataset),
                "resolution": dataset.resolution,
                "detector": detector.name,
                "weights": getattr(detector, "weights_id", None),
                "num": num,
                "capture_all": capture_all,
            },
            sort_keys=True,
        )
        tag = hashlib.sha256(key.encode()).hexdigest()[:20]
        cache_file = stats_cache_dir() / f"{dataset.name}-{detector.name}-{tag}.npz"
        if cache_file.is_file():
            return maths.FeatureStats.load(cache_file)
    stats = maths.FeatureStats(capture_all=capture_all, max_items=num)
    with _progress(num, "dataset features", progress) as bar:
        for start in range(0, num, batch_size):
            idx = range(start, min(start + batch_size, num))
            images = torch.from_numpy(np.stack([dataset[i][0] for i in idx]))
            if images.shape[1] == 1:
                images = images.repeat(1, 3, 1, 1)
            with torch.no_grad():
                stats.append(detector(images.to(detector.device)).cpu())
            if bar is not None:
                bar.update(len(idx))
    if cache_file is not None:
        stats.save(cache_file)  # atomic: a crash never leaves a half-written cache
    return stats


def label_sampler(dataset, c_dim: int, seed: int) -> Callable[[int], torch.Tensor]:
    """Labels of random dataset items (the official choice), or none for unconditional G."""
    rnd = np.random.RandomState(seed)

    def sample(n: int) -> torch.Tensor:
        if c_dim == 0:
            return torch.zeros([n, 0])
        if dataset is None or dataset.label_dim != c_dim:
            return torch.eye(c_dim)[torch.from_numpy(rnd.randint(c_dim, size=n))]
        idx = rnd.randint(len(dataset), size=n)
        return torch.from_numpy(np.stack([dataset.get_label(int(i)) for i in idx]))

    return sample


def generated_images(
    G, num: int, batch_size: int, device: torch.device, sample_c, seed: int
) -> Iterator[torch.Tensor]:
    """``num`` uint8 images of G (random noise as the official metrics), reproducible by seed."""
    gen = torch.Generator().manual_seed(seed)
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):  # the caller's RNG streams stay untouched
        torch.manual_seed(seed)
        for start in range(0, num, batch_size):
            n = min(batch_size, num - start)
            z = torch.randn([n, G.z_dim], generator=gen).to(device)
            c = sample_c(n).to(device)
            with torch.no_grad():
                yield to_uint8_nchw(G(z, c, truncation_psi=1, noise_mode="random"))


def generator_features(
    G,
    detector,
    num: int,
    capture_all: bool,
    sample_c,
    device: torch.device,
    batch_size: int,
    seed: int,
    progress: bool,
    probs: bool = False,
) -> maths.FeatureStats:
    stats = maths.FeatureStats(capture_all=capture_all or probs, capture_mean_cov=not probs)
    with _progress(num, "generated features", progress) as bar:
        for images in generated_images(G, num, batch_size, device, sample_c, seed):
            with torch.no_grad():
                out = detector.probs(images) if probs else detector(images)
            stats.append(out.cpu())
            if bar is not None:
                bar.update(len(images))
    return stats


# ---- the metrics --------------------------------------------------------------------------------


@dataclasses.dataclass
class MetricResult:
    """One metric's numbers (keys as :func:`result_keys`), how long it took, and its spec."""

    spec: MetricSpec
    results: dict[str, float]
    seconds: float

    def as_jsonl(self, snapshot: str | None = None) -> dict[str, Any]:
        """The record NVIDIA's tools append to ``metric-<name>.jsonl``."""
        return {
            "results": self.results,
            "metric": self.spec.name,
            "total_time": self.seconds,
            "total_time_str": format_time(self.seconds),
            "num_gpus": 1,
            "snapshot_pkl": snapshot,
            "timestamp": time.time(),
        }


def compute_metric(
    spec: MetricSpec | str,
    G,
    dataset=None,
    device: torch.device | str = "cpu",
    batch_size: int = 32,
    seed: int = 0,
    cache: bool = True,
    progress: bool = True,
    detector_path: str | None = None,
) -> MetricResult:
    """Compute one metric of generator ``G`` (against ``dataset`` for FID, KID and PR)."""
    from stylegan.devices import resolve_device

    spec = parse_metric(spec) if isinstance(spec, str) else spec
    device = resolve_device(device) if isinstance(device, str) else device
    if spec.needs_data and dataset is None:
        raise StyleGANError(f"{spec.name} compares with real images: give the dataset (--data)")
    start = time.time()
    detector = None if spec.kind == "eq" else get_detector(spec.detector, device, detector_path)
    sample_c = label_sampler(dataset, G.c_dim, seed)
    was_training = G.training
    G.eval()
    try:
        if spec.kind == "eq":
            from stylegan.metrics.equivariance import official_metric

            values = [
                official_metric(
                    spec.name, G, spec.num_gen, device, seed, c_sampler=sample_c, progress=progress
                )
            ]
        elif spec.kind == "ppl":
            if not hasattr(detector, "lpips"):
                raise StyleGANError(
                    f"{spec.name} needs LPIPS distances, which {spec.detector} lacks"
                )
            dist = ppl_samples(
                G,
                detector.lpips,
                num_samples=spec.num_gen,
                space=spec.ppl_space,
                sampling=spec.ppl_sampling,
                crop=spec.ppl_crop,
                batch_size=max(batch_size // 2, 1),
                device=device,
                seed=seed,
                c_sampler=sample_c,
            )
            values = [ppl_from_samples(dist)]
        elif spec.kind == "is":
            stats = generator_features(
                G, detector, spec.num_gen, True, sample_c, device, batch_size, seed, progress, True
            )
            values = list(maths.inception_score(stats.features()))
        else:
            capture_all = spec.kind in ("kid", "pr")
            real = dataset_features(
                dataset, detector, spec.max_real, capture_all, cache=cache, progress=progress
            )
            fake = generator_features(
                G, detector, spec.num_gen, capture_all, sample_c, device, batch_size, seed, progress
            )
            if spec.kind == "fid":
                values = [maths.frechet_distance(*real.mean_cov(), *fake.mean_cov())]
            elif spec.kind == "kid":
                values = [maths.kernel_inception_distance(real.features(), fake.features())]
            else:
                values = list(
                    maths.precision_recall(
                        real.features(), fake.features(), k=spec.nhood_size, device=device
                    )
                )
    finally:
        G.train(was_training)
    results = dict(zip(result_keys(spec), (float(v) for v in values), strict=True))
    return MetricResult(spec=spec, results=results, seconds=time.time() - start)


def write_result(result: MetricResult, outdir: str | Path, snapshot: str | None = None) -> Path:
    """Append ``result`` to ``<outdir>/metric-<name>.jsonl``."""
    path = Path(outdir) / f"metric-{result.spec.name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(result.as_jsonl(snapshot)) + "\n")
    return path


def compute_metrics(
    names: Sequence[str],
    G,
    data: str | Path | None = None,
    num: int | None = None,
    mirror: bool = False,
    device: torch.device | str = "cpu",
    outdir: str | Path | None = None,
    snapshot: str | None = None,
    **kwargs: Any,
) -> list[MetricResult]:
    """Compute several metrics; with ``outdir`` each result is appended to its jsonl file."""
    from stylegan.data.dataset import ImageDataset

    specs = [parse_metric(name, num) for name in names]
    dataset = None
    if data is not None:
        dataset = ImageDataset(data, use_labels=G.c_dim > 0, xflip=mirror)
        if dataset.resolution != G.img_resolution:
            raise StyleGANError(
                f"the dataset has {dataset.resolution} px images but the generator makes "
                f"{G.img_resolution} px; compare like with like"
            )
    results = []
    for spec in specs:
        result = compute_metric(spec, G, dataset, device=device, **kwargs)
        if outdir is not None:
            write_result(result, outdir, snapshot)
        results.append(result)
    return results
