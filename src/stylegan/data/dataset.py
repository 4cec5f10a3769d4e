"""Training images in NVIDIA's dataset layout: a zip or a folder of images plus ``dataset.json``.

A dataset made by NVIDIA's ``dataset_tool.py`` loads here unchanged, and one made by
``stylegan dataset`` loads in NVIDIA's ``training/dataset.py``: images are read in sorted file-name
order and labels come from ``dataset.json`` (``{"labels": [[file name, label], ...]}`` or
``{"labels": null}``).
"""

from __future__ import annotations

import atexit
import contextlib
import filecmp
import functools
import importlib.resources
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image

from stylegan.data.reader import FileReader, UnreadableFile, is_regular_file, open_image
from stylegan.errors import StyleGANError

_CONVERT_HINT = (
    "convert the images with `stylegan dataset --source SRC --dest DEST.zip --resolution N`"
)
_CHANNELS = {"L": 1, "RGB": 3}
_SAMPLE_FILE = "twemoji-32.zip"
# The bundled sample's class index -> emoji category (sorted names, as
# scripts/make_sample_dataset.py numbers them; also listed in TWEMOJI-ATTRIBUTION.txt).
SAMPLE_CLASS_NAMES = (
    "Activities", "Animals & Nature", "Component", "Flags", "Food & Drink", "Objects",
    "People & Body", "Smileys & Emotion", "Symbols", "Travel & Places",
)  # fmt: skip


def is_image_name(name: str) -> bool:
    """True if the file name has an extension Pillow can read."""
    return PurePosixPath(name).suffix.lower() in Image.registered_extensions()


def is_junk_name(name: str) -> bool:
    """True for hidden files and macOS resource forks, which are never dataset images."""
    return any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(name).parts)


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


class ImageDataset(torch.utils.data.Dataset):
    """Images and labels from a zip or folder in NVIDIA's layout.

    ``dataset[i]`` is ``(image, label)``: a uint8 array ``[C, H, W]`` and a float32 array
    ``[label_dim]`` (integer class labels become one-hot; ``label_dim`` is 0 without labels).
    ``max_size`` keeps a random subset (the same one NVIDIA's loader picks for ``random_seed``)
    and ``xflip`` appends a mirrored copy of every image after it.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        resolution: int | None = None,
        use_labels: bool = False,
        xflip: bool = False,
        max_size: int | None = None,
        random_seed: int = 0,
    ):
        self.path = Path(path)
        self.name = self.path.stem
        # Every read goes through the reader's guards (regular files only, size and zip-bomb
        # limits), since a dataset can be as hostile as any download.
        self._files = FileReader(self.path)

        if self.path.is_dir():
            all_names = self._files.names()
        elif is_regular_file(self.path) and self.path.suffix.lower() == ".zip":
            try:
                all_names = self._files.names()
            except (zipfile.BadZipFile, OSError) as err:
                raise StyleGANError(f"dataset {self.path} is not a readable zip ({err})") from err
        elif not self.path.exists():
            raise StyleGANError(f"dataset {self.path} does not exist; pass a .zip or a folder")
        else:
            raise StyleGANError(
                f"dataset {self.path} is neither a .zip nor a folder of images; {_CONVERT_HINT}"
            )

        self._image_names = sorted(n for n in all_names if is_image_name(n) and not is_junk_name(n))
        if not self._image_names:
            raise StyleGANError(f"no images found in dataset {self.path}; {_CONVERT_HINT}")
        self._has_metadata = "dataset.json" in all_names

        image_shape = self._check_images(resolution)
        self._raw_shape = [len(self._image_names), *image_shape]
        self._raw_labels = self._load_raw_labels() if use_labels else None
        if self._raw_labels is None:
            self._raw_labels = np.zeros([len(self._image_names), 0], dtype=np.float32)
        if self._raw_labels.dtype == np.int64:
            self._label_shape = [int(self._raw_labels.max()) + 1]
        else:
            self._label_shape = list(self._raw_labels.shape[1:])

        # Same subset and order as NVIDIA's loader: shuffle with the seed, keep the first
        # max_size indices, sort them; the mirrored copies follow the originals.
        self._raw_idx = np.arange(len(self._image_names), dtype=np.int64)
        if max_size is not None and self._raw_idx.size > max_size:
            np.random.RandomState(random_seed).shuffle(self._raw_idx)
            self._raw_idx = np.sort(self._raw_idx[:max_size])
        self._xflip = np.zeros(self._raw_idx.size, dtype=np.uint8)
        if xflip:
            self._raw_idx = np.tile(self._raw_idx, 2)
            self._xflip = np.concatenate([self._xflip, np.ones_like(self._xflip)])

        # Worker processes open their own handle (see FileReader); the parent needs none now.
        self.close()

    # -- reading ----------------------------------------------------------------------------------

    def _read_bytes(self, name: str) -> bytes:
        try:
            return self._files.read(name)
        except UnreadableFile as err:
            raise StyleGANError(
                f"cannot read {name} in dataset {self.path} ({err}); {_CONVERT_HINT}"
            ) from err

    def _open_image(self, name: str) -> Image.Image:
        try:
            return open_image(self._read_bytes(name))
        except UnreadableFile as err:
            raise StyleGANError(
                f"cannot read image {name} in dataset {self.path} ({err}); {_CONVERT_HINT}"
            ) from err

    def _check_images(self, resolution: int | None) -> list[int]:
        """Check every image header: square, power of two, one size and colour mode for all."""
        first_name, first_key = None, None
        for name in self._image_names:
            with self._open_image(name) as img:
                key = (img.size, img.mode)
            if first_key is None:
                first_name, first_key = name, key
                (width, height), mode = key
                if width != height:
                    raise StyleGANError(
                        f"dataset images must be square, but {name} is {width}x{height}; "
                        f"{_CONVERT_HINT[:-1]} --transform center-crop`"
                    )
                if not _is_power_of_two(width):
                    raise StyleGANError(
                        f"dataset image size must be a power of two, but {name} is "
                        f"{width}x{height}; {_CONVERT_HINT}"
                    )
                if mode not in _CHANNELS:
                    raise StyleGANError(
                        f"dataset images must be RGB or greyscale, but {name} is {mode}; "
                        f"{_CONVERT_HINT}"
                    )
            elif key != first_key:
                (w0, h0), m0 = first_key
                (w, h), m = key
                raise StyleGANError(
                    f"dataset images must all have the same size and colour mode, but "
                    f"{first_name} is {w0}x{h0} {m0} and {name} is {w}x{h} {m}; {_CONVERT_HINT}"
                )
        (width, _), mode = first_key
        if resolution is not None and width != resolution:
            raise StyleGANError(
                f"dataset {self.path} has {width}x{width} images, not the requested "
                f"{resolution}x{resolution}; convert them with `stylegan dataset --source "
                f"{self.path} --dest DEST.zip --resolution {resolution}`"
            )
        return [_CHANNELS[mode], width, width]

    def _load_raw_labels(self) -> np.ndarray | None:
        if not self._has_metadata:
            return None
        try:
            labels = json.loads(self._read_bytes("dataset.json"))["labels"]
        except (ValueError, KeyError, TypeError) as err:
            raise StyleGANError(
                f"dataset.json in {self.path} is not valid (expected {{'labels': [...]}}): {err}"
            ) from err
        if labels is None:
            return None
        lookup = {str(file).replace("\\", "/"): label for file, label in labels}
        missing = [n for n in self._image_names if n not in lookup]
        if missing:
            raise StyleGANError(
                f"dataset.json in {self.path} has no label for {len(missing)} image(s), "
                f"e.g. {missing[0]}; {_CONVERT_HINT[:-1]} --labels CSV`"
            )
        array = np.array([lookup[n] for n in self._image_names])
        if array.ndim == 1:
            array = array.astype(np.int64)
            if array.min() < 0:
                raise StyleGANError(f"dataset.json in {self.path} has negative class labels")
            return array
        if array.ndim == 2:
            return array.astype(np.float32)
        raise StyleGANError(
            f"dataset.json in {self.path}: labels must be class indices or equal-length vectors"
        )

    def class_names(self) -> list[str] | None:
        """The class names, when known: ``class_names`` in dataset.json (a list, one per class
        index), or the bundled sample's categories; None otherwise (classes are then numbers)."""
        if self._has_metadata:
            try:
                names = json.loads(self._read_bytes("dataset.json")).get("class_names")
            except (ValueError, AttributeError):
                names = None  # an invalid dataset.json fails where its labels are read
            if isinstance(names, list) and all(isinstance(n, str) for n in names):
                return list(names)
        if is_sample_dataset(self.path):
            return list(SAMPLE_CLASS_NAMES)
        return None

    def _load_raw_image(self, raw_idx: int) -> np.ndarray:
        name = self._image_names[raw_idx]
        try:
            with self._open_image(name) as img:
                image = np.array(img)
        except (OSError, SyntaxError, ValueError) as err:  # damage past the header
            raise StyleGANError(
                f"cannot read image {name} in dataset {self.path} ({err}); {_CONVERT_HINT}"
            ) from err
        if image.ndim == 2:
            image = image[:, :, np.newaxis]
        image = image.transpose(2, 0, 1)
        if list(image.shape) != self.image_shape or image.dtype != np.uint8:
            raise StyleGANError(
                f"image {name} in {self.path} is {image.dtype} {list(image.shape)}, unlike the "
                f"rest of the dataset {self.image_shape}; {_CONVERT_HINT}"
            )
        return image

    # -- torch Dataset ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._raw_idx.size)

    def __getitem__(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        image = self._load_raw_image(int(self._raw_idx[idx]))
        if self._xflip[idx]:
            image = image[:, :, ::-1]
        return np.ascontiguousarray(image), self.get_label(idx)

    def image_name(self, idx: int) -> str:
        """The file name of item ``idx`` inside the zip or folder (e.g. ``00000/img00000000.png``),
        the key captions and other per-image records are matched on."""
        return self._image_names[int(self._raw_idx[idx])]

    def get_label(self, idx: int) -> np.ndarray:
        """The float32 label of item ``idx`` (one-hot for class labels)."""
        label = self._raw_labels[self._raw_idx[idx]]
        if self._raw_labels.dtype == np.int64:
            onehot = np.zeros(self._label_shape, dtype=np.float32)
            onehot[label] = 1
            return onehot
        return label.copy()

    def close(self) -> None:
        """Close the zip handle of this process (it reopens on the next read)."""
        self._files.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def __repr__(self) -> str:
        return (
            f"ImageDataset({str(self.path)!r}, {len(self)} images, "
            f"shape={self.image_shape}, label_dim={self.label_dim})"
        )

    # -- shape ------------------------------------------------------------------------------------

    @property
    def image_shape(self) -> list[int]:
        """``[C, H, W]`` of every image."""
        return list(self._raw_shape[1:])

    @property
    def num_channels(self) -> int:
        return self._raw_shape[1]

    @property
    def resolution(self) -> int:
        return self._raw_shape[2]

    @property
    def label_shape(self) -> list[int]:
        return list(self._label_shape)

    @property
    def label_dim(self) -> int:
        return self._label_shape[0]

    @property
    def mirrored(self) -> bool:
        """Whether x-flipped copies follow the originals (``xflip=True``)."""
        return bool(self._xflip.any())

    @property
    def has_labels(self) -> bool:
        return self.label_dim != 0

    @property
    def has_onehot_labels(self) -> bool:
        return self._raw_labels.dtype == np.int64


# -- sampling -------------------------------------------------------------------------------------


class InfiniteSampler(torch.utils.data.Sampler):
    """An endless stream of dataset indices, shuffled with ``seed``.

    Gives the same stream as NVIDIA's ``InfiniteSampler`` for the same seed. ``rank`` and
    ``num_replicas`` split the stream between processes of a distributed run: replica ``r``
    takes every ``num_replicas``-th index starting at ``r``.
    """

    def __init__(
        self,
        dataset,
        rank: int = 0,
        num_replicas: int = 1,
        shuffle: bool = True,
        seed: int = 0,
        window_size: float = 0.5,
    ):
        if len(dataset) == 0:
            raise StyleGANError("cannot sample from an empty dataset")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, {num_replicas}), got {rank}")
        if not 0 <= window_size <= 1:
            raise ValueError(f"window_size must be in [0, 1], got {window_size}")
        self.size = len(dataset)
        self.rank = rank
        self.num_replicas = num_replicas
        self.shuffle = shuffle
        self.seed = seed
        self.window_size = window_size

    def __iter__(self) -> Iterator[int]:
        order = np.arange(self.size)
        rng = np.random.RandomState(self.seed)
        window = 0
        if self.shuffle:
            rng.shuffle(order)
            window = int(np.rint(order.size * self.window_size))
        step = 0
        while True:
            i = step % order.size
            if step % self.num_replicas == self.rank:
                yield int(order[i])
            # Swapping each visited slot with a recent one reshuffles the order a little on every
            # pass, so later epochs differ without ever building a new permutation.
            if window >= 2:
                j = (i - rng.randint(window)) % order.size
                order[i], order[j] = order[j], order[i]
            step += 1


def infinite_loader(
    dataset: torch.utils.data.Dataset,
    batch_size: int,
    seed: int = 0,
    device: torch.device | str = "cpu",
    rank: int = 0,
    num_replicas: int = 1,
    num_workers: int = 0,
    shuffle: bool = True,
    pin_memory: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless batches ``(images [N, C, H, W] float32 in [-1, 1], labels [N, label_dim])``.

    ``batch_size`` is per replica; the stream is fixed by ``seed`` (see :class:`InfiniteSampler`).
    """
    sampler = InfiniteSampler(
        dataset, rank=rank, num_replicas=num_replicas, shuffle=shuffle, seed=seed
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
    )
    device = torch.device(device)
    for images, labels in loader:
        images = images.to(device, non_blocking=pin_memory).to(torch.float32) / 127.5 - 1
        labels = labels.to(device, dtype=torch.float32, non_blocking=pin_memory)
        yield images, labels


# -- the bundled sample ---------------------------------------------------------------------------

_extracted_resources = contextlib.ExitStack()
atexit.register(_extracted_resources.close)


def is_sample_dataset(path: str | os.PathLike) -> bool:
    """Whether ``path`` is the bundled sample (or a byte-identical copy of it)."""
    path = Path(path)
    try:
        sample = sample_dataset_path()
        if not path.is_file() or path.stat().st_size != sample.stat().st_size:
            return False
        return path.resolve() == sample.resolve() or filecmp.cmp(path, sample, shallow=False)
    except (OSError, StyleGANError):
        return False


@functools.cache
def sample_dataset_path() -> Path:
    """Path of the bundled sample: 1,911 Twemoji emoji, 32x32 RGB, 10 categories (CC-BY 4.0)."""
    resource = importlib.resources.files("stylegan") / "assets" / _SAMPLE_FILE
    if not resource.is_file():
        raise StyleGANError(
            f"the bundled sample dataset {_SAMPLE_FILE} is missing from this installation; "
            "reinstall stylegan"
        )
    if isinstance(resource, Path):
        return resource
    # Installed inside an archive: extract once for this process.
    return _extracted_resources.enter_context(importlib.resources.as_file(resource))
