"""Write pickles in the structure of NVIDIA's network snapshots, without NVIDIA's code.

A real snapshot stores each ``@persistent_class`` module as a call to
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with the module's source text,
class name and ``__dict__``. This writer emits the same globals and the same ``meta`` layout
from our networks (whose names equal the official ones), with a stand-in source that raises if
anyone ever executed it. ``scripts/check_official_pickles.py`` compares this structure with
pickles written by the official code itself.
"""

from __future__ import annotations

import collections
import contextlib
import pickle
import sys
import types
from pathlib import Path
from typing import Any

import torch
from torch import nn

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


class EasyDict(dict):
    """Pickles as ``dnnlib.util.EasyDict``."""


EasyDict.__module__ = "dnnlib.util"


def _reconstruct_persistent_obj(meta):  # pragma: no cover - never called, only named
    raise RuntimeError("the writer's stand-in must never be called")


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"


class Persistent:
    """Pickles as a persistent object of class ``class_name`` with ``state``."""

    def __init__(self, class_name: str, state: dict[str, Any], module_src: str):
        self.meta = {
            "type": "class",
            "version": 6,
            "module_src": module_src,
            "class_name": class_name,
            "state": state,
        }

    def __reduce__(self):
        return (_reconstruct_persistent_obj, (self.meta,))


@contextlib.contextmanager
def _official_module_names():
    """Make pickle find our stand-ins under the official module names while dumping."""
    names = {
        "torch_utils": types.ModuleType("torch_utils"),
        "torch_utils.persistence": types.ModuleType("torch_utils.persistence"),
        "dnnlib": types.ModuleType("dnnlib"),
        "dnnlib.util": types.ModuleType("dnnlib.util"),
    }
    names["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj
    names["torch_utils"].persistence = names["torch_utils.persistence"]
    names["dnnlib.util"].EasyDict = EasyDict
    names["dnnlib"].util = names["dnnlib.util"]
    saved = {k: sys.modules.get(k) for k in names}
    sys.modules.update(names)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = old


def easy(value: Any) -> Any:
    """Nested dicts as EasyDicts, as the official training scripts pass kwargs."""
    if isinstance(value, dict):
        return EasyDict({k: easy(v) for k, v in value.items()})
    return value


def persistent_module(
    module: nn.Module, module_src: str, init_kwargs: dict[str, Any] | None = None
) -> Persistent:
    """A module tree as nested persistent objects, with the ``nn.Module.__dict__`` layout."""
    state: dict[str, Any] = {
        "training": False,
        "_parameters": collections.OrderedDict(
            (k, None if v is None else nn.Parameter(v.detach().clone(), requires_grad=False))
            for k, v in module._parameters.items()
        ),
        "_buffers": collections.OrderedDict(
            (k, None if v is None else v.detach().clone()) for k, v in module._buffers.items()
        ),
        "_non_persistent_buffers_set": set(module._non_persistent_buffers_set),
        "_backward_pre_hooks": collections.OrderedDict(),
        "_backward_hooks": collections.OrderedDict(),
        "_forward_hooks": collections.OrderedDict(),
        "_forward_pre_hooks": collections.OrderedDict(),
        "_state_dict_hooks": collections.OrderedDict(),
        "_load_state_dict_pre_hooks": collections.OrderedDict(),
        "_modules": collections.OrderedDict(
            (k, persistent_module(v, module_src)) for k, v in module._modules.items()
        ),
        "_init_args": (),
        "_init_kwargs": easy(init_kwargs or {}),
    }
    return Persistent(type(module).__name__, state, module_src)


def augment_pipe(p: float, **init_kwargs: Any) -> Persistent:
    """An AugmentPipe-shaped object with probability buffer ``p``."""
    state = {
        "training": False,
        "_parameters": collections.OrderedDict(),
        "_buffers": collections.OrderedDict(p=torch.tensor(p)),
        "_modules": collections.OrderedDict(),
        "_init_args": (),
        "_init_kwargs": easy(init_kwargs),
    }
    return Persistent("AugmentPipe", state, STANDIN_SOURCE["augment"])


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
    with _official_module_names(), open(path, "wb") as f:
        pickle.dump(data, f, protocol=protocol)
    return path
