"""Seeds and latents, with the official generation protocol so seeds give the official images."""

from __future__ import annotations

import numpy as np
import torch

from stylegan.errors import StyleGANError


def parse_int_ranges(spec: str) -> list[int]:
    """Parse ``"0-3,7,10-11"`` into ``[0, 1, 2, 3, 7, 10, 11]`` (inclusive ranges, order kept).

    Raises ``ValueError`` on anything else; callers turn it into a message for their flag.
    """
    values: list[int] = []
    for part in str(spec).replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            lo, hi = (int(v) for v in part.split("-", 1))
            if hi < lo:
                raise ValueError(f"range {part} runs backwards")
            values.extend(range(lo, hi + 1))
        else:
            values.append(int(part))
    return values


def parse_seeds(spec: str | int | list[int] | tuple[int, ...]) -> list[int]:
    """Parse ``"0-3,7,10-11"`` into ``[0, 1, 2, 3, 7, 10, 11]`` (ranges are inclusive)."""
    if isinstance(spec, int):
        return [spec]
    if isinstance(spec, (list, tuple)):
        return [int(s) for s in spec]
    try:
        seeds = parse_int_ranges(spec)
    except ValueError:
        raise StyleGANError(
            f"cannot read seeds {spec!r}: use numbers and ranges like 0-63,100"
        ) from None
    if not seeds:
        raise StyleGANError(f"no seeds in {spec!r}: give at least one, e.g. --seeds 0-7")
    if any(s < 0 or s >= 2**32 for s in seeds):
        raise StyleGANError("seeds must lie in 0 .. 2**32-1")
    return seeds


def z_from_seed(seed: int, z_dim: int) -> np.ndarray:
    """The official protocol: ``np.random.RandomState(seed).randn(z_dim)`` in float64."""
    return np.random.RandomState(seed).randn(z_dim)


def z_from_seeds(seeds: list[int], z_dim: int, device: torch.device | str = "cpu") -> torch.Tensor:
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
