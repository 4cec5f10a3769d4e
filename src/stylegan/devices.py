"""Device selection shared by the library and the CLI (no hard-coded ``cuda``)."""

from __future__ import annotations

import torch

from stylegan.errors import StyleGANError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def mps_available() -> bool:
    """Whether Apple's Metal backend can be used in this process."""
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """Turn ``auto|cpu|cuda[:N]|mps`` into a usable ``torch.device``; auto picks CUDA, MPS, CPU."""
    if isinstance(name, torch.device):
        return name
    name = str(name).strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise StyleGANError(
            "--device cuda was asked for but no CUDA GPU is visible; use --device cpu"
        )
    if kind == "mps" and not mps_available():
        raise StyleGANError("--device mps was asked for but MPS is not available; use --device cpu")
    if kind not in ("cpu", "cuda", "mps"):
        raise StyleGANError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    return torch.device(name)
