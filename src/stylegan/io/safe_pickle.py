"""Read NVIDIA's network pickles without running any code from them.

An official pickle rebuilds each network by ``exec``-ing Python source stored inside the file
(``torch_utils.persistence``), so loading one from a stranger runs the stranger's code. This
unpickler allows only the handful of globals those files use for containers, numpy values and
tensors, and maps each to a harmless stand-in of ours:

* ``torch_utils.persistence._reconstruct_persistent_obj`` -> :class:`PersistentObject`, which
  keeps the class name, the constructor arguments and the state, and never looks at the source;
* ``dnnlib.tflib.network.Network`` (TensorFlow pickles) -> :class:`TFNetwork`, variables only;
* tensor storages (``torch.storage._load_from_bytes``) -> parsed here from the legacy
  ``torch.save`` byte layout instead of going through ``torch.load``.

Any other global (``os.system``, ``builtins.eval``, an unknown class, ...) stops the load before
anything is called, with an error naming it. What the allowed globals may build is bounded too
(declared sizes, tensor views, nesting, shared references): see :mod:`stylegan.io.limits`.
"""

from __future__ import annotations

import collections
import io
import math
import mmap
import os
import pickle
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from stylegan.errors import StyleGANError
from stylegan.io.limits import (
    MAX_DEPTH,
    RefusedFileError,
    check_object_graph,
    check_view_size,
    scan_pickle,
)

LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_TORCH_PROTOCOL = 1001
PERSISTENCE_VERSION = 6  # torch_utils.persistence._version of every official repository

STORAGE_DTYPES: dict[str, torch.dtype] = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


class UnsafePickleError(StyleGANError):
    """A pickle asks for something a network file never needs; nothing from it was run."""


# ---- stand-ins for the classes an official pickle names ----------------------------------------


class EasyDict(dict):
    """``dnnlib.util.EasyDict``: a dict whose keys read as attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class PersistentObject:
    """One ``@persistent_class`` object of an official pickle, kept as plain data.

    ``module_src`` is the Python source the official loader would execute; here it is only
    searched for markers that tell which repository wrote the file.
    """

    class_name: str
    module_src: str
    state: dict[str, Any]
    version: int = PERSISTENCE_VERSION

    @property
    def init_kwargs(self) -> dict[str, Any]:
        """The keyword arguments the object was constructed with, as plain dicts."""
        return to_plain(self.state.get("_init_kwargs") or {})

    @property
    def init_args(self) -> tuple:
        return tuple(to_plain(self.state.get("_init_args") or ()))

    @property
    def children(self) -> dict[str, PersistentObject]:
        """Sub-modules, in registration order."""
        modules = self.state.get("_modules") or {}
        return {k: v for k, v in modules.items() if isinstance(v, PersistentObject)}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Parameters and persistent buffers of the whole tree, named as ``nn.Module`` would."""
        out: dict[str, torch.Tensor] = {}
        self._collect(out, "")
        return out

    def _collect(self, out: dict[str, torch.Tensor], prefix: str) -> None:
        for name, value in (self.state.get("_parameters") or {}).items():
            if value is not None:
                out[prefix + name] = value
        skip = set(self.state.get("_non_persistent_buffers_set") or ())
        for name, value in (self.state.get("_buffers") or {}).items():
            if value is not None and name not in skip:
                out[prefix + name] = value
        for name, child in (self.state.get("_modules") or {}).items():
            if child is None:
                continue
            if not isinstance(child, PersistentObject):
                raise StyleGANError(
                    f"sub-module {prefix}{name} is a {type(child).__name__}, "
                    "not a network object; the file is not a network pickle we can read"
                )
            child._collect(out, f"{prefix}{name}.")

    def __repr__(self) -> str:
        return f"PersistentObject({self.class_name!r}, children={list(self.children)})"


class TFNetwork:
    """``dnnlib.tflib.network.Network`` of the TensorFlow releases, as data.

    Attributes after unpickling: ``version``, ``name``, ``static_kwargs`` (dict),
    ``components`` (dict of name -> TFNetwork), ``build_func_name``, ``build_module_src``
    (never executed) and ``variables`` (list of ``(name, numpy array)`` of this network only).
    """

    version: int
    name: str
    static_kwargs: dict[str, Any]
    components: dict[str, TFNetwork]
    build_func_name: str
    build_module_src: str
    variables: list[tuple[str, np.ndarray]]

    def __setstate__(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict):
            raise StyleGANError("a TensorFlow network in the pickle has no readable state")
        self.version = int(state.get("version", 0))
        self.name = str(state.get("name", ""))
        self.static_kwargs = to_plain(state.get("static_kwargs") or {})
        self.components = dict(state.get("components") or {})
        self.build_func_name = str(state.get("build_func_name", ""))
        self.build_module_src = str(state.get("build_module_src", ""))
        variables = state.get("variables") or []
        if not isinstance(variables, list) or not all(
            isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], _TF_VALUES) for v in variables
        ):
            # np.asarray of anything else (nested lists) could expand without bound
            raise StyleGANError("a TensorFlow network in the pickle has non-array variables")
        self.variables = [(str(n), np.asarray(v)) for n, v in variables]

    def __repr__(self) -> str:
        return f"TFNetwork({self.name!r}, {self.build_func_name!r})"


_TF_VALUES = (np.ndarray, np.generic, int, float, bool)


def _nested(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise RefusedFileError(f"the file's objects are nested more than {MAX_DEPTH} deep")


def to_plain(value: Any, _memo: dict[int, Any] | None = None, _depth: int = 0) -> Any:
    """EasyDicts, OrderedDicts and numpy scalars to plain Python values (recursively).

    Each container is converted once (shared references stay shared), so a pickle of
    references to references costs its size on disk, not the size of the tree it stands for.
    """
    _nested(_depth)
    memo: dict[int, Any] = {} if _memo is None else _memo
    if isinstance(value, (dict, list, tuple)):
        if id(value) in memo:
            return memo[id(value)]
        if isinstance(value, dict):
            out: Any = {k: to_plain(v, memo, _depth + 1) for k, v in value.items()}
        else:
            out = type(value)(to_plain(v, memo, _depth + 1) for v in value)
        memo[id(value)] = out
        return out
    if isinstance(value, np.generic):
        return value.item()
    return value


def json_safe(value: Any, _memo: dict[int, Any] | None = None, _depth: int = 0) -> Any:
    """Plain values that ``json.dumps`` accepts (for checkpoint metadata); others as repr.

    Converted once per object, like :func:`to_plain`.
    """
    _nested(_depth)
    memo: dict[int, Any] = {} if _memo is None else _memo
    if isinstance(value, (dict, list, tuple, set, torch.Tensor)):
        if id(value) in memo:
            return memo[id(value)]
        if isinstance(value, dict):
            out: Any = {str(k): json_safe(v, memo, _depth + 1) for k, v in value.items()}
        elif isinstance(value, torch.Tensor):
            out = value.tolist()
        else:
            out = [json_safe(v, memo, _depth + 1) for v in value]
        memo[id(value)] = out
        return out
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _reconstruct_persistent_obj(meta: Any) -> PersistentObject:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise StyleGANError("a persistent object in the pickle is not a class instance")
    version = meta.get("version")
    if version != PERSISTENCE_VERSION:
        raise StyleGANError(
            f"persistent object version {version!r} is unknown (expected {PERSISTENCE_VERSION})"
        )
    state = meta.get("state")
    if not isinstance(state, dict):
        raise StyleGANError(f"persistent {meta.get('class_name')!r} has no state dict")
    return PersistentObject(
        class_name=str(meta.get("class_name")),
        module_src=str(meta.get("module_src") or ""),
        state=dict(state),
        version=version,
    )


# ---- tensors ----------------------------------------------------------------------------------


class _StorageType:
    """Marker for ``torch.FloatStorage`` and friends inside a legacy storage stream."""

    def __init__(self, name: str):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]


@dataclass
class _Storage:
    """A storage read from bytes: a flat tensor of its dtype."""

    data: torch.Tensor
    dtype: torch.dtype = field(init=False)

    def __post_init__(self):
        self.dtype = self.data.dtype


def _load_from_bytes(data: bytes) -> _Storage:
    """Parse one storage saved by legacy (non-zip) ``torch.save``, without ``torch.load``.

    Layout: pickled magic number, protocol version and system info; the pickled storage as a
    persistent id ``('storage', type, key, location, numel, view)``; the pickled list of keys;
    then per key an int64 element count and the raw little-endian elements.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise StyleGANError("a tensor storage in the pickle is not stored as bytes")
    f = io.BytesIO(data)
    try:
        if _SafeUnpickler(data, f).load() != LEGACY_TORCH_MAGIC:
            raise StyleGANError("a tensor storage in the pickle has an unknown format")
        if _SafeUnpickler(data, f).load() != LEGACY_TORCH_PROTOCOL:
            raise StyleGANError("a tensor storage in the pickle has an unknown protocol version")
        sys_info = _SafeUnpickler(data, f).load()
        if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
            raise StyleGANError("big-endian tensor storages are not supported")
        found: dict[str, tuple[_StorageType, int]] = {}

        def persistent_load(pid: Any) -> tuple[str, str]:
            if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
                raise StyleGANError(f"unexpected persistent id in a tensor storage: {pid!r}")
            _, storage_type, key, _location, numel = pid[:5]
            view = pid[5] if len(pid) > 5 else None
            if not isinstance(storage_type, _StorageType) or view is not None:
                raise StyleGANError("unsupported tensor storage layout in the pickle")
            found[str(key)] = (storage_type, int(numel))
            return ("ref", str(key))

        root = _SafeUnpickler(data, f, persistent_load=persistent_load).load()
        keys = _SafeUnpickler(data, f).load()
    except (pickle.UnpicklingError, EOFError, ValueError) as err:
        raise StyleGANError(f"a tensor storage in the pickle is damaged ({err})") from None
    if not (isinstance(root, tuple) and root[0] == "ref") or list(keys) != list(found):
        raise StyleGANError("a tensor storage in the pickle holds more than one storage")
    storage_type, numel = found[root[1]]
    start = f.tell() + 8
    if start > len(data):
        raise StyleGANError("a tensor storage in the pickle is truncated")
    (count,) = struct.unpack("<q", data[start - 8 : start])
    itemsize = torch.empty(0, dtype=storage_type.dtype).element_size()
    if count != numel or start + count * itemsize > len(data):
        raise StyleGANError("a tensor storage in the pickle is truncated")
    if count == 0:
        return _Storage(torch.empty(0, dtype=storage_type.dtype))
    raw = bytearray(memoryview(data)[start : start + count * itemsize])  # the one copy
    return _Storage(torch.frombuffer(raw, dtype=storage_type.dtype))


def _rebuild_tensor_v2(
    storage: _Storage,
    storage_offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    requires_grad: bool = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> torch.Tensor:
    if not isinstance(storage, _Storage):
        raise StyleGANError("a tensor in the pickle does not refer to a storage")
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride) or any(s < 0 for s in size + stride) or storage_offset < 0:
        raise StyleGANError("a tensor in the pickle has an invalid shape")
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True) if n > 0)
    if all(n > 0 for n in size) and last >= storage.data.numel():
        raise StyleGANError("a tensor in the pickle reaches past the end of its storage")
    check_view_size(size, storage.data.numel())  # e.g. stride 0: in bounds, yet 10**12 values
    if any(n == 0 for n in size):
        return torch.empty(size, dtype=storage.dtype)
    return torch.as_strided(storage.data, size, stride, storage_offset)


def _rebuild_parameter(data: torch.Tensor, requires_grad: bool = False, hooks: Any = None):
    if not isinstance(data, torch.Tensor):
        raise StyleGANError("a parameter in the pickle holds no tensor")
    return data


def _rebuild_parameter_with_state(data, requires_grad=False, hooks=None, state=None):
    return _rebuild_parameter(data, requires_grad, hooks)


def _rebuild_from_type_v2(func: Any, new_type: Any, args: tuple, state: Any) -> torch.Tensor:
    if func not in (_rebuild_tensor_v2, _rebuild_parameter) or not isinstance(args, tuple):
        raise StyleGANError("a tensor in the pickle is rebuilt in an unsupported way")
    return func(*args)


class _AllocatorGlobal:
    """``torch.Tensor`` / ``numpy.ndarray`` as a pickle names them: usable as the type argument
    of a rebuild function, refused when called (``torch.Tensor(10**13)`` would allocate 40 TB)."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RefusedFileError(
            f"the pickle calls {self.name}(...) to allocate memory, which a network file never does"
        )


TENSOR_TYPE = _AllocatorGlobal("torch.Tensor")
NDARRAY_TYPE = _AllocatorGlobal("numpy.ndarray")


# ---- numpy ------------------------------------------------------------------------------------


def _numpy_dtype(*args: Any) -> np.dtype:
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise UnsafePickleError("the pickle holds a numpy array of Python objects; refusing it")
    return dtype


def _numpy_reconstruct(cls: Any, shape: Any, dtype: Any) -> np.ndarray:
    if cls is not NDARRAY_TYPE:
        raise UnsafePickleError("the pickle rebuilds a numpy array subclass; refusing it")
    dtype = _numpy_dtype(dtype)
    # numpy pickles an empty array here and its data in the state that follows (whose size
    # numpy checks against the bytes present); a large shape here is memory from nothing.
    if not isinstance(shape, tuple) or math.prod(int(n) for n in shape) * dtype.itemsize > 4096:
        raise RefusedFileError(f"the pickle asks numpy for an empty array of shape {shape!r}")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _numpy_scalar(dtype: np.dtype, data: bytes | None = None) -> np.generic:
    dtype = _numpy_dtype(dtype)
    return np.frombuffer(data or b"", dtype=dtype, count=1)[0].copy()


def _numpy_frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    array = np.frombuffer(buf, dtype=_numpy_dtype(dtype)).copy()
    return array.reshape(shape, order=order)


def _codecs_encode(text: str, encoding: str = "latin1") -> bytes:
    """Protocol-2 pickles spell ``bytes`` as ``_codecs.encode(str, 'latin1')``."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError("the pickle calls _codecs.encode in an unexpected way")
    return text.encode("latin1")


# ---- the unpickler ----------------------------------------------------------------------------

ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("dnnlib.tflib.network", "Network"): TFNetwork,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("__builtin__", "set"): set,
    ("_codecs", "encode"): _codecs_encode,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
    ("torch", "Tensor"): TENSOR_TYPE,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("numpy", "dtype"): _numpy_dtype,
    ("numpy", "ndarray"): NDARRAY_TYPE,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _numpy_frombuffer,
}
ALLOWED.update({("torch", name): _StorageType(name) for name in STORAGE_DTYPES})


class _SafeUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose globals come only from :data:`ALLOWED`."""

    def __init__(self, data: Any, file: BinaryIO, persistent_load: Any = None):
        super().__init__(file)
        self._data, self._file = data, file  # file: a stream over data, at the pickle's start
        self._persistent_load = persistent_load

    def load(self) -> Any:
        # declared sizes and memo slots, before anything is allocated
        scan_pickle(self._data, self._file.tell())
        return super().load()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load: the pickle references {module}.{name}, which a network "
                "file never needs and which could run code; nothing from the file was run"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent_load is None:
            raise UnsafePickleError(f"unexpected persistent id {pid!r} in the pickle")
        return self._persistent_load(pid)


def safe_load(file: str | Path | BinaryIO) -> Any:
    """Unpickle an official network pickle (PyTorch or TensorFlow) without running its code.

    Its opcodes are checked before unpickling (a path is memory-mapped for that, not copied)
    and the objects after it (:mod:`stylegan.io.limits`), so what comes back is bounded by the
    file.
    """
    if isinstance(file, (str, Path)):
        with open(file, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise StyleGANError(f"{file} is empty; the file is damaged or truncated")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _safe_load(data, f, str(file))
    data = file.read()
    return _safe_load(data, io.BytesIO(data), str(getattr(file, "name", "the pickle")))


def _safe_load(data: Any, stream: BinaryIO, name: str) -> Any:
    try:
        obj = _SafeUnpickler(data, stream).load()
        check_object_graph(obj, len(data))
        return obj
    except RefusedFileError as err:
        raise err.located(name) from None
    except StyleGANError as err:
        raise type(err)(f"{err} (in {name})") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        KeyError,
        IndexError,
        OverflowError,
        RecursionError,
    ) as err:
        raise StyleGANError(
            f"{name} is not a readable network pickle ({err}); the file is damaged or truncated"
        ) from None
