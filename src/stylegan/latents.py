"""Seeds and latents, with the official generation protocol so seeds give the official images."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch

from stylegan.errors import StyleGANError


def parse_int_ranges(spec: str) -> list[int]:
    """Parse ``"0-3,7,10-11"`` into ``[0, 1, 2, 3, 7, 10, 11]`` (inclusive ranges, order kept).

    Raises ``ValueError`` on anything else; callers turn it into a message for their flag.
    """
    return [v for lo, hi in _int_range_parts(spec) for v in range(lo, hi + 1)]


def parse_value_sweep(spec: str | Sequence[float], what: str, example: str) -> list[float]:
    """``"START:STOP:COUNT"`` (COUNT values from START to STOP, both included, as linspace), a
    comma list ``"1,0.5,0"`` or numbers -> floats: the columns of a figure that sweeps a value.

    ``what`` names the value in errors (``"psi"``, ``"strength"``), ``example`` is a range to
    suggest (``"-1:1:9"``); every malformed spec raises a one-line StyleGANError saying the forms.
    """
    if not isinstance(spec, str):
        values = [float(v) for v in spec]
    elif ":" in spec:
        try:
            start, stop, count = spec.split(":")
            start, stop, count = float(start), float(stop), int(count)
        except ValueError:
            raise StyleGANError(
                f"cannot read {what} range {spec!r}: use START:STOP:COUNT, e.g. {example}, "
                f"or a list like 1,0,-1"
            ) from None
        if count < 1:
            raise StyleGANError(f"{what} range {spec!r} has no values: COUNT must be >= 1")
        values = np.linspace(start, stop, count).round(6).tolist() if count > 1 else [start]
    else:
        try:
            values = [float(v) for v in spec.split(",") if v.strip()]
        except ValueError:
            raise StyleGANError(
                f"cannot read {what} values {spec!r}: use numbers like 1,0,-1 or a range "
                f"START:STOP:COUNT such as {example}"
            ) from None
    if not values:
        raise StyleGANError(
            f"no {what} values given: use a range START:STOP:COUNT such as {example} or a list "
            f"like 1,0,-1"
        )
    return values


class Seeds(Sequence[int]):
    """Seeds as inclusive ranges, so ``0-100000000`` costs a few bytes rather than gigabytes:
    a read-only sequence (``len``, indexing, slicing, iteration) equal to the list it stands for.
    """

    def __init__(self, ranges: Iterable[tuple[int, int]]):
        self._ranges = [(int(lo), int(hi)) for lo, hi in ranges]  # inclusive (lo <= hi)
        self._starts = [0]
        for lo, hi in self._ranges:
            self._starts.append(self._starts[-1] + hi - lo + 1)

    def __len__(self) -> int:
        return self._starts[-1]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("seed index out of range")
        part = bisect.bisect_right(self._starts, index) - 1
        return self._ranges[part][0] + index - self._starts[part]

    def __iter__(self) -> Iterator[int]:
        for lo, hi in self._ranges:
            yield from range(lo, hi + 1)

    def __eq__(self, other) -> bool:
        if isinstance(other, (Seeds, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __repr__(self) -> str:
        parts = [f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in self._ranges]
        return f"Seeds({','.join(parts)!r})"

    def batches(self, size: int) -> Iterator[list[int]]:
        """Consecutive lists of at most ``size`` seeds (memory stays flat for any count)."""
        batch: list[int] = []
        for seed in self:
            batch.append(seed)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch


def _int_range_parts(spec: str) -> list[tuple[int, int]]:
    """``"0-3,7"`` -> ``[(0, 3), (7, 7)]``; ``ValueError`` on anything else."""
    parts: list[tuple[int, int]] = []
    for part in str(spec).replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            lo, hi = (int(v) for v in part.split("-", 1))
            if hi < lo:
                raise ValueError(f"range {part} runs backwards")
        else:
            lo = hi = int(part)
        parts.append((lo, hi))
    return parts


def parse_seeds(spec: str | int | Sequence[int]) -> Seeds:
    """Parse ``"0-3,7,10-11"`` into the seeds ``[0, 1, 2, 3, 7, 10, 11]`` (ranges are inclusive),
    held as ranges (:class:`Seeds`)."""
    if isinstance(spec, Seeds):
        return spec
    if isinstance(spec, int):
        parts = [(spec, spec)]
    elif isinstance(spec, (list, tuple, range)):
        parts = [(int(s), int(s)) for s in spec]
    else:
        try:
            parts = _int_range_parts(spec)
        except ValueError:
            raise StyleGANError(
                f"cannot read seeds {spec!r}: use numbers and ranges like 0-63,100"
            ) from None
    if not parts:
        raise StyleGANError(f"no seeds in {spec!r}: give at least one, e.g. --seeds 0-7")
    if any(lo < 0 or hi >= 2**32 for lo, hi in parts):
        raise StyleGANError("seeds must lie in 0 .. 2**32-1")
    return Seeds(parts)


def z_from_seed(seed: int, z_dim: int) -> np.ndarray:
    """The official protocol: ``np.random.RandomState(seed).randn(z_dim)`` in float64."""
    return np.random.RandomState(seed).randn(z_dim)


def z_from_seeds(
    seeds: Sequence[int], z_dim: int, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Stack :func:`z_from_seed` for each seed into a float32 ``[N, z_dim]`` tensor."""
    z = np.stack([z_from_seed(s, z_dim) for s in seeds])
    return torch.from_numpy(z).to(torch.float32).to(device)


def class_labels(class_idx: int | None, c_dim: int, n: int, device="cpu") -> torch.Tensor:
    """One-hot labels ``[n, c_dim]`` (zeros ``[n, 0]`` for unconditional networks)."""
    c = torch.zeros([n, c_dim], device=device)
    if c_dim == 0:
        if class_idx is not None:
            raise StyleGANError("this network is unconditional: leave out --class")
        return c
    if class_idx is None:
        raise StyleGANError(f"this network is conditional ({c_dim} classes): give --class N")
    if not 0 <= class_idx < c_dim:
        raise StyleGANError(f"--class {class_idx} is out of range: use 0 .. {c_dim - 1}")
    c[:, class_idx] = 1
    return c


def random_class_labels(
    c_dim: int, n: int, generator: torch.Generator | None = None, device="cpu"
) -> torch.Tensor:
    """One-hot labels ``[n, c_dim]`` of classes drawn uniformly from ``generator`` (zeros
    ``[n, 0]`` for unconditional networks): samples of every class, as training draws them."""
    c = torch.zeros([n, c_dim])
    if c_dim:
        c[torch.arange(n), torch.randint(c_dim, [n], generator=generator)] = 1
    return c.to(device)
