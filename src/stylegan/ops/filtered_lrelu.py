"""Filtered leaky ReLU (``filtered_lrelu``), StyleGAN3's alias-free activation, as NVIDIA has it.

For each channel: add the bias ``b``; upsample by ``up`` (zero insertion), pad (negative crops)
and convolve with ``fu`` (DC gain ``up**2``, so a constant stays a constant); leaky ReLU with
``slope``, times ``gain``; clamp to ``[-clamp, clamp]``; convolve with ``fd`` and keep every
``down``-th pixel. Filters are 1-D (separable) or 2-D, as :func:`upfirdn2d.setup_filter` makes
them; ``padding`` is relative to the upsampled image. Signature, argument conventions and output
shape follow the official ``torch_utils/ops/filtered_lrelu.py`` (its ``impl`` argument aside).

Two implementations give the same numbers (to rounding): without autograd on the CPU, blocks
of channels run through transposed and strided depthwise convolutions with the activation in
place, spread over a thread pool (:func:`_blocked_cpu`); otherwise (gradients needed, CUDA,
MPS, half precision, a 2-D ``fu``, tracing for ONNX export) the op is composed from
:func:`upfirdn2d.upfirdn2d` and element-wise ops, which autograd differentiates to any order
(:func:`_composed`).
:func:`filtered_lrelu_reference` is the literal textbook pipeline the tests compare both with.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from stylegan.ops import upfirdn2d as _U

Padding = int | Sequence[int]


def _check_filter(f: object, name: str) -> None:
    if f is None:
        return
    if not isinstance(f, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or None, got {type(f).__name__}")
    if f.ndim not in (1, 2) or f.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D or 2-D tensor, got {list(f.shape)}")
    if f.requires_grad:
        raise ValueError(f"gradients with respect to {name} are not supported")


def _filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    """``(fw, fh)``; 1-D filters are separable and have the same size along both axes."""
    if f is None:
        return 1, 1
    return int(f.shape[-1]), int(f.shape[0])


class _Call(NamedTuple):
    """One call's checked arguments, as every implementation takes them: ``pads`` is
    ``(x0, x1, y0, y1)`` relative to the upsampled image, the numbers are Python floats."""

    fu: torch.Tensor | None
    fd: torch.Tensor | None
    up: int
    down: int
    pads: tuple[int, int, int, int]
    gain: float
    slope: float
    clamp: float | None
    flip_filter: bool


def _parse(
    x: object,
    fu: torch.Tensor | None,
    fd: torch.Tensor | None,
    b: torch.Tensor | None,
    up: int,
    down: int,
    padding: Padding,
    gain: float,
    slope: float,
    clamp: float | None,
    flip_filter: bool,
) -> tuple[_Call, tuple[int, int]]:
    """Validate the arguments; return them checked and the output size ``(h, w)``."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a 4-D tensor [N, C, H, W], got {shape}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    _check_filter(fu, "fu")
    _check_filter(fd, "fd")
    if b is not None:
        if not isinstance(b, torch.Tensor) or b.ndim != 1 or b.shape[0] != x.shape[1]:
            shape = list(b.shape) if isinstance(b, torch.Tensor) else type(b).__name__
            raise ValueError(f"b must be a 1-D tensor of {x.shape[1]} elements, got {shape}")
        if b.dtype != x.dtype:
            raise TypeError(f"b must have x's dtype {x.dtype}, got {b.dtype}")
    for name, v in (("up", up), ("down", down)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        padding = [int(padding), int(padding)]
    if (
        not isinstance(padding, (list, tuple))
        or len(padding) not in (2, 4)
        or not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in padding)
    ):
        raise ValueError(f"padding must be an int, [x, y] or [x0, x1, y0, y1], got {padding!r}")
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        padding = [padding[0], padding[0], padding[1], padding[1]]
    px0, px1, py0, py1 = padding
    try:
        gain, slope = float(gain), float(slope)
        clamp = None if clamp is None else float(clamp)
    except (TypeError, ValueError):
        raise TypeError("gain, slope and clamp must be real numbers (clamp may be None)") from None
    if not gain > 0:
        raise ValueError(f"gain must be > 0, got {gain}")
    if not slope >= 0:
        raise ValueError(f"slope must be >= 0, got {slope}")
    if clamp is not None and not clamp >= 0:
        raise ValueError(f"clamp must be >= 0 or None, got {clamp}")
    fu_w, fu_h = _filter_size(fu)
    fd_w, fd_h = _filter_size(fd)
    _, _, in_h, in_w = x.shape
    mid_w = in_w * up + px0 + px1 - (fu_w - 1)
    mid_h = in_h * up + py0 + py1 - (fu_h - 1)
    if mid_w < fd_w or mid_h < fd_h:
        raise ValueError(
            f"the upsampled, padded, fu-filtered image ({max(mid_h, 0)}x{max(mid_w, 0)}) is "
            f"smaller than fd ({fd_h}x{fd_w}); use more padding or a larger input"
        )
    out_w = (mid_w - (fd_w - 1) + (down - 1)) // down
    out_h = (mid_h - (fd_h - 1) + (down - 1)) // down
    call = _Call(fu, fd, up, down, (px0, px1, py0, py1), gain, slope, clamp, flip_filter)
    return call, (out_h, out_w)


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    gain: float = np.sqrt(2),
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool = False,
) -> torch.Tensor:
    """Bias, upsample + ``fu``, leaky ReLU * ``gain``, clamp, ``fd`` + downsample, per channel.

    ``x``: ``[N, C, H, W]`` float tensor; ``fu``, ``fd``: float32 FIR filters, ``[taps]``
    (separable) or ``[fh, fw]`` or ``None`` (identity); ``b``: ``[C]`` bias of ``x``'s dtype or
    ``None``; ``up``, ``down``: integer factors; ``padding``: int, ``[x, y]`` or
    ``[x0, x1, y0, y1]`` relative to the upsampled image; ``clamp``: ``None`` or the largest
    magnitude after the activation; ``flip_filter``: ``False`` = convolution, ``True`` =
    correlation. The output is ``[N, C, (H*up + px0 + px1 - fu_w + 1 - fd_w + down) // down,
    ...]`` (likewise for the height). Differentiable in ``x`` and ``b``.
    """
    call, out_hw = _parse(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter)
    needs_grad = torch.is_grad_enabled() and (
        x.requires_grad or (b is not None and b.requires_grad)
    )
    tracing = torch.compiler.is_compiling()  # torch.export / ONNX: no threads, no in-place
    if (
        not needs_grad
        and not tracing
        and x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and _blocked_supported(fu, up)
    ):
        # Detached: the worker threads do not inherit this thread's no_grad mode.
        y = _blocked_cpu(x.detach(), None if b is None else b.detach(), call)
    else:
        y = _composed(x, b, call, inplace=not (needs_grad or tracing))
    assert tuple(y.shape[2:]) == out_hw
    return y


def _composed(x: torch.Tensor, b: torch.Tensor | None, call: _Call, inplace: bool) -> torch.Tensor:
    """The op from :func:`upfirdn2d.upfirdn2d` and element-wise ops; autograd to any order.

    ``upfirdn2d`` never multiplies inserted zeros (strided transposed convolution) nor computes
    dropped outputs (strided convolution). The activation gain is folded into ``fd``'s taps:
    ``clamp(gain * lrelu(y), c) == gain * clamp(lrelu(y), c / gain)``; with ``inplace`` the
    activation overwrites the upsampled temporary.
    """
    fu, fd, up, down, pads, gain, slope, clamp, flip_filter = call
    y = x if b is None else x + b.reshape(1, -1, 1, 1).to(x.dtype)
    y = _U.upfirdn2d(y, fu, up=up, padding=list(pads), gain=up**2, flip_filter=flip_filter)
    y = _activation(y, slope, None if clamp is None else clamp / gain, inplace)
    if fd is not None:  # scale the taps in the wider of the two dtypes (float64 stays exact)
        fd = fd.to(torch.promote_types(fd.dtype, x.dtype))
    return _U.upfirdn2d(y, fd, down=down, flip_filter=flip_filter, gain=gain)


def _activation(y: torch.Tensor, slope: float, clamp: float | None, inplace: bool) -> torch.Tensor:
    """``clamp(lrelu(y, slope), -clamp, clamp)`` (no gain), in place when ``inplace``.

    Clamping first is the same function and lets a zero slope or a linear unit (slope 1, the
    ToRGB layer) take a single pass: lrelu(clamp(y, -c / slope, c)) == clamp(lrelu(y), -c, c).
    """
    if clamp is None:
        if slope == 1:
            return y if inplace else y.clone()
        return F.leaky_relu_(y, slope) if inplace else F.leaky_relu(y, slope)
    if slope == 0:
        return y.clamp_(0, clamp) if inplace else y.clamp(0, clamp)
    lo = -clamp / slope
    if slope == 1:
        return y.clamp_(lo, clamp) if inplace else y.clamp(lo, clamp)
    if inplace:
        return F.leaky_relu_(y.clamp_(lo, clamp), slope)
    return F.leaky_relu(y.clamp(lo, clamp), slope)


# On the CPU the no-grad path runs the op on blocks of channels whose upsampled intermediate
# stays below this size: no halo to recompute (channels are independent), every temporary is
# reused from the heap instead of being mapped and page-faulted anew (glibc mmaps blocks above
# 32 MiB), and the intermediate is still in cache when the activation and fd read it.
_BLOCK_BYTES = 4 << 20
_BLOCK_ALIGN = 16  # channels per convolution at least: the widest SIMD vector (AVX-512, fp32)


# --------------------------------------------------------------------------------------------
# CPU path without autograd: the same arithmetic as `_composed`, one block of channels at a time.
#
# Along each axis (``n`` samples, factor ``U``, ``fu`` of ``K`` taps, padding ``p0``/``p1``) the
# upsampled, fu-filtered ("mid") signal is mid[m] = full[m + K - 1 - p0], where ``full`` is the
# full convolution of the zero-stuffed input with fu. A transposed convolution with stride U
# computes ``full`` without forming products with inserted zeros, and its symmetric
# ``padding=t`` drops t samples at both ends, so t = K - 1 - p0 starts it at mid[0]. The input
# copy that adds the bias also prepends/appends zeros where the padding needs more samples than
# that; a longer tail than needed is computed and then dropped by the final copy into ``out``.
# fd then runs as a strided convolution, so dropped outputs are never computed. The batch is
# folded into the channels (every step is per channel), so each block is one image of
# ``n * block`` channels in channels_last layout, the layout the depthwise kernels of oneDNN
# vectorise over.
# --------------------------------------------------------------------------------------------


class _AxisPlan:
    """Margins and transposed-convolution padding for upsampling one axis."""

    def __init__(self, n: int, up: int, p0: int, p1: int, k: int) -> None:
        self.mid = n * up + p0 + p1 - k + 1
        off = k - 1 - p0  # mid[0] == full[off]
        self.lead = max(0, -(off // up))  # zeros to prepend so that the crop is >= 0
        self.crop = off + up * self.lead
        full = (n + self.lead - 1) * up + k  # samples in `full`
        short = self.mid + 2 * self.crop - full  # missing at the end, if > 0
        self.trail = max(0, -(-short // up))
        self.length = n + self.lead + self.trail  # input samples after the margins
        self.out = (self.length - 1) * up + k - 2 * self.crop  # >= self.mid


def _blocked_supported(fu: torch.Tensor | None, up: int) -> bool:
    return (fu is not None and fu.ndim == 1) or (fu is None and up == 1)


def _blocked_cpu(x: torch.Tensor, b: torch.Tensor | None, call: _Call) -> torch.Tensor:
    """No-grad CPU path; needs a separable ``fu`` (or none with ``up == 1``)."""
    fu, fd, up, down, pads, gain, slope, clamp, flip_filter = call
    n, c, h, w = x.shape
    dt = x.dtype
    k = 1 if fu is None else int(fu.shape[0])
    ax = _AxisPlan(w, up, pads[0], pads[1], k)
    ay = _AxisPlan(h, up, pads[2], pads[3], k)
    fd_w, fd_h = _filter_size(fd)
    out_h = (ay.mid - fd_h) // down + 1
    out_w = (ax.mid - fd_w) // down + 1
    out = torch.empty([n, c, out_h, out_w], dtype=dt, memory_format=torch.channels_last)

    # Channels per block: n * block channels of the mid image fill about _BLOCK_BYTES.
    per_channel = n * ay.out * ax.out * x.element_size()
    block = max(1, _BLOCK_BYTES // per_channel)
    if block > _BLOCK_ALIGN:
        block = block // _BLOCK_ALIGN * _BLOCK_ALIGN
    threads = torch.get_num_threads()
    if threads > 1:  # at least two blocks per thread, so that the threads finish together
        balanced = -(-c // (2 * threads))
        block = min(block, -(-balanced // _BLOCK_ALIGN) * _BLOCK_ALIGN)
    block = min(max(block, -(-_BLOCK_ALIGN // n)), c)  # at least 16 channels per convolution
    ch = n * block

    # Correlation kernels, one per channel of a full block (the last block takes a prefix).
    # The official op convolves unless flip_filter; torch convolutions correlate, and
    # conv_transpose2d with kernel f computes the full convolution with f.
    def depthwise(taps: torch.Tensor, shape: list[int]) -> torch.Tensor:
        return taps.to(dt).reshape([1, 1, *shape]).expand([ch, 1, *shape]).contiguous()

    f64 = torch.float64
    ku = None
    if fu is not None:
        fu64 = fu.to(f64).flip(0) if flip_filter else fu.to(f64)
        fu64 = fu64 * up  # gain up**2 over both axes
        ku = (depthwise(fu64, [1, k]), depthwise(fu64, [k, 1]))
    kd = None
    if fd is not None:
        fd64 = fd.to(f64)
        fd64 = fd64 if flip_filter else fd64.flip(list(range(fd.ndim)))  # to correlation
        if fd.ndim == 1:
            kd = (depthwise(fd64 * gain, [fd_h, 1]), depthwise(fd64, [1, fd_w]))
        else:
            kd = (depthwise(fd64 * gain, [fd_h, fd_w]),)
    thr = None if clamp is None else clamp / gain

    def run(c0: int) -> None:
        cb = min(block, c - c0)
        m = n * cb
        # 1. Bias, margins, batch folded into channels: memory [rows, cols, n, cb]. From an
        # NCHW input this copy is also the transposition, done per block: 2x faster than a
        # whole-tensor one, whose result would not stay in cache.
        buf = x.new_empty([ay.length, ax.length, n, cb])
        rows = slice(ay.lead, ay.lead + min(h, ay.length - ay.lead))
        cols = slice(ax.lead, ax.lead + min(w, ax.length - ax.lead))
        _zero_margins(buf, rows, cols)
        dst = buf[rows, cols].permute(2, 3, 0, 1)
        src = x[:, c0 : c0 + cb, : dst.shape[2], : dst.shape[3]]
        if b is None:
            dst.copy_(src)
        else:
            torch.add(src, b[c0 : c0 + cb].view(1, -1, 1, 1), out=dst)
        t = buf.view(1, ay.length, ax.length, m).permute(0, 3, 1, 2)
        # 2. Upsample and fu, along x then y.
        if ku is not None:
            t = F.conv_transpose2d(t, ku[0][:m], stride=(1, up), padding=(0, ax.crop), groups=m)
            t = F.conv_transpose2d(t, ku[1][:m], stride=(up, 1), padding=(ay.crop, 0), groups=m)
        elif ax.crop or ay.crop:  # no filter, up == 1: the margins were the padding
            t = t[:, :, ay.crop :, ax.crop :]
        # 3. Leaky ReLU and clamp, in place (the gain is folded into fd).
        t = _activation(t, slope, thr, inplace=True)
        # 4. fd and downsampling, along y then x.
        if kd is None:
            t = t[:, :, ::down, ::down] * gain
        elif len(kd) == 1:
            t = F.conv2d(t, kd[0][:m], stride=down, groups=m)
        else:
            t = F.conv2d(t, kd[0][:m], stride=(down, 1), groups=m)
            t = F.conv2d(t, kd[1][:m], stride=(1, down), groups=m)
        # 5. Into the output, unfolding the batch and dropping any surplus at the ends.
        res = t[0, :, :out_h, :out_w].unflatten(0, (n, cb))
        out[:, c0 : c0 + cb].copy_(res)

    starts = range(0, c, block)
    if threads > 1 and len(starts) > 1:
        _run_parallel(run, starts, threads)
    else:
        for c0 in starts:
            run(c0)
    return out


# Blocks are spread over threads, each running its ops single-threaded, instead of every op
# splitting its small block over all threads: one synchronisation per call instead of one per
# op and block. That matters on a busy machine, where a parallel region waits for whichever
# of its threads the scheduler has parked (milliseconds, hundreds of times per layer); blocks
# are handed out one at a time, so a parked worker delays only its own block.
_pool: ThreadPoolExecutor | None = None
_pool_threads: tuple[int, int] = (0, 0)  # (threads, process id)
_pool_lock = threading.Lock()


def _single_threaded_worker() -> None:
    torch.set_num_threads(1)  # this thread's OpenMP setting (oneDNN follows it)


def _run_parallel(fn: Callable[[int], None], items: Sequence[int], threads: int) -> None:
    global _pool, _pool_threads
    with _pool_lock:
        # A forked child inherits the pool object but not its threads: make a new one there.
        if _pool is None or _pool_threads != (threads, os.getpid()):
            if _pool is not None and _pool_threads[1] == os.getpid():
                _pool.shutdown(wait=True)
            _pool = ThreadPoolExecutor(threads, initializer=_single_threaded_worker)
            _pool_threads = (threads, os.getpid())
            # torch.set_num_threads also sets process-wide counts (MKL's, torch's default for
            # new threads): start every worker now (the barrier keeps each task busy until all
            # threads exist) and then put the caller's setting back.
            barrier = threading.Barrier(threads)
            list(_pool.map(lambda _: barrier.wait(), range(threads)))
            torch.set_num_threads(threads)
        pool = _pool
    for f in [pool.submit(fn, item) for item in items]:
        f.result()


def _zero_margins(buf: torch.Tensor, rows: slice, cols: slice) -> None:
    """Zero ``buf[rows, cols]``'s complement in the first two dimensions."""
    for part in (
        buf[: rows.start],
        buf[rows.stop :],
        buf[rows, : cols.start],
        buf[rows, cols.stop :],
    ):
        if part.numel():
            part.zero_()


def filtered_lrelu_reference(
    x: torch.Tensor,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    gain: float = np.sqrt(2),
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool = False,
) -> torch.Tensor:
    """Slow, literal version of :func:`filtered_lrelu` for tests, one textbook step at a time.

    Zero-stuff, pad, full 2-D convolution with ``fu`` (as a sum of shifted copies), activation,
    full 2-D convolution with ``fd``, subsample. Separable filters act as their outer product.
    """
    call, _ = _parse(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter)
    px0, px1, py0, py1 = call.pads
    gain, slope, clamp = call.gain, call.slope, call.clamp

    def as_2d(f: torch.Tensor | None, scale: float) -> torch.Tensor:
        if f is None:
            f = torch.ones([1, 1])
        f = f.to(dtype=x.dtype, device=x.device)
        if f.ndim == 1:
            f = torch.outer(f, f)
        if flip_filter:
            f = f.flip([0, 1])  # correlation == convolution with the flipped filter
        return f * scale

    n, c, h, w = x.shape
    # 1. Bias.
    if b is not None:
        x = x + b.reshape(1, c, 1, 1)
    # 2. Insert up-1 zeros after every pixel.
    stuffed = x.new_zeros([n, c, h * up, w * up])
    stuffed[:, :, ::up, ::up] = x
    # 3. Pad with zeros; negative padding crops.
    padded = F.pad(stuffed, [px0, px1, py0, py1])
    # 4. Convolve with fu, scaled by up**2 to keep the DC gain of the zero-stuffed image at 1.
    y = _U.convolve_valid_reference(padded, as_2d(fu, up**2))
    # 5.-7. Leaky ReLU, gain, clamp.
    y = torch.where(y >= 0, y, y * slope) * gain
    if clamp is not None:
        y = torch.minimum(torch.maximum(y, torch.full_like(y, -clamp)), torch.full_like(y, clamp))
    # 8. Convolve with fd.
    y = _U.convolve_valid_reference(y, as_2d(fd, 1.0))
    # 9. Keep every down-th pixel.
    return y[:, :, ::down, ::down]


__all__ = ["filtered_lrelu", "filtered_lrelu_reference"]
