"""What a checkpoint file may make us build: bounds checked before anything large is allocated.

A pickle can declare much more than it holds: a 2**60-byte string, a memo slot number in the
billions, a tensor view of 10**12 elements over one stored float, a list whose items are the
same list 60 levels deep (2**60 items once walked as a tree, 85 KB on disk), or constructor
arguments for a network of 10**11 parameters. The readers in :mod:`stylegan.io` run every file
through the guards here, so each such file stops with one line
(``refusing to load: <why> in <file>``) instead of exhausting memory or the stack:

* :func:`scan_pickle` reads the opcodes of a pickle stream before it is unpickled and refuses
  declared lengths past the end of the data and memo slots out of sequence;
* :func:`check_object_graph` walks what was unpickled once per object (shared references are
  counted as often as they occur, as any tree walk would see them) and bounds its size, its
  nesting depth, its tensor bytes relative to the file, and refuses cycles and object arrays;
* :func:`check_tensor_view` refuses a tensor larger than the storage behind it;
* :func:`build_network` builds on the ``meta`` device first and refuses a network whose
  parameters the file cannot back, before the real one is allocated.
"""

from __future__ import annotations

import argparse
import math
import mmap
import pickletools
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from stylegan.errors import StyleGANError

# A real snapshot (FFHQ 1024, G + D + G_ema) unpickles to some 10**5 objects nested about 30
# deep; these bounds are far above that and far below what exhausts memory or the stack.
MAX_OBJECTS = 2_000_000
MAX_DEPTH = 100
# Tensors may be shared (G_ema is G in some forks), but not multiplied: every occurrence counts.
MAX_TENSOR_SHARING = 4
MAX_PARAMETERS = 2_000_000_000  # 8 GB of float32; larger than any published StyleGAN by 60x

_MEMO_PUTS = ("PUT", "BINPUT", "LONG_BINPUT")


class RefusedFileError(StyleGANError):
    """A file asks for more than it holds (sizes, nesting, sharing); nothing large was built."""

    def __init__(self, why: str, file: str | None = None):
        self.why, self.file = why, file
        where = f" in {file}" if file else ""
        super().__init__(f"refusing to load: {why}{where}")

    def located(self, file: str) -> RefusedFileError:
        """The same refusal naming ``file`` (kept as is if it already names one)."""
        return self if self.file else RefusedFileError(self.why, file)


# ---- before unpickling ------------------------------------------------------------------------


# Opcode byte -> pickletools' description (argument layout) of every pickle protocol.
_OPCODES = {op.code.encode("latin-1")[0]: op for op in pickletools.opcodes}
# Counted arguments: (bytes of the length prefix, signed).
_COUNTED = {
    pickletools.TAKEN_FROM_ARGUMENT1: (1, False),
    pickletools.TAKEN_FROM_ARGUMENT4: (4, True),
    pickletools.TAKEN_FROM_ARGUMENT4U: (4, False),
    pickletools.TAKEN_FROM_ARGUMENT8U: (8, False),
}


def scan_pickle(data: bytes | bytearray | mmap.mmap, start: int = 0) -> None:
    """Check the opcodes of the pickle that begins at byte ``start`` of ``data``.

    The C unpickler allocates a declared length (``BINBYTES8``, ``BINUNICODE8``, ``FRAME``) or
    a memo table up to a declared slot (``LONG_BINPUT``) before reading a byte of it, so a
    16-byte file can ask for 2**60 bytes. Here each length is compared with the bytes left,
    skipping the data without copying it (pickletools' opcode table gives the layouts).
    """
    buf = memoryview(data)
    pos, end = start, len(data)
    puts = 0
    try:
        while True:
            if pos >= end:
                raise RefusedFileError("the pickle ends before its STOP opcode (it is truncated)")
            op = _OPCODES.get(buf[pos])
            if op is None:
                raise RefusedFileError(f"byte {pos} of the pickle is no opcode (it is damaged)")
            at, pos = pos, pos + 1
            arg, value = op.arg, None
            if op.name == "STOP":
                return
            if arg is None:
                pass
            elif arg.n >= 0:
                value = int.from_bytes(buf[pos : pos + arg.n], "little")
                pos += arg.n
            elif arg.n == pickletools.UP_TO_NEWLINE:
                stop = data.find(b"\n", pos)
                if arg.name == "stringnl_noescape_pair" and stop >= 0:  # GLOBAL: module, name
                    stop = data.find(b"\n", stop + 1)
                if stop < 0:
                    raise RefusedFileError(f"the pickle ends inside its {op.name} at byte {at}")
                if op.name == "PUT":
                    value = int(bytes(buf[pos:stop]))
                pos = stop + 1
            else:
                width, signed = _COUNTED[arg.n]
                length = int.from_bytes(buf[pos : pos + width], "little", signed=signed)
                pos += width
                if length < 0 or length > end - pos:
                    raise RefusedFileError(
                        f"a {op.name} at byte {at} of the pickle declares {length:,} bytes, but "
                        f"only {max(end - pos, 0):,} are left (the file is truncated or hostile)"
                    )
                pos += length
            if pos > end:
                raise RefusedFileError(f"the pickle ends inside its {op.name} at byte {at}")
            if op.name == "FRAME" and value > end - pos:
                raise RefusedFileError(
                    f"a pickle frame at byte {at} declares {value:,} bytes, but only "
                    f"{end - pos:,} are left (the file is truncated or hostile)"
                )
            if op.name in _MEMO_PUTS:
                if value > puts:  # picklers number memo slots 0, 1, 2, ...
                    raise RefusedFileError(
                        f"a pickle memo slot at byte {at} is numbered {value:,} after {puts:,} "
                        "slots (the unpickler would allocate a table that large)"
                    )
                puts += 1
            elif op.name == "MEMOIZE":
                puts += 1
    except ValueError as err:  # a PUT whose number is not a number
        why = f"the pickle is damaged ({err})"
        raise RefusedFileError(why) from None
    finally:
        buf.release()


# ---- after unpickling -------------------------------------------------------------------------


def _children(obj: Any) -> Iterable[Any]:
    if isinstance(obj, dict):
        return [*obj.keys(), *obj.values()]
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)
    if isinstance(obj, (torch.Tensor, np.ndarray, np.generic, str, bytes, bytearray)):
        return ()
    if isinstance(obj, type) or callable(obj):
        return ()  # allowed globals themselves (a class, a function): nothing of the file's
    if isinstance(obj, argparse.Namespace) or hasattr(obj, "__dict__"):
        # stand-ins (PersistentObject, TFNetwork) and rosinality's args hold their data here
        return list(vars(obj).values())
    return ()


def _leaf_bytes(obj: Any) -> int:
    if isinstance(obj, torch.Tensor):
        check_tensor_view(obj)
        return obj.numel() * obj.element_size()
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise RefusedFileError("the file holds a numpy array of Python objects")
        return obj.nbytes
    return 0


def check_object_graph(root: Any, file_size: int) -> None:
    """Refuse an unpickled object that no tree walk could finish, before anything walks it.

    Each object is visited once (iteratively, so depth cannot overflow the stack) and its
    expanded size computed from its children's, so a DAG of shared references costs its real
    size here and is refused when the tree it stands for is larger than :data:`MAX_OBJECTS`.
    """
    max_bytes = MAX_TENSOR_SHARING * file_size + 2**20
    done: dict[int, tuple[int, int, int]] = {}  # id -> (objects, tensor bytes, depth)
    open_ids: set[int] = set()
    stack: list[tuple[Any, list[Any] | None]] = [(root, None)]
    while stack:
        obj, kids = stack.pop()
        key = id(obj)
        if kids is not None:  # all children are done
            objects = 1 + sum(done[id(k)][0] for k in kids)
            tensor_bytes = sum(done[id(k)][1] for k in kids)
            depth = 1 + max(done[id(k)][2] for k in kids)
            open_ids.discard(key)
            done[key] = (objects, tensor_bytes, depth)
            _check_totals(objects, tensor_bytes, depth, max_bytes, file_size)
            continue
        if key in done:
            continue
        if key in open_ids:
            raise RefusedFileError("the file's objects contain a reference cycle")
        children = list(_children(obj))
        if not children:
            done[key] = (1, _leaf_bytes(obj), 0)
            _check_totals(1, done[key][1], 0, max_bytes, file_size)
            continue
        open_ids.add(key)
        stack.append((obj, children))
        stack.extend((child, None) for child in children)


def _check_totals(objects: int, tensor_bytes: int, depth: int, max_bytes: int, size: int) -> None:
    if depth > MAX_DEPTH:
        raise RefusedFileError(f"the file's objects are nested more than {MAX_DEPTH} deep")
    if objects > MAX_OBJECTS:
        raise RefusedFileError(
            f"the file's shared references stand for more than {MAX_OBJECTS:,} objects"
        )
    if tensor_bytes > max_bytes:
        raise RefusedFileError(
            f"the file's tensors, counted where they are referenced, hold more than "
            f"{max_bytes:,} bytes ({MAX_TENSOR_SHARING}x the file's {size:,})"
        )


def check_tensor_view(tensor: torch.Tensor) -> None:
    """Refuse a tensor that declares more elements, or reaches further, than its storage holds.

    A stride-0 view of 10**6 x 10**6 over one float costs nothing until someone copies it.
    """
    if tensor.device.type == "meta":
        return
    itemsize = tensor.element_size()
    capacity = tensor.untyped_storage().nbytes() // itemsize if itemsize else 0
    numel = tensor.numel()
    if numel == 0:
        return
    reach = tensor.storage_offset() + sum(
        (n - 1) * abs(s) for n, s in zip(tensor.shape, tensor.stride(), strict=True)
    )
    if numel > capacity or reach >= capacity:
        raise RefusedFileError(
            f"a tensor of shape {list(tensor.shape)} ({numel:,} elements) is larger than the "
            f"{capacity:,} elements stored for it"
        )


def check_view_size(size: tuple[int, ...], capacity: int) -> None:
    """The element-count half of :func:`check_tensor_view`, before the view is made."""
    numel = math.prod(size)
    if numel > capacity:
        raise RefusedFileError(
            f"a tensor of shape {list(size)} ({numel:,} elements) is larger than the "
            f"{capacity:,} elements stored for it"
        )


# ---- building networks ------------------------------------------------------------------------


def count_elements(tensors: Iterable[Any]) -> int:
    """Total elements of tensors / arrays (other values count 0)."""
    return sum(int(t.numel() if isinstance(t, torch.Tensor) else np.size(t)) for t in tensors)


def build_network(cls: Any, config: Any, what: str, file_elements: int | None = None) -> nn.Module:
    """``cls.from_config(config)``, refused first if the network is too large for the file.

    The network is built on the ``meta`` device (shapes only, no memory) to count its
    parameters: above :data:`MAX_PARAMETERS`, or (given ``file_elements``, what the file
    stores) far above what the file could fill, it is refused before real tensors exist.
    """
    with torch.device("meta"):
        probe = cls.from_config(config)
    params = sum(p.numel() for p in probe.parameters())
    state = sum(t.numel() for t in probe.state_dict().values())
    del probe
    if params > MAX_PARAMETERS:
        raise RefusedFileError(
            f"{what} would have {params:,} parameters, more than the {MAX_PARAMETERS:,} "
            "this loader builds"
        )
    # Our state dict may hold small buffers (filters) a file leaves out, hence the slack.
    if file_elements is not None and state > 2 * file_elements + 2**20:
        raise RefusedFileError(
            f"{what} would hold {state:,} parameters and buffers, but the file stores only "
            f"{file_elements:,} values"
        )
    return cls.from_config(config)
