"""A generator's input transform: moving what it renders without touching its weights.

StyleGAN3 networks carry the user transform as ``G.synthesis.input.transform``: a 3x3 matrix
``T`` (image widths, origin at the image centre, y down) such that the generated image is
``img_T(p) = img(T p)``, set as NVIDIA's ``gen_images.py`` does. StyleGAN2 networks have no such
input; for them the learned constant input is resampled as one period of a periodic
band-limited signal (our own convention, see :mod:`stylegan.metrics.equivariance`). Here because
both the equivariance metrics and the motion tools move generators this way.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from stylegan.errors import StyleGANError


def make_transform(translate: tuple[float, float] = (0.0, 0.0), angle: float = 0.0) -> np.ndarray:
    """NVIDIA's ``gen_images.make_transform``: the image's forward transform for ``translate``
    (image widths) and ``angle`` (degrees); the input transform is its inverse."""
    m = np.eye(3)
    s = np.sin(angle / 360.0 * np.pi * 2)
    c = np.cos(angle / 360.0 * np.pi * 2)
    m[0][0] = c
    m[0][1] = s
    m[0][2] = translate[0]
    m[1][0] = -s
    m[1][1] = c
    m[1][2] = translate[1]
    return m


def user_transform_matrix(
    translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0
) -> torch.Tensor:
    """The input transform as ``gen_images.py`` sets it: ``inv(make_transform(...))``."""
    return torch.from_numpy(np.linalg.inv(make_transform(translate, rotate))).to(torch.float32)


def periodic_resample(x: torch.Tensor, matrix) -> torch.Tensor:
    """Resample ``x [..., H, W]`` (one period of a periodic, band-limited signal) at ``T p``.

    ``matrix`` is a 3x3 input transform ``T`` in the frame of the whole array: coordinates in
    array widths/heights, origin at the centre, y down. The signal between samples is the
    trigonometric interpolant of the DFT; even-size Nyquist bins are split between +N/2 and
    -N/2 so that real inputs give real outputs.
    """
    *lead, H, W = x.shape
    mat = torch.as_tensor(matrix, dtype=torch.float64).cpu()
    spec = torch.fft.fft2(x.detach().to(torch.float64).cpu().reshape(-1, H, W))

    def freqs(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        k = torch.arange(-(n // 2), n // 2 + 1)
        weight = torch.ones(len(k), dtype=torch.float64)
        if n % 2 == 0:
            weight[0] = weight[-1] = 0.5
        return k, k % n, weight

    kx, idx_x, wx = freqs(W)
    ky, idx_y, wy = freqs(H)
    coef = spec[:, idx_y][:, :, idx_x] * (wy[:, None] * wx[None, :])  # [B, Ky, Kx]

    # Output pixel centres -> centred array units -> T -> source pixel-index coordinates.
    gy, gx = torch.meshgrid(
        torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64), indexing="ij"
    )
    u = torch.stack([(gx.flatten() + 0.5) / W - 0.5, (gy.flatten() + 0.5) / H - 0.5])
    src = mat[:2, :2] @ u + mat[:2, 2:]
    sx = (src[0] + 0.5) * W - 0.5
    sy = (src[1] + 0.5) * H - 0.5
    ex = torch.exp(2j * math.pi * sx[:, None] * kx[None, :] / W)  # [P, Kx]
    ey = torch.exp(2j * math.pi * sy[:, None] * ky[None, :] / H)  # [P, Ky]
    out = torch.einsum("byx,py,px->bp", coef, ey, ex).real / (H * W)
    return out.reshape(*lead, H, W).to(dtype=x.dtype, device=x.device)


def _const_parameter(G: nn.Module) -> nn.Parameter | None:
    synthesis = getattr(G, "synthesis", None)
    if synthesis is None:
        return None
    block = getattr(synthesis, "b4", None)
    if block is not None and isinstance(getattr(block, "const", None), torch.Tensor):
        return block.const
    for name, param in synthesis.named_parameters():
        if (name == "const" or name.endswith(".const")) and param.ndim == 3:
            return param
    return None


def transform_kind(G: nn.Module) -> str:
    """How ``G``'s input can be transformed: ``"input"`` (StyleGAN3's
    ``synthesis.input.transform``) or ``"const"`` (resampling the constant input, StyleGAN2)."""
    synthesis = getattr(G, "synthesis", None)
    M = getattr(getattr(synthesis, "input", None), "transform", None)
    if isinstance(M, torch.Tensor) and tuple(M.shape) == (3, 3):
        return "input"
    if _const_parameter(G) is not None:
        return "const"
    raise StyleGANError(
        f"{type(G).__name__} supports no input transformation: it has neither "
        "synthesis.input.transform (StyleGAN3) nor a learned constant input (StyleGAN2)"
    )


class InputTransform:
    """Sets the user transform of a generator's input and restores the original on
    :meth:`restore` (or leaving the ``with`` block). See the module docstring for the two kinds.
    """

    def __init__(self, G: nn.Module):
        self.G = G
        self.kind = transform_kind(G)
        if self.kind == "input":
            self.target = G.synthesis.input.transform
        else:
            self.target = _const_parameter(G)
        self.original = self.target.detach().clone()

    @torch.no_grad()
    def set(self, matrix) -> None:
        """Apply the 3x3 input transform ``matrix`` (the image becomes ``img(T p)``)."""
        matrix = torch.as_tensor(matrix, dtype=torch.float32)
        if self.kind == "input":
            self.target.copy_(matrix.to(self.target.device))
        elif torch.equal(matrix.cpu(), torch.eye(3)):
            self.target.copy_(self.original)
        else:
            self.target.copy_(periodic_resample(self.original, matrix))

    @torch.no_grad()
    def restore(self) -> None:
        self.target.copy_(self.original)

    def __enter__(self) -> InputTransform:
        return self

    def __exit__(self, *exc) -> None:
        self.restore()


@contextlib.contextmanager
def input_transform(G: nn.Module, matrix) -> Iterator[nn.Module]:
    """``with input_transform(G, T): G.synthesis(...)`` renders with input transform ``T``."""
    with InputTransform(G) as transform:
        transform.set(matrix)
        yield G
