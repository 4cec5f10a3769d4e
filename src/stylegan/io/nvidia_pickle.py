"""Write NVIDIA's network snapshot pickles, the files their ``legacy.load_network_pkl`` reads.

A snapshot is a pickled dict ``{training_set_kwargs, G, D, G_ema, augment_pipe}``. Each network
object in it is a call ``torch_utils.persistence._reconstruct_persistent_obj(meta)``, ``meta``
being ``dict(type='class', version=6, module_src=<the Python source of the module that defines
the class>, class_name=..., state=<the module's __dict__>)``; their loader executes
``module_src``, makes an instance of ``class_name`` without calling ``__init__`` and sets its
``__dict__`` to ``state``. So the state must hold every attribute their ``__init__`` sets.

We never import or run their code: the source is read as text from the user's checkout and
embedded, the attribute names their constructors set are read from it with :mod:`ast`, and
their values come from our modules (whose attribute and tensor names equal theirs). The pickle
is written by our own pickler, which emits the global references ``torch_utils.persistence.
_reconstruct_persistent_obj`` and ``dnnlib.util.EasyDict`` by name; tensors pickle themselves
the way ``pickle.dump`` of a torch tensor always has (``torch._utils._rebuild_tensor_v2`` over a
legacy-format storage), which is what their snapshots hold and :mod:`stylegan.io.safe_pickle`
reads back.
"""

from __future__ import annotations

import ast
import collections
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.io.safe_pickle import PERSISTENCE_VERSION

PICKLE_PROTOCOL = 4  # pickle.dump's default on the Pythons their code targets (3.7-3.9)
NETWORKS = ("G", "D", "G_ema")  # legacy.load_network_pkl asserts all three are modules
# The module that defines each of our network families in each official checkout.
SOURCE_FILES = {
    "stylegan3": {
        "stylegan2": "training/networks_stylegan2.py",
        "stylegan3": "training/networks_stylegan3.py",
    },
    "stylegan2-ada": {"stylegan2": "training/networks.py"},
}
# The empty hook dicts an nn.Module has; older torch versions expect them in the state.
_HOOK_DICTS = (
    "_backward_pre_hooks",
    "_backward_hooks",
    "_forward_hooks",
    "_forward_pre_hooks",
    "_state_dict_hooks",
    "_load_state_dict_pre_hooks",
)
_PLAIN = (bool, int, float, str, type(None), np.ndarray, np.generic, torch.Tensor)


def _official_only(module: nn.Module, name: str) -> Any:
    """Attributes their constructors set that ours have no use for, with the values theirs get."""
    if name == "channels_last":
        # use_fp16 and fp16_channels_last: a memory format only (same numbers); our blocks run
        # in contiguous format, and the official default is False.
        return False
    raise KeyError(name)


# ---- the pickler ------------------------------------------------------------------------------


class OfficialGlobal:
    """A global of NVIDIA's code, pickled by name without importing it."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # pickle wants reducers callable
        raise RuntimeError(f"{self.module}.{self.name} is only a name to pickle")


RECONSTRUCT = OfficialGlobal("torch_utils.persistence", "_reconstruct_persistent_obj")
EASY_DICT = OfficialGlobal("dnnlib.util", "EasyDict")


class EasyDict(dict):
    """Pickles as ``dnnlib.util.EasyDict``, as their training scripts pass kwargs."""

    def __reduce__(self):
        return (EASY_DICT, (), None, None, iter(self.items()))


class PersistentRecord:
    """Pickles as one ``@persistent_class`` object: ``_reconstruct_persistent_obj(meta)``."""

    def __init__(self, class_name: str, state: dict[str, Any], module_src: str):
        self.meta = {
            "type": "class",
            "version": PERSISTENCE_VERSION,
            "module_src": module_src,
            "class_name": class_name,
            "state": state,
        }

    def __reduce__(self):
        return (RECONSTRUCT, (self.meta,))


class SnapshotPickler(pickle._Pickler):
    """The pure-Python pickler, writing :class:`OfficialGlobal` references as plain globals.

    The C pickler insists on importing every global it writes; theirs cannot be imported here.
    """

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        if not isinstance(obj, OfficialGlobal):
            super().save(obj, save_persistent_id)
            return
        self.framer.commit_frame()
        memo = self.memo.get(id(obj))
        if memo is not None:
            self.write(self.get(memo[0]))
            return
        if self.proto >= 4:
            self.save(obj.module)
            self.save(obj.name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)


def dump(obj: Any, file: str | Path | BinaryIO, protocol: int = PICKLE_PROTOCOL) -> None:
    """``pickle.dump`` with :class:`SnapshotPickler` (to a path or an open binary file)."""
    if isinstance(file, (str, Path)):
        with open(file, "wb") as f:
            dump(obj, f, protocol)
        return
    SnapshotPickler(file, protocol).dump(obj)


def easy(value: Any, _done: dict[int, Any] | None = None) -> Any:
    """Nested dicts as :class:`EasyDict` (how the official scripts hold ``init_kwargs``).

    Each object is converted once (by identity), so shared references stay shared and a
    structure that repeats one list many times costs its size, not the size of its expansion.
    """
    done = {} if _done is None else _done
    if id(value) in done:
        return done[id(value)]
    if isinstance(value, Mapping):
        out = done[id(value)] = EasyDict()
        out.update({k: easy(v, done) for k, v in value.items()})
        return out
    if isinstance(value, list):
        out = done[id(value)] = []
        out.extend(easy(v, done) for v in value)
        return out
    if isinstance(value, tuple):
        out = done[id(value)] = tuple(easy(v, done) for v in value)
        return out
    return value


# ---- module states ----------------------------------------------------------------------------


def constructor_attributes(module_src: str) -> dict[str, dict[str, str]]:
    """Per class of ``module_src``: each ``self.NAME`` its ``__init__`` assigns, marked
    ``required`` (a plain statement), ``optional`` (``Layer(...) if c_dim > 0 else None``: None
    where ours has none) or ``conditional`` (inside ``if``/``for``: where ours has it too)."""
    try:
        tree = ast.parse(module_src)
    except SyntaxError as err:
        raise StyleGANError(f"the official module source does not parse ({err.msg})") from None
    out: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        names: dict[str, str] = {}
        for fn in node.body:
            if isinstance(fn, ast.FunctionDef) and fn.name == "__init__":
                _self_attributes(fn.body, names, nested=False)
        out[node.name] = names
    return out


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _self_attributes(body: list[ast.stmt], names: dict[str, str], nested: bool) -> None:
    for stmt in body:
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            for field in ("body", "orelse", "finalbody"):
                _self_attributes(getattr(stmt, field, None) or [], names, nested=True)
            continue
        value = stmt.value
        if nested:
            kind = "conditional"
        elif isinstance(value, ast.IfExp) and (_is_none(value.body) or _is_none(value.orelse)):
            kind = "optional"
        else:
            kind = "required"
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for node in (n for target in targets for n in ast.walk(target)):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
                and names.get(node.attr) != "required"
            ):
                names[node.attr] = kind


def module_state(
    module: nn.Module,
    module_src: str,
    attributes: Mapping[str, Mapping[str, str]] | None,
    init_kwargs: Mapping[str, Any] | None = None,
    where: str = "",
) -> dict[str, Any]:
    """``module.__dict__`` as their class would have it: nn.Module internals with tensors
    (requires_grad off, as in their snapshots), children as persistent records, and the plain
    attributes their constructor sets (``attributes`` per class; None: no plain attributes)."""
    cls = type(module).__name__
    state: dict[str, Any] = {
        "training": False,
        "_parameters": collections.OrderedDict(
            (k, None if v is None else nn.Parameter(v.detach().cpu().clone(), requires_grad=False))
            for k, v in module._parameters.items()
        ),
        "_buffers": collections.OrderedDict(
            (k, None if v is None else v.detach().cpu().clone()) for k, v in module._buffers.items()
        ),
        "_non_persistent_buffers_set": set(module._non_persistent_buffers_set),
        **{name: collections.OrderedDict() for name in _HOOK_DICTS},
        "_modules": collections.OrderedDict(
            (k, None if v is None else persistent_record(v, module_src, attributes, None, where))
            for k, v in module._modules.items()
        ),
    }
    if attributes is not None:
        if cls not in attributes:
            raise StyleGANError(
                f"{where or 'the official module'} defines no class {cls}: point --nvidia-src "
                "at a checkout of NVlabs/stylegan3 or NVlabs/stylegan2-ada-pytorch"
            )
        tensors = set(module._parameters) | set(module._buffers) | set(module._modules)
        for name, kind in sorted(attributes[cls].items()):
            if name in tensors or (kind == "conditional" and name not in module.__dict__):
                continue
            if kind == "optional" and name not in module.__dict__:
                state[name] = None  # e.g. no label embedding: theirs sets None, ours nothing
            else:
                state[name] = _attribute(module, name, where)
    state["_init_args"] = ()
    # Only the top-level kwargs are ever read (their force_fp16 and resume rebuild from them).
    state["_init_kwargs"] = easy(init_kwargs) if init_kwargs is not None else {}
    return state


def _attribute(module: nn.Module, name: str, where: str) -> Any:
    if name in module.__dict__:
        value = module.__dict__[name]
    else:
        try:
            return _official_only(module, name)
        except KeyError:
            raise StyleGANError(
                f"{type(module).__name__} of {where or 'the official module'} sets {name!r}, "
                "which our network lacks: that checkout's code differs from the releases we "
                "export to (NVlabs/stylegan3, NVlabs/stylegan2-ada-pytorch at their last commit)"
            ) from None
    if isinstance(value, (list, tuple)) and all(isinstance(v, _PLAIN) for v in value):
        return type(value)(value)
    if not isinstance(value, _PLAIN):
        raise StyleGANError(
            f"cannot export {type(module).__name__}.{name} (a {type(value).__name__}) into an "
            "NVIDIA pickle"
        )
    return value.detach().cpu().clone() if isinstance(value, torch.Tensor) else value


def persistent_record(
    module: nn.Module,
    module_src: str,
    attributes: Mapping[str, Mapping[str, str]] | None = None,
    init_kwargs: Mapping[str, Any] | None = None,
    where: str = "",
) -> PersistentRecord:
    """``module`` (and its children) as persistent objects of ``module_src``'s classes."""
    state = module_state(module, module_src, attributes, init_kwargs, where)
    return PersistentRecord(type(module).__name__, state, module_src)


# ---- snapshots --------------------------------------------------------------------------------


def checkout_repository(nvidia_src: Path) -> str:
    """``stylegan3`` or ``stylegan2-ada`` for a checkout folder, from the files it has."""
    if not nvidia_src.is_dir():
        raise StyleGANError(
            f"--nvidia-src {nvidia_src} is not a folder: give a checkout of NVlabs/stylegan3 or "
            "NVlabs/stylegan2-ada-pytorch"
        )
    for repository, files in SOURCE_FILES.items():
        if all((nvidia_src / rel).is_file() for rel in files.values()):
            return repository
    raise StyleGANError(
        f"{nvidia_src} has neither training/networks_stylegan2.py (NVlabs/stylegan3) nor "
        "training/networks.py (NVlabs/stylegan2-ada-pytorch): give the root of such a checkout"
    )


def read_module_source(path: Path) -> str:
    """A module's text as ``inspect.getsource`` (their persistence) returns it: no BOM."""
    return path.read_text(encoding="utf-8-sig")


def snapshot(
    networks: Mapping[str, nn.Module],
    nvidia_src: str | Path,
    training_set_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The snapshot dict (of records) for G, D and G_ema; write it with :func:`dump`."""
    from stylegan.io.nvidia import ada_init_kwargs
    from stylegan.networks.registry import network_name

    missing = [key for key in NETWORKS if key not in networks]
    if missing:
        raise StyleGANError(
            f"an NVIDIA pickle needs G, D and G_ema (their legacy.load_network_pkl asserts all "
            f"three); the source lacks {', '.join(missing)}: convert a checkpoint that has them"
        )
    nvidia_src = Path(nvidia_src).expanduser()
    repository = checkout_repository(nvidia_src)
    sources: dict[str, tuple[str, dict[str, dict[str, str]]]] = {}
    data: dict[str, Any] = {
        "training_set_kwargs": None if training_set_kwargs is None else dict(training_set_kwargs)
    }
    for key in NETWORKS:
        net = networks[key]
        family = network_name(net).split(".")[0]
        rel = SOURCE_FILES[repository].get(family)
        if rel is None or network_name(net).split(".")[1] not in ("Generator", "Discriminator"):
            raise StyleGANError(
                f"{key} is a {network_name(net)} network, which {repository} has no class for"
                + (": use a checkout of NVlabs/stylegan3" if family == "stylegan3" else "")
            )
        if rel not in sources:
            src = read_module_source(nvidia_src / rel)
            sources[rel] = (src, constructor_attributes(src))
        src, attributes = sources[rel]
        kwargs = net.init_kwargs
        if repository == "stylegan2-ada":
            kwargs = ada_init_kwargs(kwargs)
        data[key] = persistent_record(net, src, attributes, kwargs, str(nvidia_src / rel))
    data["augment_pipe"] = None  # our augmentation state does not map onto their AugmentPipe
    return data
