"""ONNX export of generators, checked against PyTorch in onnxruntime.

A generator exports whole (``z [, c], psi -> image``), as its synthesis network alone
(``ws -> image``) or as its mapping network alone (``z [, c], psi -> ws``), with a dynamic batch
(the example input has batch 2: with batch 1 the exporter fixes the size). Export runs on the CPU,
where modulated convolutions take the non-fused route (a per-sample weight as a grouped
convolution would bake the batch into the graph). Noise is either baked in (``const``, as
``noise_mode="const"``), left out (``none``) or one input per noise layer (``input``,
``[batch, 1, R, R]`` standard normal, each scaled by the layer's learned strength inside).
Truncation psi is an input ``[1]`` applied to the network's default cutoff, so one file serves
every psi.

Beside ``FILE.onnx``, ``FILE.json`` says what the inputs and outputs are, their ranges, the
network and the parity measured (max |ONNX - PyTorch| per batch size) at export time.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.io.atomic import write_atomically
from stylegan.latents import random_class_labels

PARTS = ("generator", "synthesis", "mapping")
NOISE_CHOICES = ("const", "none", "input")
OPSET = 18
TOLERANCE = 1e-4
CHECK_BATCHES = (1, 2, 5)
EXTRA_HINT = "pip install 'stylegan[onnx]' (onnx, onnxruntime, onnxscript)"


@dataclasses.dataclass
class OnnxExport:
    """What :func:`export_onnx` wrote and measured."""

    path: Path
    info_path: Path
    parity: dict[int, float]  # batch size -> max |ONNX - PyTorch|
    info: dict[str, Any]


def require_onnx() -> None:
    """A one-line error naming the extra when onnx, onnxruntime or onnxscript is missing."""
    import importlib.util

    missing = [
        m for m in ("onnx", "onnxruntime", "onnxscript") if importlib.util.find_spec(m) is None
    ]
    if missing:
        raise StyleGANError(f"ONNX export needs {', '.join(missing)}: {EXTRA_HINT}")


def noise_buffers(synthesis: nn.Module) -> list[tuple[str, int]]:
    """``(buffer name, resolution)`` of every per-layer noise constant, in network order."""
    return [
        (name, int(buf.shape[-1]))
        for name, buf in synthesis.named_buffers()
        if name.endswith("noise_const")
    ]


class _Graph(nn.Module):
    """The exported function: ``part`` of ``G`` over flat tensor inputs (``z [, c], psi`` for
    mapping, ``ws [, noise...]`` for synthesis, both for the generator), noise baked, off or fed
    in, psi a tensor lerp on the default cutoff."""

    def __init__(self, G: nn.Module, part: str, noise: str, cutoff: int | None):
        super().__init__()
        self.mapping, self.synthesis = G.mapping, G.synthesis
        self.part, self.noise, self.cutoff, self.c_dim = part, noise, cutoff, int(G.c_dim)
        self.noise_names = (
            [name for name, _ in noise_buffers(G.synthesis)] if noise == "input" else []
        )
        # StyleGAN (v1)'s level of detail is a buffer read as a number: fixed at export.
        lod = getattr(G.synthesis, "lod", None)
        self.synthesis_kwargs = {} if lod is None else {"lod": float(lod)}

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        rest = list(inputs)
        if self.part == "synthesis":
            ws = rest.pop(0)
        else:
            z = rest.pop(0)
            c = rest.pop(0) if self.c_dim else torch.zeros(z.shape[0], 0, dtype=z.dtype)
            psi = rest.pop(0)
            ws = self.mapping.truncate(self.mapping(z, c, truncation_psi=1), psi, self.cutoff)
            if self.part == "mapping":
                return ws
        if self.noise == "input":
            # The noise constants swapped for the inputs, functionally: `const` noise is
            # `noise_const * strength`, so a [batch, 1, R, R] input broadcasts per sample.
            return torch.func.functional_call(
                self.synthesis, dict(zip(self.noise_names, rest)), (ws,),
                {"noise_mode": "const", **self.synthesis_kwargs}, strict=False,
            )  # fmt: skip
        return self.synthesis(ws, noise_mode=self.noise, **self.synthesis_kwargs)


def _inputs(G: nn.Module, part: str, noise: str, psi: float, batch: int, seed: int):
    """``(names, example tensors, descriptions)`` of the exported graph's inputs."""
    gen = torch.Generator().manual_seed(seed)
    names, tensors, about = [], [], []

    def add(name, tensor, shape, what, **extra):
        names.append(name)
        tensors.append(tensor)
        about.append({"name": name, "shape": shape, "dtype": "float32", "about": what, **extra})

    if part in ("generator", "mapping"):
        add("z", torch.randn(batch, G.z_dim, generator=gen), ["batch", int(G.z_dim)],
            "standard normal latents")  # fmt: skip
        if G.c_dim:
            labels = random_class_labels(G.c_dim, batch, gen)
            add("c", labels, ["batch", int(G.c_dim)], "one-hot class labels")
        add("psi", torch.tensor([psi]), [1], "truncation psi (1 = none)", default=psi)
    if part == "synthesis":
        z = torch.randn(batch, G.z_dim, generator=gen)
        ws = G.mapping(z, random_class_labels(G.c_dim, batch, gen))
        add("ws", ws.detach(), ["batch", int(G.num_ws), int(G.w_dim)], "intermediate latents")
    if part in ("generator", "synthesis") and noise == "input":
        for i, (_, res) in enumerate(noise_buffers(G.synthesis)):
            add(f"noise{i}", torch.randn(batch, 1, res, res, generator=gen),
                ["batch", 1, res, res], "standard normal noise")  # fmt: skip
    return names, tensors, about


def export_onnx(
    G: nn.Module,
    path: str | Path,
    *,
    part: str = "generator",
    noise: str = "const",
    truncation_psi: float | None = None,
    opset: int = OPSET,
    check_batches: Sequence[int] = CHECK_BATCHES,
    tolerance: float = TOLERANCE,
    source: str | None = None,
) -> OnnxExport:
    """Export ``G`` (or its ``part``) to ``path`` (.onnx) and check it in onnxruntime: a
    StyleGANError when any checked batch differs from PyTorch by more than ``tolerance``."""
    require_onnx()
    if part not in PARTS:
        raise StyleGANError(f"unknown part {part!r}: use one of {', '.join(PARTS)}")
    if noise not in NOISE_CHOICES:
        raise StyleGANError(f"unknown noise {noise!r}: use one of {', '.join(NOISE_CHOICES)}")
    if opset < 17:
        raise StyleGANError(f"opset {opset} is too old for this exporter: use 17 or newer")
    if not check_batches or min(check_batches) < 1:
        raise StyleGANError("check at least one batch size, each >= 1")
    path = Path(path).expanduser()
    if path.suffix != ".onnx":
        path = path.with_suffix(".onnx")
    G = copy.deepcopy(G).float().cpu().eval().requires_grad_(False)
    default_psi, cutoff = getattr(G, "default_truncation", (1.0, None))
    psi = float(default_psi if truncation_psi is None else truncation_psi)
    has_noise = bool(noise_buffers(G.synthesis))
    noise = noise if has_noise or part == "mapping" else "none"
    wrapper = _Graph(G, part, noise, cutoff).eval()
    names, example, about = _inputs(G, part, noise, psi, 2, seed=0)
    output = "ws" if part == "mapping" else "image"
    batch = torch.export.Dim("batch", min=1, max=4096)
    dynamic_shapes = (tuple({0: batch} if a["shape"][0] == "batch" else None for a in about),)
    # optimize=False: onnxscript's optimiser drops `x + 1e-8` (seen with onnxscript 0.7.2),
    # the epsilon that keeps StyleGAN (v1)'s instance norm of the constant input finite;
    # onnxruntime optimises the graph when it loads it anyway.
    with torch.no_grad():
        program = torch.onnx.export(
            wrapper, tuple(example), None, dynamo=True, input_names=names,
            output_names=[output], dynamic_shapes=dynamic_shapes, opset_version=opset,
            verbose=False, optimize=False,
        )  # fmt: skip
    weights = sum(t.numel() * t.element_size() for t in G.state_dict().values())
    write_atomically(
        path, lambda tmp: program.save(str(tmp), external_data=False), weights, overwrite=True
    )
    parity = check_onnx(wrapper, path, G, part, noise, psi, check_batches)
    info = {
        "format": "stylegan-onnx",
        "part": part,
        "inputs": about,
        "outputs": [_output_info(G, part)],
        "noise": noise if has_noise else "none (the network has no noise)",
        "truncation": {"psi_default": psi, "cutoff": cutoff},
        "resolution": int(G.img_resolution),
        "img_channels": int(G.img_channels),
        "z_dim": int(G.z_dim),
        "c_dim": int(G.c_dim),
        "w_dim": int(G.w_dim),
        "num_ws": int(G.num_ws),
        "source": source,
        "opset": opset,
        "parity_max_abs": {str(b): d for b, d in parity.items()},
        "tolerance": tolerance,
        "versions": _versions(),
    }
    info_path = path.with_suffix(".json")
    text = (json.dumps(info, indent=2) + "\n").encode()
    write_atomically(info_path, lambda tmp: tmp.write_bytes(text), len(text), overwrite=True)
    worst = max(parity.values())
    if not worst <= tolerance:
        raise StyleGANError(
            f"ONNX output differs from PyTorch by {worst:.2e} (> {tolerance:g}) in {path}: "
            "report it with the network, or try another --opset"
        )
    return OnnxExport(path, info_path, parity, info)


def _output_info(G: nn.Module, part: str) -> dict[str, Any]:
    if part == "mapping":
        return {"name": "ws", "shape": ["batch", int(G.num_ws), int(G.w_dim)], "dtype": "float32"}
    return {
        "name": "image",
        "shape": ["batch", int(G.img_channels), int(G.img_resolution), int(G.img_resolution)],
        "dtype": "float32",
        "range": [-1, 1],
        "about": "RGB, NCHW; uint8 pixels = clip(image * 127.5 + 128, 0, 255)",
    }


def _versions() -> dict[str, str]:
    import onnxruntime

    return {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__}


def onnx_session(path: str | Path, threads: int | None = None):
    """An onnxruntime CPU session whose threads do not spin after a call (spinning threads
    would take the cores from PyTorch running in the same process)."""
    require_onnx()
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only (not its constant-folding notes)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def check_onnx(
    wrapper: nn.Module,
    path: Path,
    G: nn.Module,
    part: str,
    noise: str,
    psi: float,
    batches: Sequence[int],
) -> dict[int, float]:
    """Max |ONNX - PyTorch| of the exported graph for fresh inputs at each batch size."""
    session = onnx_session(path)
    parity = {}
    for batch in batches:
        names, tensors, _ = _inputs(G, part, noise, psi, int(batch), seed=1000 + int(batch))
        with torch.no_grad():
            expected = wrapper(*tensors).numpy()
        got = session.run(None, {n: t.numpy() for n, t in zip(names, tensors)})[0]
        if got.shape != expected.shape:
            raise StyleGANError(
                f"ONNX output has shape {list(got.shape)} at batch {batch}, PyTorch "
                f"{list(expected.shape)}: the batch is not dynamic in {path}"
            )
        parity[int(batch)] = float(np.abs(got - expected).max())
        if not np.isfinite(got).all():
            parity[int(batch)] = float("inf")
    return parity
