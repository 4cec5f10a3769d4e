"""Our own trained networks, shipped inside the package: every control works offline.

``stylegan.load("twemoji-32")`` and ``--network twemoji-32`` read the bundled file; no network
access is needed. Each entry records how it was trained (the exact command), so anyone can
reproduce or extend it. The weights are ``G_ema`` only, stored in fp16 (half the size; the
loader widens them back to fp32), in one self-describing ``.safetensors`` file.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

# Two sessions: 92 CPU-minutes from scratch (61 kimg), then, those snapshots lost with their
# machine, 110 more from the exported G_ema with a fresh D (scripts/zoo_warm_start.py).
_TRAIN = (
    "OMP_NUM_THREADS=1 stylegan train --cfg small --cond {cond} --seed {seed} "
    "--kimg 100000 --minutes 600 --workers 0 --outdir zoo/{name} (stopped at 61 kimg); then "
    "python scripts/zoo_warm_start.py {name} warm-{name} && OMP_NUM_THREADS=1 stylegan train "
    "--cfg small --cond {cond} --seed {seed} --kimg 100000 --minutes 110 --workers 0 "
    "--outdir zoo/{name} --resume warm-{name} --networks-only"
)


@dataclass(frozen=True)
class ZooNetwork:
    """One bundled network: what it is, how it was made, and where its file lives."""

    name: str
    description: str
    command: str  # how it was trained (then exported with scripts/export_zoo.py)
    conditional: bool = False  # its class names are in the file's metadata (``class_names``)

    @property
    def file(self) -> Path:
        return Path(
            str(resources.files("stylegan") / "assets" / "zoo" / f"{self.name}.safetensors")
        )

    @property
    def available(self) -> bool:
        return self.file.is_file()


ZOO: dict[str, ZooNetwork] = {
    "twemoji-32": ZooNetwork(
        "twemoji-32",
        "StyleGAN2 (small preset), 32 px emoji of the bundled Twemoji sample, unconditional",
        _TRAIN.format(cond=0, seed=0, name="twemoji-32"),
    ),
    "twemoji-32-cond": ZooNetwork(
        "twemoji-32-cond",
        "StyleGAN2 (small preset), 32 px emoji conditioned on the emoji category",
        _TRAIN.format(cond=1, seed=1, name="twemoji-32-cond"),
        conditional=True,
    ),
}


def zoo_path(name: str) -> Path | None:
    """The bundled file for a zoo name (``.safetensors`` suffix optional), or None."""
    entry = ZOO.get(str(name).removesuffix(".safetensors"))
    return entry.file if entry is not None and entry.available else None


def export_zoo_network(
    snapshot: str | Path,
    name: str,
    out: str | Path | None = None,
    info: dict | None = None,
    class_names: list[str] | None = None,
) -> Path:
    """Write a training snapshot's ``G_ema`` as the bundled fp16 file of zoo entry ``name``
    (``class_names``: what each class index of a conditional network means)."""
    from stylegan.io.checkpoint import load_checkpoint, save_checkpoint

    entry = ZOO[name]
    ckpt = load_checkpoint(snapshot, nets=["G_ema"], training_state=False)
    G = ckpt.networks["G_ema"].eval()
    for tensor in [*G.parameters(), *G.buffers()]:  # fp16 storage: round through half now
        if tensor.is_floating_point():
            tensor.data = tensor.data.half()
    metadata = dict(ckpt.metadata)
    metadata.update(zoo_name=name, description=entry.description, command=entry.command)
    metadata.update(info or {})
    if class_names:
        metadata["class_names"] = list(class_names)
    out = Path(out) if out is not None else entry.file
    return save_checkpoint(out, {"G_ema": G}, metadata=metadata, overwrite=True)
