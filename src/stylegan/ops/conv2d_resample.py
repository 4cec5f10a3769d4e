"""2-D convolution fused with FIR up/downsampling, with NVIDIA's exact semantics.

Padding is applied once, relative to the upsampled image, and the filter ``f`` comes from
:func:`stylegan.ops.upfirdn2d.setup_filter`. The route per case is the official one (downsample
then 1x1 conv, filter then strided conv, strided transposed conv then filter for ``up > 1``,
plain conv otherwise), so results agree with the official op to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from stylegan.ops import upfirdn2d
from stylegan.ops.upfirdn2d import Padding, _check_filter, _parse_padding, widened_padding


def _conv(
    x: torch.Tensor,
    w: torch.Tensor,
    stride: int = 1,
    padding: int | list[int] = 0,
    groups: int = 1,
    transpose: bool = False,
    flip_weight: bool = True,
) -> torch.Tensor:
    """Plain or transposed conv; ``flip_weight=False`` makes it a true convolution."""
    _, _, kh, kw = w.shape
    if not flip_weight and (kw > 1 or kh > 1):
        w = w.flip([2, 3])
    x = upfirdn2d.fast_layout(x)
    if transpose:
        return F.conv_transpose2d(x, w, stride=stride, padding=padding, groups=groups)
    return F.conv2d(x, w, stride=stride, padding=padding, groups=groups)


def _check(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None,
    up: int,
    down: int,
    groups: int,
) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError("x must be a 4-D tensor [N, C, H, W]")
    if not isinstance(w, torch.Tensor) or w.ndim != 4:
        raise ValueError("w must be a 4-D tensor [out_channels, in_channels // groups, kh, kw]")
    if w.dtype != x.dtype:
        raise ValueError(f"w has dtype {w.dtype} but x has {x.dtype}; cast one of them")
    if f is not None and (not isinstance(f, torch.Tensor) or f.ndim not in (1, 2)):
        raise ValueError("f must be None or a 1-D/2-D tensor from upfirdn2d.setup_filter()")
    for name, value in (("up", up), ("down", down), ("groups", groups)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if x.shape[1] != w.shape[1] * groups or w.shape[0] % groups != 0:
        raise ValueError(
            f"channel mismatch: x has {x.shape[1]} channels, w is {list(w.shape)} "
            f"with groups={groups}"
        )


def _resample_padding(
    f: torch.Tensor | None, up: int, down: int, padding: Padding
) -> tuple[int, int, int, int]:
    """Padding relative to the upsampled image, widened so the output is exactly up/down: for
    the upsampling, then for the downsampling (each as ``upsample2d`` / ``downsample2d``)."""
    if f is not None:
        _check_filter(f)  # even where no resampling applies it
    pads = _parse_padding(padding)
    if up > 1:
        pads = widened_padding(pads, f, up=up)
    if down > 1:
        pads = widened_padding(pads, f, down=down)
    return pads[0], pads[1], pads[2], pads[3]


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    groups: int = 1,
    flip_weight: bool = True,
    flip_filter: bool = False,
) -> torch.Tensor:
    """Convolve ``x`` with ``w`` while upsampling by ``up`` and/or downsampling by ``down``.

    ``flip_weight=True`` is correlation (as ``torch.nn.functional.conv2d``), ``False`` true
    convolution; ``f`` is the low-pass filter for resampling (``None`` = identity).
    """
    _check(x, w, f, up, down, groups)
    out_channels, in_channels_per_group, kh, kw = w.shape
    px0, px1, py0, py1 = _resample_padding(f, up, down, padding)

    # 1x1 kernel, downsampling only: shrink the image first, then the cheap conv.
    if kw == 1 and kh == 1 and down > 1 and up == 1:
        x = upfirdn2d.upfirdn2d(
            x, f, down=down, padding=[px0, px1, py0, py1], flip_filter=flip_filter
        )
        return _conv(x, w, groups=groups, flip_weight=flip_weight)

    # 1x1 kernel, upsampling only: convolve at low resolution, then upsample.
    if kw == 1 and kh == 1 and up > 1 and down == 1:
        x = _conv(x, w, groups=groups, flip_weight=flip_weight)
        return upfirdn2d.upfirdn2d(
            x, f, up=up, padding=[px0, px1, py0, py1], gain=up**2, flip_filter=flip_filter
        )

    # Downsampling only: filter at full resolution, then a strided conv.
    if down > 1 and up == 1:
        x = upfirdn2d.upfirdn2d(x, f, padding=[px0, px1, py0, py1], flip_filter=flip_filter)
        return _conv(x, w, stride=down, groups=groups, flip_weight=flip_weight)

    # Upsampling (maybe with downsampling): a strided transposed conv inserts the zeros for
    # free, then the filter smooths. The transposed conv wants [in, out // groups, kh, kw].
    if up > 1:
        if groups == 1:
            w = w.transpose(0, 1)
        else:
            w = w.reshape(groups, out_channels // groups, in_channels_per_group, kh, kw)
            w = w.transpose(1, 2)
            w = w.reshape(groups * in_channels_per_group, out_channels // groups, kh, kw)
        px0 -= kw - 1
        px1 -= kw - up
        py0 -= kh - 1
        py1 -= kh - up
        pxt = max(min(-px0, -px1), 0)
        pyt = max(min(-py0, -py1), 0)
        # A transposed conv already convolves, so correlation needs the flip and vice versa.
        x = _conv(
            x,
            w,
            stride=up,
            padding=[pyt, pxt],
            groups=groups,
            transpose=True,
            flip_weight=not flip_weight,
        )
        x = upfirdn2d.upfirdn2d(
            x,
            f,
            padding=[px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt],
            gain=up**2,
            flip_filter=flip_filter,
        )
        if down > 1:
            x = upfirdn2d.upfirdn2d(x, f, down=down, flip_filter=flip_filter)
        return x

    # No resampling and symmetric non-negative padding: torch's conv does it all.
    if up == 1 and down == 1 and px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:
        return _conv(x, w, padding=[py0, px0], groups=groups, flip_weight=flip_weight)

    # Anything else (asymmetric or negative padding without resampling): the generic route.
    return _generic(
        upfirdn2d.upfirdn2d, x, w, f, up, down, (px0, px1, py0, py1), groups, flip_weight,
        flip_filter,
    )  # fmt: skip


def _generic(
    resample: Callable[..., torch.Tensor],
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None,
    up: int,
    down: int,
    pads: tuple[int, int, int, int],
    groups: int,
    flip_weight: bool,
    flip_filter: bool,
) -> torch.Tensor:
    """Upsample (zero insertion + filter), plain conv, then filter and subsample."""
    x = resample(x, f if up > 1 else None, up=up, padding=list(pads), gain=up**2,
                 flip_filter=flip_filter)  # fmt: skip
    x = _conv(x, w, groups=groups, flip_weight=flip_weight)
    if down > 1:
        x = resample(x, f, down=down, flip_filter=flip_filter)
    return x


def conv2d_resample_reference(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    groups: int = 1,
    flip_weight: bool = True,
    flip_filter: bool = False,
) -> torch.Tensor:
    """Slow, literal version of :func:`conv2d_resample` for tests.

    Zero-insert and filter with :func:`upfirdn2d.upfirdn2d_reference`, apply a plain conv, then
    filter and subsample; the filter and the conv commute, so this equals every fast route.
    """
    _check(x, w, f, up, down, groups)
    pads = _resample_padding(f, up, down, padding)
    return _generic(
        upfirdn2d.upfirdn2d_reference, x, w, f, up, down, pads, groups, flip_weight, flip_filter
    )
