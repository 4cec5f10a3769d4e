"""One entry point for every checkpoint format: ours, NVIDIA's pickles, rosinality's ``.pt``.

``load_any`` finds out what a path (or URL) holds from its first bytes, reads it without
running code from it, and returns our networks; ``save_as`` writes networks in any format we
export; ``inspect`` says what a file holds. Formats:

========================  =======================================================  =========
name                      what                                                     direction
========================  =======================================================  =========
``stylegan``              our folder or ``.safetensors`` (JSON config inside)       both
``nvidia-pytorch-pickle`` stylegan2-ada-pytorch / stylegan3 ``network-*.pkl``      read
``nvidia-tensorflow``     StyleGAN / StyleGAN2(-ADA) TensorFlow ``(G, D, Gs)``      read
``rosinality``            rosinality/stylegan2-pytorch ``.pt`` (g, d, g_ema, ...)   both
``official``              ``.pt``: state dicts + ``init_kwargs`` for NVIDIA's code  both
``nvidia-pickle``         ``network-*.pkl`` for NVIDIA's ``legacy.load_network_pkl`` write
========================  =======================================================  =========
"""

from __future__ import annotations

import argparse
import io
import pickle
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.io.atomic import write_atomically
from stylegan.io.checkpoint import (
    Checkpoint,
    check_checkpoint_destination,
    load_checkpoint,
    read_config,
    save_checkpoint,
    stored_elements,
    verify_checkpoint,
)
from stylegan.io.limits import RefusedFileError, build_network, check_object_graph
from stylegan.io.paths import check_new_destination
from stylegan.io.safe_pickle import LEGACY_TORCH_MAGIC, UnsafePickleError, safe_load

EXPORT_FORMATS = ("safetensors", "official", "rosinality", "nvidia-pickle")
ZIP_MAGIC = b"PK\x03\x04"


def _legacy_torch_header() -> bytes:
    """First bytes of a legacy (pre-zip) ``torch.save`` file: pickle protocol 2, LONG1 magic."""
    magic = LEGACY_TORCH_MAGIC.to_bytes(10, "little")
    return b"\x80\x02\x8a\x0a" + magic


def resolve_path(path_or_url: str | Path) -> Path:
    """A local path for a path, an http(s) URL, a bundled zoo name (``twemoji-32``) or a
    pretrained name (downloaded once, cached)."""
    from stylegan.io.download import resolve
    from stylegan.io.pretrained import pretrained_url
    from stylegan.io.zoo import zoo_path

    if isinstance(path_or_url, str) and not Path(path_or_url).expanduser().exists():
        path_or_url = zoo_path(path_or_url) or pretrained_url(path_or_url) or path_or_url
    return resolve(path_or_url)


def detect_format(path: Path) -> str:
    """``stylegan``, ``pickle`` (NVIDIA, PyTorch or TF) or ``torch`` (a ``torch.save`` file)."""
    if path.is_dir() or path.suffix == ".safetensors":
        return "stylegan"
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(ZIP_MAGIC) or head.startswith(_legacy_torch_header()):
        return "torch"
    if head[:1] == b"\x80" or head[:1] in (b"(", b"}", b"]"):
        return "pickle"
    raise StyleGANError(
        f"cannot tell what {path} is: expected a stylegan checkpoint, an NVIDIA .pkl or a "
        "rosinality .pt"
    )


def load_torch_file(path: Path) -> Any:
    """``torch.load`` restricted to tensors and containers (plus rosinality's ``args``).

    What it returns is bounded by the file (:mod:`stylegan.io.limits`): views larger than their
    storage, shared references standing for huge trees, deep nesting and compressed zip
    entries (torch never writes them; they can inflate a small file) are refused.
    """
    size = path.stat().st_size
    try:
        source: Path | io.BytesIO = path
        with open(path, "rb") as f:
            is_zip = f.read(4) == ZIP_MAGIC
        if is_zip:
            _check_torch_zip(path, size)
        else:  # legacy format: read from memory, so declared lengths cannot outgrow the file
            source = io.BytesIO(path.read_bytes())
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(source, map_location="cpu", weights_only=True)
        check_object_graph(obj, size)
        return obj
    except RefusedFileError as err:
        raise err.located(str(path)) from None
    except pickle.UnpicklingError as err:
        match = re.search(r"GLOBAL ([\w.]+)", str(err))
        name = match.group(1) if match else "a non-tensor object"
        raise UnsafePickleError(
            f"refusing to load {path}: it references {name}, which a checkpoint never needs "
            "and which could run code; nothing from the file was run"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise StyleGANError(
            f"cannot read {path} as a PyTorch file ({first}); the file is damaged or truncated"
        ) from None


def _check_torch_zip(path: Path, size: int) -> None:
    with zipfile.ZipFile(path) as archive:
        entries = archive.infolist()
    if any(e.compress_type != zipfile.ZIP_STORED for e in entries):
        raise RefusedFileError(
            "the PyTorch zip has compressed entries (torch.save never writes them)"
        )
    total = sum(e.file_size for e in entries)
    if total > size:
        raise RefusedFileError(
            f"the PyTorch zip's entries declare {total:,} bytes, more than the file's {size:,}"
        )


def read_foreign(
    path: Path, nets: list[str] | None = None, force_fp16: bool = False, on_meta: bool = False
) -> tuple[str, dict[str, nn.Module], dict[str, Any]]:
    """``(format, networks, metadata)`` of a file that is not in our format.

    ``on_meta`` builds the networks on the ``meta`` device: settings and shapes, no weights.
    """

    kind = detect_format(path)
    obj = safe_load(path) if kind == "pickle" else load_torch_file(path)
    try:
        if not on_meta:
            return _networks_from_object(obj, kind, path, nets, force_fp16)
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "copying into a meta parameter is a no-op"
            return _networks_from_object(obj, kind, path, nets, force_fp16)
    except RefusedFileError as err:  # e.g. kwargs for a network larger than the file
        raise err.located(str(path)) from None


def _networks_from_object(
    obj: Any, kind: str, path: Path, nets: list[str] | None, force_fp16: bool
) -> tuple[str, dict[str, nn.Module], dict[str, Any]]:
    from stylegan.io import nvidia

    if kind == "pickle" and nvidia.is_nvidia_pickle(obj):
        networks, meta = nvidia.networks_from_pickle(obj, nets, force_fp16)
        return "nvidia-pytorch-pickle", networks, meta
    if kind == "torch" and nvidia.is_official_state_dicts(obj):
        networks, meta = nvidia.networks_from_official_state_dicts(obj, nets, force_fp16)
        return "official", networks, meta
    if kind == "pickle":
        from stylegan.io import tensorflow

        if tensorflow.is_tf_networks(obj):
            networks, meta = tensorflow.networks_from_tf(obj)
            networks = _select(networks, nets, path, force_fp16)
            return "nvidia-tensorflow", networks, {"source": meta}
    if kind == "torch":
        from stylegan.io import rosinality

        if rosinality.is_rosinality_checkpoint(obj):
            networks, meta = rosinality.networks_from_rosinality(obj)
            networks = _select(networks, nets, path, force_fp16)
            return "rosinality", networks, {"source": meta}
    what = "pickle" if kind == "pickle" else "PyTorch file"
    raise StyleGANError(
        f"{path} is a {what} but not a network checkpoint we know (NVIDIA snapshot .pkl, "
        "StyleGAN/StyleGAN2 TensorFlow .pkl, rosinality .pt or a stylegan export)"
    )


def _select(
    networks: dict[str, nn.Module], nets: list[str] | None, path: Path, force_fp16: bool
) -> dict[str, nn.Module]:
    """The requested networks; ``force_fp16`` rebuilds them as the official legacy.py does."""
    from stylegan.io.nvidia import FORCE_FP16

    wanted = list(networks) if nets is None else list(nets)
    for key in wanted:
        if key not in networks:
            raise StyleGANError(
                f"{path} holds no network {key!r}; it has {', '.join(networks) or 'none'}"
            )
    out = {}
    for key in wanted:
        net = networks[key]
        if force_fp16:
            rebuilt = type(net).from_config(net.config.replace(**FORCE_FP16))
            rebuilt.load_state_dict(net.state_dict())
            net = rebuilt.eval()
        out[key] = net
    return out


def load_any(
    path_or_url: str | Path,
    device: str | torch.device = "cpu",
    nets: list[str] | tuple[str, ...] | None = None,
    force_fp16: bool = False,
    training_state: bool = True,
) -> Checkpoint:
    """Load a checkpoint of any supported format as a :class:`Checkpoint` of our networks.

    ``force_fp16`` sets ``num_fp16_res=4, conv_clamp=256`` like the official ``--force-fp16``
    (the clamp changes outputs; those blocks compute in fp16 once
    :func:`stylegan.networks.layers.set_mixed_precision` is called, in fp32 until then).
    """
    path = resolve_path(path_or_url)
    nets = None if nets is None else list(nets)
    if detect_format(path) == "stylegan":
        ckpt = load_checkpoint(path, device=device, nets=nets, training_state=training_state)
        if force_fp16:
            ckpt.networks = _select(ckpt.networks, None, path, True)
            ckpt.networks = {k: v.to(device) for k, v in ckpt.networks.items()}
        return ckpt
    fmt, networks, metadata = read_foreign(path, nets, force_fp16)
    metadata.setdefault("source", {})["format"] = fmt
    networks = {key: net.to(device) for key, net in networks.items()}
    return Checkpoint(path=path, networks=networks, metadata=metadata, training_state=None)


def load_network(
    path_or_url: str | Path,
    net: str = "G_ema",
    device: str | torch.device = "cpu",
    force_fp16: bool = False,
) -> nn.Module:
    """One network (``G_ema`` by default) of any supported checkpoint, in eval mode."""
    ckpt = load_any(path_or_url, device, nets=[net], force_fp16=force_fp16, training_state=False)
    return ckpt.networks[net].eval()


# ---- writing --------------------------------------------------------------------------------


def is_torch_file(path: Path) -> bool:
    """Whether ``path`` is a ``torch.save`` file, by its content (what the .pt exports write)."""
    if path.is_symlink() or not path.is_file():
        return False
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(_legacy_torch_header()):
        return True
    if not head.startswith(ZIP_MAGIC):
        return False
    try:  # any zip starts so; torch's archives hold <name>/data.pkl
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/data.pkl") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


# What --overwrite may replace, per export format (recognised by content, not by suffix).
def _is_pickle_file(path: Path) -> bool:
    """A regular file that starts as a pickle of protocol 2 or later (as NVIDIA's .pkl do)."""
    if not path.is_file() or path.is_symlink():
        return False
    with open(path, "rb") as f:
        return f.read(1) == b"\x80"


REPLACEABLE = {
    "official": is_torch_file,
    "rosinality": is_torch_file,
    "nvidia-pickle": _is_pickle_file,
}


def check_export_destination(
    path: str | Path, to: str = "safetensors", overwrite: bool = False
) -> Path:
    """Refuse, before any work, a destination :func:`save_as` would not write: an existing one
    without ``overwrite``, or anything but a file of format ``to`` (our checkpoint for
    ``safetensors``) even with it."""
    if to == "safetensors":
        return check_checkpoint_destination(path, overwrite)
    kind = f"a {'pickle' if to == 'nvidia-pickle' else 'PyTorch'} file like those --to {to} writes"
    return check_new_destination(path, overwrite, REPLACEABLE.get(to), kind=kind)


def _tensor_bytes(obj: Any) -> int:
    """Bytes of all tensors in a nested structure: what ``torch.save`` of it needs on disk."""
    if isinstance(obj, torch.Tensor):
        return obj.nbytes
    if isinstance(obj, dict):
        return sum(_tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(v) for v in obj)
    return 0


def save_as(
    path: str | Path,
    networks: dict[str, nn.Module],
    to: str = "safetensors",
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
    nvidia_src: str | Path | None = None,
    drop_clamp: bool = False,
) -> Path:
    """Write ``networks`` (keyed G, D, G_ema) in export format ``to``, atomically.

    An existing ``path`` is refused unless ``overwrite``, and replaced only if it is of that
    format (see :func:`check_export_destination`). ``nvidia_src``: the NVIDIA checkout whose
    network source an ``nvidia-pickle`` embeds; ``drop_clamp``: let ``rosinality`` leave out
    ``conv_clamp`` (see :func:`convert`).
    """
    from stylegan.io import nvidia, nvidia_pickle, rosinality

    path = Path(path)
    dump: Any = torch.save
    if to == "safetensors":
        return save_checkpoint(path, networks, metadata=metadata, overwrite=overwrite)
    if to == "official":
        if path.suffix == ".pkl":
            raise StyleGANError(
                f"{path}: the official export is a torch.save file of state dicts (name it .pt), "
                "which NVIDIA's legacy.load_network_pkl cannot read; for a pickle their code "
                "loads use --to nvidia-pickle --nvidia-src PATH_TO_THEIR_CHECKOUT"
            )
        obj = nvidia.official_state_dicts(networks)
    elif to == "rosinality":
        obj = rosinality.rosinality_from_networks(networks, drop_clamp=drop_clamp)
    elif to == "nvidia-pickle":
        if nvidia_src is None:
            raise StyleGANError(
                "--to nvidia-pickle embeds NVIDIA's network source: give --nvidia-src with the "
                "path of a NVlabs/stylegan3 or NVlabs/stylegan2-ada-pytorch checkout"
            )
        training_set_kwargs = (metadata or {}).get("training_set_kwargs")
        if not isinstance(training_set_kwargs, dict):
            training_set_kwargs = None
        obj = nvidia_pickle.snapshot(networks, nvidia_src, training_set_kwargs)
        dump = nvidia_pickle.dump
    else:
        raise StyleGANError(f"unknown format {to!r}: choose one of {', '.join(EXPORT_FORMATS)}")
    if path.is_dir():
        raise StyleGANError(f"{path} is a folder; the {to} format is a single file, e.g. out.pt")
    check_export_destination(path, to, overwrite)
    needed = _tensor_bytes(obj)
    return write_atomically(path, lambda tmp: dump(obj, tmp), needed, overwrite=overwrite)


MEASURE_SEEDS = tuple(range(8))


@dataclass(frozen=True)
class Conversion:
    """What :func:`convert` wrote. Path-like (``open(result)`` opens :attr:`path`)."""

    path: Path
    format: str
    # Largest |source image - image of the written file, re-loaded| over MEASURE_SEEDS (fp32,
    # CPU, constant noise), measured when the format drops a setting; None when nothing dropped.
    max_abs_difference: float | None = None
    warnings: tuple[str, ...] = ()

    def __fspath__(self) -> str:
        return str(self.path)


def convert(
    source: str | Path,
    dest: str | Path,
    to: str = "safetensors",
    nets: list[str] | None = None,
    force_fp16: bool = False,
    overwrite: bool = False,
    nvidia_src: str | Path | None = None,
) -> Conversion:
    """Read any supported checkpoint and write its networks in format ``to``.

    ``dest`` is checked first, so nothing is read (or downloaded) for a destination that would
    be refused; an existing one is replaced only with ``overwrite`` and only if it is of format
    ``to``. rosinality has no activation clamp and no fp16: networks with ``conv_clamp`` (every
    NVIDIA mixed-precision release) convert with a warning, and the images the written file
    gives are compared with the source's (:attr:`Conversion.max_abs_difference`).
    """
    from stylegan.io import rosinality

    if to not in EXPORT_FORMATS:
        raise StyleGANError(f"unknown format {to!r}: choose one of {', '.join(EXPORT_FORMATS)}")
    check_export_destination(dest, to, overwrite)
    ckpt = load_any(source, nets=nets, force_fp16=force_fp16, training_state=False)
    metadata = dict(ckpt.metadata)
    metadata.setdefault("converted_from", str(source))
    path = save_as(
        dest,
        ckpt.networks,
        to=to,
        metadata=metadata,
        overwrite=overwrite,
        nvidia_src=nvidia_src,
        drop_clamp=True,
    )
    dropped = rosinality.dropped_settings(ckpt.networks) if to == "rosinality" else []
    notes = []
    if dropped:  # said once the file is written: any setting it cannot drop raised above
        notes.append(
            f"rosinality cannot express {', '.join(dropped)}: converted without them; the "
            "outputs differ only where an activation exceeds the clamp"
        )
        warnings.warn(notes[-1], UserWarning, stacklevel=2)
    difference = None
    generator = next((k for k in ("G_ema", "G") if k in ckpt.networks), None)
    if dropped and generator is not None:
        written = load_network(path, net=generator)
        difference = image_difference(ckpt.networks[generator], written)
    return Conversion(path, to, difference, tuple(notes))


@torch.no_grad()
def image_difference(
    first: nn.Module, second: nn.Module, seeds: tuple[int, ...] = MEASURE_SEEDS
) -> float:
    """Largest absolute difference between two generators' images for ``seeds``, in fp32 on
    the CPU with constant noise and no truncation, one seed at a time (large networks fit)."""
    from stylegan.latents import z_from_seeds

    first, second = first.float().cpu().eval(), second.float().cpu().eval()
    largest = 0.0
    for seed in seeds:
        z = z_from_seeds([seed], first.z_dim)
        a = first(z, truncation_psi=1, noise_mode="const")
        b = second(z, truncation_psi=1, noise_mode="const")
        largest = max(largest, (a - b).abs().max().item())
    return largest


# ---- inspecting -----------------------------------------------------------------------------


def inspect(path_or_url: str | Path) -> dict[str, Any]:
    """What a checkpoint holds: format, networks with their settings and sizes, metadata.

    For our format, ``damaged`` lists what :func:`~stylegan.io.checkpoint.verify_checkpoint`
    found wrong (absent when intact); a damaged snapshot never counts as resumable.

    Tensors are read once at most: our format's header gives shapes without reading tensor
    data; foreign files are read once and our modules are built on the ``meta`` device, so no
    second copy of the weights is allocated.
    """
    path = resolve_path(path_or_url)
    info: dict[str, Any] = {"path": str(path)}
    if path.is_file():
        info["bytes"] = path.stat().st_size
    if detect_format(path) == "stylegan":
        damaged = verify_checkpoint(path)
        config = read_config(path)  # raises (naming the damage) if even the config is unreadable
        from stylegan.networks.registry import network_class

        stored = stored_elements(path)
        networks = {}
        for key, entry in config["networks"].items():
            cls, what = network_class(entry["class"]), f"{key} ({entry['class']})"
            try:
                with torch.device("meta"):
                    networks[key] = build_network(cls, entry["config"], what, stored.get(key))
            except RefusedFileError as err:
                raise err.located(str(path)) from None
        info["format"] = "stylegan"
        metadata = config.get("metadata", {})
        info["training_state"] = path.is_dir() and (path / "training_state.json").is_file()
        if damaged:  # a damaged snapshot is not resumable, whatever files it still has
            info["training_state"] = False
            info["damaged"] = damaged
    else:
        fmt, networks, metadata = read_foreign(path, on_meta=True)
        info["format"] = fmt
    info["networks"] = {key: describe_network(net) for key, net in networks.items()}
    info["metadata"] = metadata
    return info


def describe_network(net: nn.Module) -> dict[str, Any]:
    """Class, main settings and parameter count of one of our networks."""
    from stylegan.networks.registry import network_name

    cfg = net.config
    out: dict[str, Any] = {"class": network_name(net)}
    for name in ("img_resolution", "img_channels", "z_dim", "w_dim", "c_dim", "architecture"):
        if hasattr(cfg, name):
            out[name] = getattr(cfg, name)
    if hasattr(cfg, "num_ws"):
        out["num_ws"] = cfg.num_ws
    for name in ("channel_base", "channel_max", "num_fp16_res", "conv_clamp"):
        if hasattr(cfg, name):
            out[name] = getattr(cfg, name)
    out["params"] = sum(p.numel() for p in net.parameters())
    return out
