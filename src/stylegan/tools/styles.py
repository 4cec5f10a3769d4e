"""Style space S: the affine outputs of every synthesis layer, read and edited in place.

Every StyleGAN (1, 2 and 3) turns each layer's w into per-channel styles with a module named
``affine``; StyleSpace (Wu et al. 2021) edits those outputs directly. :func:`style_layers`
lists them in synthesis order with the index of the w each one reads (found by running the
network once, so it works for any architecture), :func:`compute_styles` records them, and
:func:`style_offsets` adds offsets to them while a generator runs.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class StyleLayer:
    """One style-producing affine layer of a synthesis network."""

    name: str  # module path, e.g. "synthesis.b8.conv0.affine"
    module: nn.Module
    channels: int  # its number of style channels (affine outputs)
    w_index: int  # which of the num_ws ws it reads
    offset: int  # where its channels start in the concatenated style vector


_CACHE: weakref.WeakKeyDictionary[nn.Module, list[StyleLayer]] = weakref.WeakKeyDictionary()


def _affine_modules(G: nn.Module) -> list[tuple[str, nn.Module]]:
    return [
        (name, module)
        for name, module in G.named_modules()
        if name.split(".")[-1] == "affine" and name.startswith("synthesis.")
    ]


def style_layers(G: nn.Module) -> list[StyleLayer]:
    """The style layers of ``G`` in the order synthesis calls them (cached on ``G``)."""
    if G in _CACHE:
        return _CACHE[G]
    modules = dict(_affine_modules(G))
    num_ws, w_dim = int(G.num_ws), int(G.w_dim)
    # Each w row is a distinct constant, so the input an affine receives names its w index.
    ws = torch.arange(num_ws, dtype=torch.float32).view(1, num_ws, 1).expand(1, num_ws, w_dim)
    seen: list[tuple[str, int, int]] = []

    def record(name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            value = float(inputs[0].reshape(-1)[0])
            seen.append((name, round(value), int(output.shape[-1])))

        return hook

    handles = [m.register_forward_hook(record(n)) for n, m in modules.items()]
    try:
        with torch.no_grad():
            device = next(G.parameters()).device
            G.synthesis(ws.to(device), noise_mode="const")
    finally:
        for handle in handles:
            handle.remove()
    layers, offset, done = [], 0, set()
    for name, w_index, channels in seen:
        if name in done:  # a module called twice keeps its first place
            continue
        done.add(name)
        layers.append(StyleLayer(name, modules[name], channels, w_index, offset))
        offset += channels
    _CACHE[G] = layers
    return layers


def compute_styles(G: nn.Module, ws: torch.Tensor) -> torch.Tensor:
    """The style vectors ``[N, total channels]`` that ``G.synthesis(ws)`` uses."""
    with torch.no_grad():  # the affine layers alone: no need to run the convolutions
        return torch.cat([la.module(ws[:, la.w_index]) for la in style_layers(G)], dim=1)


@contextmanager
def style_offsets(G: nn.Module, offsets: torch.Tensor) -> Iterator[None]:
    """While active, every style layer's output gets its slice of ``offsets`` added.

    ``offsets`` is ``[total channels]`` (the same for every image) or ``[N, total channels]``.
    """
    layers = style_layers(G)
    total = sum(layer.channels for layer in layers)
    if offsets.shape[-1] != total:
        raise ValueError(f"style offsets have {offsets.shape[-1]} channels, the network {total}")

    def add(layer: StyleLayer):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
            part = offsets[..., layer.offset : layer.offset + layer.channels]
            return output + part.to(output.device, output.dtype)

        return hook

    handles = [layer.module.register_forward_hook(add(layer)) for layer in layers]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def channel_slices(G: nn.Module) -> Sequence[tuple[str, slice]]:
    """(layer name, its slice of the concatenated style vector), for naming channels."""
    return [(la.name, slice(la.offset, la.offset + la.channels)) for la in style_layers(G)]


def channel_name(G: nn.Module, index: int) -> str:
    """A readable name for style channel ``index``: ``"b16.conv0:37"`` (layer path without
    ``synthesis.`` and ``.affine``, then the channel within that layer)."""
    for layer in style_layers(G):
        if layer.offset <= index < layer.offset + layer.channels:
            path = layer.name.removeprefix("synthesis.").removesuffix(".affine")
            return f"{path}:{index - layer.offset}"
    raise IndexError(f"style channel {index} out of range")
