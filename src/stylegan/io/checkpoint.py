"""Our checkpoint format: safetensors for tensors, JSON for everything else, never a pickle.

A checkpoint is a folder::

    model.safetensors          every network's state dict, keys "<net>.<name>" (G, D, G_ema, ...);
                               its metadata repeats config.json, so the file alone is loadable
    config.json                format tag, each network's class and config, free-form metadata
    training_state.safetensors tensors of the training state (optimizers, RNG, ...), if any
    training_state.json        the rest of the training state, with references to those tensors

or just a ``.safetensors`` file holding networks. Both are written to a temporary name and
moved into place (``io/atomic.py``), so a crash, Ctrl-C or a full disk never leaves a
half-written checkpoint under the final name nor loses the one it replaces; an existing
destination is replaced only when asked to and only if it is one of our checkpoints.

Reading checks what a file declares before believing it: :func:`verify_checkpoint` lists what
is damaged (missing files, JSON that does not parse, safetensors headers whose offsets, dtypes
and shapes do not fit the file's real size) from headers and sizes alone, and the loaders stop
on the first such problem with one line naming the file.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.io.atomic import write_atomically
from stylegan.io.limits import RefusedFileError, build_network
from stylegan.io.paths import check_new_destination

FORMAT = "stylegan-checkpoint"
FORMAT_VERSION = 1
MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
STATE_TENSOR_FILE = "training_state.safetensors"
STATE_JSON_FILE = "training_state.json"
# Everything a checkpoint folder may hold; a folder with anything else is never replaced.
CHECKPOINT_FILES = frozenset({MODEL_FILE, CONFIG_FILE, STATE_TENSOR_FILE, STATE_JSON_FILE})
DAMAGED = "the checkpoint is damaged (re-save it, or use an earlier snapshot)"


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns."""

    path: Path
    networks: dict[str, nn.Module]
    metadata: dict[str, Any] = field(default_factory=dict)
    training_state: dict[str, Any] | None = None


# ---- saving -------------------------------------------------------------------------------------


def save_checkpoint(
    path: str | Path,
    networks: dict[str, nn.Module],
    training_state: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``networks`` (and optionally a resumable training state) to ``path``, atomically.

    ``path`` ending in ``.safetensors`` writes one self-describing file (networks only);
    anything else is a checkpoint folder. An existing ``path`` is refused unless ``overwrite``,
    and even then replaced only if it is one of our checkpoints with nothing else in it.
    """
    path = Path(path)
    if not networks:
        raise ValueError("save_checkpoint needs at least one network")
    single_file = path.suffix == ".safetensors"
    if single_file and training_state is not None:
        raise ValueError("a single .safetensors file holds networks only; save to a folder")
    check_checkpoint_destination(path, overwrite)
    config = _config_document(networks, metadata or {})
    tensors = _network_tensors(networks)
    header = {"format": FORMAT, "config": json.dumps(config)}
    state_tensors: dict[str, torch.Tensor] = {}
    doc = None if training_state is None else _encode(training_state, state_tensors, "state")
    needed = sum(t.nbytes for t in (*tensors.values(), *state_tensors.values()))

    def write(tmp: Path) -> None:
        if single_file:
            save_file(tensors, str(tmp), metadata=header)
            return
        save_file(tensors, str(tmp / MODEL_FILE), metadata=header)
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        if doc is not None:
            save_file(state_tensors, str(tmp / STATE_TENSOR_FILE))
            (tmp / STATE_JSON_FILE).write_text(json.dumps(doc))

    return write_atomically(path, write, needed, overwrite=overwrite, folder=not single_file)


def save_networks(path: str | Path, *, overwrite: bool = False, **networks: nn.Module) -> Path:
    """Convenience form of :func:`save_checkpoint`: ``save_networks("out", G_ema=G)``."""
    return save_checkpoint(path, networks, overwrite=overwrite)


def is_replaceable_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is one of our checkpoints holding nothing else, so that replacing it
    cannot delete anything of the user's (a folder with other files in it is not)."""
    path = Path(path)
    if path.is_symlink():
        return False
    if path.is_dir():
        names = {p.name for p in path.iterdir()}
        if CONFIG_FILE not in names or not names <= CHECKPOINT_FILES:
            return False
    elif not (path.is_file() and path.suffix == ".safetensors"):
        return False
    try:
        read_config(path)
    except Exception:  # unreadable, foreign or damaged: not ours to replace
        return False
    return True


def check_checkpoint_destination(path: str | Path, overwrite: bool = False) -> Path:
    """Refuse, before any work, a destination :func:`save_checkpoint` would not write."""
    path = Path(path)
    want_folder = path.suffix != ".safetensors"

    def replaceable(existing: Path) -> bool:
        return existing.is_dir() == want_folder and is_replaceable_checkpoint(existing)

    return check_new_destination(
        path, overwrite, replaceable, kind="a stylegan checkpoint with nothing else in it"
    )


def _config_document(networks: dict[str, nn.Module], metadata: dict[str, Any]) -> dict[str, Any]:
    from stylegan.networks.registry import network_name

    entries = {}
    for key, net in networks.items():
        if "." in key:
            raise ValueError(f"network key {key!r} must not contain '.'")
        entries[key] = {"class": network_name(net), "config": net.config.to_dict()}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "networks": entries,
        "metadata": metadata,
    }


def _network_tensors(networks: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    tensors = {}
    for key, net in networks.items():
        for name, value in net.state_dict().items():
            # Clone: safetensors refuses tensors that share storage (e.g. tied buffers).
            tensors[f"{key}.{name}"] = value.detach().to("cpu").contiguous().clone()
    return tensors


# ---- loading ------------------------------------------------------------------------------------


def read_config(path: str | Path) -> dict[str, Any]:
    """The JSON config of a checkpoint file or folder, without reading any tensor data."""
    path = _existing(path)
    if path.is_dir():
        config_file = path / CONFIG_FILE
        if not config_file.is_file():
            raise StyleGANError(
                f"{path} is a folder but not a stylegan checkpoint (no {CONFIG_FILE}); "
                "point at a checkpoint folder or a .safetensors file"
            )
        config, problems = _read_json(config_file)
    elif path.suffix == ".safetensors":
        header, problems = safetensors_header(path)
        metadata = (header or {}).get("__metadata__") or {}
        if not problems and (metadata.get("format") != FORMAT or "config" not in metadata):
            raise StyleGANError(
                f"{path} is a safetensors file without a stylegan config; "
                "it was not written by stylegan (convert it with 'stylegan convert')"
            )
        if not problems:
            config, problems = _parse_json(metadata["config"], f"{path} (config in its header)")
    else:
        raise StyleGANError(
            f"cannot read {path}: expected a stylegan checkpoint folder or a .safetensors file"
        )
    if problems:
        raise StyleGANError(f"{problems[0]}; {DAMAGED}")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        config = config if isinstance(config, dict) else {}
        raise StyleGANError(
            f"{path} is not a stylegan checkpoint (format {config.get('format')!r})"
        )
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise StyleGANError(
            f"{path} uses checkpoint format {config['format_version']}, newer than this "
            f"stylegan understands ({FORMAT_VERSION}); upgrade stylegan"
        )
    if not isinstance(config.get("networks"), dict) or not all(
        isinstance(e, dict) and "class" in e and "config" in e for e in config["networks"].values()
    ):
        raise StyleGANError(f"{path}: its config lists no readable networks; {DAMAGED}")
    return config


def load_checkpoint(
    path: str | Path,
    device: str | torch.device = "cpu",
    nets: list[str] | tuple[str, ...] | None = None,
    training_state: bool = True,
) -> Checkpoint:
    """Rebuild the networks (all, or those named in ``nets``) and the training state, if any."""
    path = _existing(path)
    config = read_config(path)
    entries = config["networks"]
    wanted = list(entries) if nets is None else list(nets)
    missing = [n for n in wanted if n not in entries]
    if missing:
        raise StyleGANError(
            f"{path} holds no network {missing[0]!r}; it has {', '.join(entries) or 'none'}"
        )
    model_file = path / MODEL_FILE if path.is_dir() else path
    tensors = _load_tensors(model_file)
    networks = {key: _build_network(key, entries[key], tensors, path) for key in wanted}
    networks = {key: net.to(device) for key, net in networks.items()}

    state = None
    if training_state and path.is_dir() and (path / STATE_JSON_FILE).is_file():
        doc, problems = _read_json(path / STATE_JSON_FILE)
        if problems:
            raise StyleGANError(f"{problems[0]}; {DAMAGED}")
        state_tensors = _load_tensors(path / STATE_TENSOR_FILE)
        try:
            state = _decode(doc, state_tensors)
        except (KeyError, TypeError, ValueError) as err:
            raise StyleGANError(
                f"{path / STATE_JSON_FILE} does not fit {STATE_TENSOR_FILE} ({err!r}); {DAMAGED}"
            ) from None
    return Checkpoint(
        path=path, networks=networks, metadata=config.get("metadata", {}), training_state=state
    )


def load_network(
    path: str | Path, net: str = "G_ema", device: str | torch.device = "cpu"
) -> nn.Module:
    """Load one network (``G_ema`` by default) in eval mode."""
    ckpt = load_checkpoint(path, device=device, nets=[net], training_state=False)
    return ckpt.networks[net].eval()


def _build_network(
    key: str, entry: dict, tensors: dict[str, torch.Tensor], path: Path
) -> nn.Module:
    from stylegan.networks.registry import network_class

    cls = network_class(entry["class"])
    prefix = f"{key}."
    state = {name[len(prefix) :]: t for name, t in tensors.items() if name.startswith(prefix)}
    stored = sum(t.numel() for t in state.values())
    try:
        net = build_network(cls, entry["config"], f"{key} ({entry['class']})", stored)
    except RefusedFileError as err:
        raise err.located(str(path)) from None
    damaged = f"{path}: the weights of {key} do not fit its config"
    hint = "the checkpoint is damaged or was edited"
    try:
        result = net.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        first = str(err).strip().splitlines()[-1].strip()
        raise StyleGANError(f"{damaged} ({first}); {hint}") from None
    if result.missing_keys or result.unexpected_keys:
        raise StyleGANError(
            f"{damaged} (missing {result.missing_keys[:3]}, "
            f"unexpected {result.unexpected_keys[:3]}); {hint}"
        )
    return net


# ---- checking what is on disk -----------------------------------------------------------------

# Bytes per element of each safetensors dtype.
SAFETENSORS_DTYPES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
    "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
}  # fmt: skip
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit


def verify_checkpoint(path: str | Path, training_state: bool = True) -> list[str]:
    """What is damaged in a checkpoint folder or ``.safetensors`` file; ``[]`` when intact
    (without ``training_state``, the networks alone: what loading them needs).

    Cheap enough to run on every snapshot of a run (``--resume latest`` picks the newest intact
    one): it reads the JSON files and safetensors headers and compares declared sizes with the
    files' real sizes, without reading tensor data. Each problem is one line naming the file.
    """
    path = Path(path).expanduser()
    if not path.exists():
        return [f"{path} does not exist"]
    if not path.is_dir():
        if path.suffix != ".safetensors":
            return [f"{path} is neither a checkpoint folder nor a .safetensors file"]
        header, problems = safetensors_header(path)
        if header is not None:
            metadata = header.get("__metadata__") or {}
            if "config" not in metadata:
                problems.append(f"{path} has no stylegan config in its header")
            else:
                config, more = _parse_json(metadata["config"], f"{path} (config in its header)")
                problems += more or _network_problems(config, header, path)
        return problems
    problems: list[str] = []
    config, more = _read_json(path / CONFIG_FILE)
    problems += more
    header, more = safetensors_header(path / MODEL_FILE)
    problems += more
    if config is not None and header is not None:
        problems += _network_problems(config, header, path / MODEL_FILE)
    if not training_state:
        return problems
    if (path / STATE_JSON_FILE).exists() or (path / STATE_TENSOR_FILE).exists():
        doc, more = _read_json(path / STATE_JSON_FILE)
        problems += more
        state_header, more = safetensors_header(path / STATE_TENSOR_FILE)
        problems += more
        if doc is not None and state_header is not None:
            missing = sorted(_tensor_references(doc) - set(state_header) - {"__metadata__"})
            if missing:
                problems.append(
                    f"{path / STATE_JSON_FILE} refers to tensors {missing[:3]} that "
                    f"{STATE_TENSOR_FILE} lacks"
                )
    return problems


def safetensors_header(file: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """``(header, problems)`` of a safetensors file: the JSON header, checked against the size.

    Every tensor's byte range must lie in the file and match its dtype and shape, and the
    ranges must tile the data exactly (as safetensors itself requires before mapping it).
    """
    if not file.is_file():
        return None, [f"{file} is missing"]
    size = file.stat().st_size
    with open(file, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            return None, [f"{file} is truncated ({size} bytes, no safetensors header)"]
        (length,) = struct.unpack("<Q", prefix)
        if length > min(size - 8, MAX_HEADER_BYTES):
            return None, [
                f"{file} is truncated or not a safetensors file (its header declares "
                f"{length:,} bytes, the file has {size - 8:,} after the length)"
            ]
        raw = f.read(length)
    header, problems = _parse_json(raw, f"{file} (safetensors header)")
    if problems:
        return None, problems
    if not isinstance(header, dict):
        return None, [f"{file} has a safetensors header that is not a JSON object"]
    data_bytes = size - 8 - length
    ranges = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        problem = _entry_problem(name, entry, data_bytes)
        if problem:
            return None, [f"{file}: {problem}"]
        ranges.append(tuple(entry["data_offsets"]))
    ranges.sort()
    covered = 0
    for begin, end in ranges:
        if begin != covered:
            return None, [f"{file}: tensor byte ranges overlap or leave gaps at byte {covered:,}"]
        covered = end
    if covered != data_bytes:
        return None, [
            f"{file} is truncated or padded: its tensors take {covered:,} bytes, "
            f"the file holds {data_bytes:,} after the header"
        ]
    return header, []


def _entry_problem(name: str, entry: Any, data_bytes: int) -> str | None:
    if not isinstance(entry, dict):
        return f"tensor {name!r} has no dtype/shape/offsets"
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in SAFETENSORS_DTYPES:
        return f"tensor {name!r} has unknown dtype {dtype!r}"
    if not (isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)):
        return f"tensor {name!r} has an invalid shape {shape!r}"
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(isinstance(n, int) for n in offsets)
        and 0 <= offsets[0] <= offsets[1]
    ):
        return f"tensor {name!r} has invalid data offsets {offsets!r}"
    if offsets[1] > data_bytes:
        return (
            f"truncated: tensor {name!r} ends at byte {offsets[1]:,} of the data, "
            f"the file holds {data_bytes:,}"
        )
    if math.prod(shape) * SAFETENSORS_DTYPES[dtype] != offsets[1] - offsets[0]:
        span = offsets[1] - offsets[0]
        return f"tensor {name!r} ({dtype} {shape}) does not fit its {span:,} bytes"
    return None


def stored_elements(path: str | Path) -> dict[str, int]:
    """Elements each network has in a checkpoint's model file, from its header alone
    (``{}`` if the header is unreadable)."""
    path = Path(path)
    header, _ = safetensors_header(path / MODEL_FILE if path.is_dir() else path)
    counts: dict[str, int] = {}
    for name, entry in (header or {}).items():
        if name != "__metadata__":
            key = name.split(".", 1)[0]
            counts[key] = counts.get(key, 0) + math.prod(entry["shape"])
    return counts


def _network_problems(config: Any, header: dict[str, Any], file: Path) -> list[str]:
    """Each network the config lists has tensors in the file."""
    networks = config.get("networks") if isinstance(config, dict) else None
    if not isinstance(networks, dict) or not networks:
        return [f"{file}: its config lists no networks"]
    names = set(header) - {"__metadata__"}
    return [
        f"{file} holds no tensors of network {key!r}"
        for key in networks
        if not any(n.startswith(f"{key}.") for n in names)
    ]


def _tensor_references(doc: Any) -> set[str]:
    """Keys of every ``{"__tensor__": key}`` in a training-state document."""
    found: set[str] = set()
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("__tensor__"), str):
                found.add(item["__tensor__"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _parse_json(text: str | bytes, what: str) -> tuple[Any, list[str]]:
    try:
        return json.loads(text), []
    except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
        return None, [f"{what} is not valid JSON ({err})"]
    except RecursionError:
        return None, [f"{what} is nested too deeply to be a stylegan file"]


def _read_json(file: Path) -> tuple[Any, list[str]]:
    if not file.is_file():
        return None, [f"{file} is missing"]
    return _parse_json(file.read_bytes(), str(file))


def _load_tensors(file: Path) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, after checking its header against its size."""
    _, problems = safetensors_header(file)
    if problems:
        raise StyleGANError(f"{problems[0]}; {DAMAGED}")
    try:
        return load_file(str(file), device="cpu")
    except (SafetensorError, OSError) as err:
        raise StyleGANError(f"cannot read {file} ({err}); {DAMAGED}") from None


def _existing(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise StyleGANError(f"checkpoint not found: {path}")
    return path


# ---- nested state <-> JSON + tensors ----------------------------------------------------------


def _encode(obj: Any, tensors: dict[str, torch.Tensor], where: str) -> Any:
    """Turn a nested structure into JSON, moving tensors into ``tensors`` under unique keys."""
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        data = base64.b64encode(np.ascontiguousarray(obj).tobytes()).decode("ascii")
        return {"__ndarray__": {"dtype": obj.dtype.str, "shape": list(obj.shape), "data": data}}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), tensors, where)
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, where) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensors, where) for v in obj]
    if isinstance(obj, dict):
        plain = all(isinstance(k, str) and not k.startswith("__") for k in obj)
        if plain:
            return {k: _encode(v, tensors, f"{where}.{k}") for k, v in obj.items()}
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise TypeError(f"{where}: dict key {k!r} of type {type(k).__name__} not storable")
            items.append([k, _encode(v, tensors, f"{where}.{k}")])
        return {"__dict__": items}
    raise TypeError(f"{where}: cannot store a {type(obj).__name__} in a checkpoint")


def _decode(doc: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`_encode`."""
    if isinstance(doc, list):
        return [_decode(v, tensors) for v in doc]
    if not isinstance(doc, dict):
        return doc
    if "__tensor__" in doc:
        return tensors[doc["__tensor__"]]
    if "__ndarray__" in doc:
        spec = doc["__ndarray__"]
        raw = base64.b64decode(spec["data"])
        dtype = np.dtype(spec["dtype"])
        if dtype.hasobject:  # we never write one; numpy would want a pickle for it
            raise StyleGANError("refusing to load: the training state holds a numpy object array")
        return np.frombuffer(raw, dtype=dtype).reshape(spec["shape"]).copy()
    if "__float__" in doc:
        return float(doc["__float__"])
    if "__tuple__" in doc:
        return tuple(_decode(v, tensors) for v in doc["__tuple__"])
    if "__dict__" in doc:
        return {k: _decode(v, tensors) for k, v in doc["__dict__"]}
    return {k: _decode(v, tensors) for k, v in doc.items()}
