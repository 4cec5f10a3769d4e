"""Write pickles in the structure of NVIDIA's network snapshots, without NVIDIA's code.

A real snapshot stores each ``@persistent_class`` module as a call to
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with the module's source text,
class name and ``__dict__``. This writer emits the same globals and the same ``meta`` layout
from our networks (whose names equal the official ones), with a stand-in source that raises if
anyone ever executed it; the records and the pickler are the library's
(:mod:`stylegan.io.nvidia_pickle`). ``scripts/check_official_pickles.py`` compares this
structure with pickles written by the official code itself.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import torch
from torch import nn

from stylegan.io.nvidia_pickle import PersistentRecord, dump, easy, persistent_record

# Marker text only: the loader looks for "fused_modconv_default" to tell the stylegan3
# repository's StyleGAN2 module from stylegan2-ada-pytorch's; executing it would fail loudly.
STANDIN_SOURCE = {
    "stylegan3": "raise RuntimeError('stand-in for training/networks_stylegan2.py: "
    "fused_modconv_default; never executed')\n",
    "stylegan2-ada": "raise RuntimeError('stand-in for training/networks.py; never executed')\n",
    "augment": "raise RuntimeError('stand-in for training/augment.py; never executed')\n",
    "stylegan3-alias-free": "raise RuntimeError('stand-in for training/networks_stylegan3.py "
    "(class SynthesisInput); never executed')\n",
}


def persistent_module(
    module: nn.Module, module_src: str, init_kwargs: dict[str, Any] | None = None
) -> PersistentRecord:
    """A module tree as nested persistent objects with the ``nn.Module.__dict__`` layout (no
    plain attributes: the stand-in sources define no classes to read them from)."""
    return persistent_record(module, module_src, None, init_kwargs or {})


def augment_pipe(p: float, **init_kwargs: Any) -> PersistentRecord:
    """An AugmentPipe-shaped object with probability buffer ``p``."""
    state = {
        "training": False,
        "_parameters": collections.OrderedDict(),
        "_buffers": collections.OrderedDict(p=torch.tensor(p)),
        "_modules": collections.OrderedDict(),
        "_init_args": (),
        "_init_kwargs": easy(init_kwargs),
    }
    return PersistentRecord("AugmentPipe", state, STANDIN_SOURCE["augment"])


def write_snapshot(
    path: Path,
    networks: dict[str, tuple[nn.Module, dict[str, Any]]],
    repository: str = "stylegan3",
    sources: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    protocol: int = 4,
) -> Path:
    """Write ``{key: Persistent(net)}`` plus ``extra`` entries as an official-style snapshot.

    ``networks`` maps G / D / G_ema to ``(module, official init_kwargs)``; ``sources`` names
    another stand-in source per key (StyleGAN3 snapshots pair networks_stylegan3's G with
    networks_stylegan2's D).
    """
    data: dict[str, Any] = {}
    for key, value in (extra or {}).items():
        data[key] = easy(value) if isinstance(value, dict) else value
    for key, (module, kwargs) in networks.items():
        source = STANDIN_SOURCE[(sources or {}).get(key, repository)]
        data[key] = persistent_module(module, source, kwargs)
    dump(data, path, protocol=protocol)
    return path
