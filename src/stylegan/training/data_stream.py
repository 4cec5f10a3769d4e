"""The training data as the loop streams it: the dataset of a config, an endless shuffled
stream of indices that a resumed run (with any number of ranks) rejoins at its position, this
rank's batches of images in [-1, 1], and labels for fakes drawn from the dataset's."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from stylegan.errors import StyleGANError
from stylegan.training import distributed
from stylegan.training.config import TrainingConfig


def open_dataset(config: TrainingConfig):
    """The training images named by the config (the bundled sample when ``data`` is None)."""
    from stylegan.data import ImageDataset, sample_dataset_path

    path = config.data if config.data is not None else sample_dataset_path()
    dataset = ImageDataset(
        path,
        resolution=config.resolution,
        use_labels=config.cond,
        xflip=config.mirror,
        max_size=config.max_size,
        random_seed=config.random_seed,
    )
    if config.cond and not dataset.has_labels:
        raise StyleGANError(
            f"--cond needs class labels, but dataset {path} has none in dataset.json; "
            "train unconditionally or add labels (stylegan dataset --labels CSV)"
        )
    return dataset


def dataset_resolution(path: str | Path | None) -> int:
    """The image resolution of a dataset (the bundled sample for None)."""
    from stylegan.data import ImageDataset, sample_dataset_path

    return ImageDataset(path if path is not None else sample_dataset_path()).resolution


class ShuffledStream(torch.utils.data.Sampler):
    """Endless dataset indices: a fresh permutation every epoch, starting at position ``start``.

    Index ``p`` of the stream depends only on ``seed`` and ``p`` (epoch ``p // len``), so a
    resumed run jumps straight to where it stopped instead of replaying the stream.
    """

    def __init__(self, size: int, seed: int, start: int = 0):
        self.size, self.seed, self.start = size, seed, start

    def __iter__(self) -> Iterator[int]:
        epoch, offset = divmod(self.start, self.size)
        while True:
            order = np.random.default_rng([self.seed, epoch]).permutation(self.size)
            yield from (int(i) for i in order[offset:])
            epoch, offset = epoch + 1, 0


class ShardedStream(ShuffledStream):
    """This rank's share of the global stream: of every ``global_batch`` consecutive indices
    (counted from ``start``), the ``rank``-th of ``world_size`` equal slices. The stream and
    the position stay global, so a run resumes with any number of ranks."""

    def __init__(
        self, size: int, seed: int, start: int, global_batch: int, rank: int, world_size: int
    ):
        super().__init__(size, seed, start)
        self.global_batch, self.rank, self.world_size = global_batch, rank, world_size

    def __iter__(self) -> Iterator[int]:
        share = self.global_batch // self.world_size
        lo, hi = self.rank * share, (self.rank + 1) * share
        for position, index in enumerate(super().__iter__()):
            if lo <= position % self.global_batch < hi:
                yield index


def _ignore_sigint(_worker_id: int) -> None:
    # Ctrl-C reaches the whole process group; workers leave it to the training process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def real_batches(
    dataset,
    config: TrainingConfig,
    start: int,
    device: torch.device,
    batch_size: int | None = None,
    context: distributed.Context = distributed.SINGLE,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless ``(images in [-1, 1], labels)`` batches from stream position ``start``: this
    rank's share of each global batch (``batch_size``, default the config's).

    The order depends only on the seed and the position, so a resumed run sees the same images.
    """
    batch_size = batch_size or config.batch_size
    sampler = ShardedStream(
        len(dataset), config.random_seed, start, batch_size, context.rank, context.world_size
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size // context.world_size,
        sampler=sampler,
        num_workers=config.num_workers,
        pin_memory=device.type == "cuda",
        worker_init_fn=_ignore_sigint if config.num_workers > 0 else None,
        # A private generator: creating the iterator must not consume the global RNG.
        generator=torch.Generator().manual_seed(config.random_seed),
        persistent_workers=config.num_workers > 0,
    )
    for images, labels in loader:
        images = images.to(device, non_blocking=True).to(torch.float32) / 127.5 - 1
        yield images, labels.to(device, torch.float32, non_blocking=True)


def sample_labels(
    dataset, n: int, device: torch.device, rng: np.random.Generator | None = None
) -> torch.Tensor:
    """Labels for ``n`` fakes, drawn from the dataset's label distribution (``rng``, or
    numpy's global RNG)."""
    if dataset.label_dim == 0:
        return torch.zeros([n, 0], device=device)
    if rng is not None:
        idx = rng.integers(len(dataset), size=n)
    else:
        idx = np.random.randint(len(dataset), size=n)
    return torch.from_numpy(np.stack([dataset.get_label(int(i)) for i in idx])).to(device)
