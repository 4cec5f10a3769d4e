"""``load_clip(name_or_path)``: every CLIP the package knows, behind one interface.

What a name or path resolves to, in order:

================================  ===========================================================
``twemoji-clip``                  our domain CLIP, shipped in the package (offline)
a domain-CLIP checkpoint          a ``.safetensors`` file or folder written by
                                  ``stylegan clip train`` / ``stylegan clip export``
a Hugging Face CLIP folder        a real CLIP (needs ``transformers``: ``stylegan[clip]``)
``ViT-B/32``,                     OpenAI's CLIP, from ``<cache>/clip/``, downloaded there
``openai/clip-vit-base-patch32``  once (pinned revision, checked) when a network exists
================================  ===========================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from stylegan.clip.domain import is_domain_clip, load_domain_clip
from stylegan.clip.hf import (
    EXTRA_HINT,
    fetch_remote_clip,
    is_hf_clip_folder,
    load_hf_clip,
    remote_clip,
)
from stylegan.errors import StyleGANError
from stylegan.networks.clip import TextImageModel

_TRAIN = (
    "OMP_NUM_THREADS=1 nice -n 5 stylegan clip train --data {data} --captions {captions} "
    "--out {out} --seed 0 && stylegan clip export --checkpoint {out}/clip --out "
    "src/stylegan/assets/clip/twemoji-clip.safetensors --name twemoji-clip"
)


@dataclass(frozen=True)
class ShippedCLIP:
    """A CLIP bundled with the package: its name, what it is, how it was made."""

    name: str
    description: str
    command: str

    @property
    def file(self) -> Path:
        return Path(
            str(resources.files("stylegan") / "assets" / "clip" / f"{self.name}.safetensors")
        )

    @property
    def available(self) -> bool:
        return self.file.is_file()


SHIPPED: dict[str, ShippedCLIP] = {
    "twemoji-clip": ShippedCLIP(
        "twemoji-clip",
        "domain CLIP for 32 px emoji: frozen EfficientNet-Lite0 features + trained heads, "
        "word tokenizer over the Twemoji names, categories and pixel colours",
        _TRAIN.format(
            data="src/stylegan/assets/twemoji-32.zip",
            captions="src/stylegan/assets/twemoji-32-captions.csv",
            out="runs/twemoji-clip",
        ),
    ),
}


def available_clips() -> list[str]:
    """Names :func:`load_clip` resolves without a path: shipped ones, then published ones."""
    from stylegan.clip.hf import REMOTE

    return [n for n, s in SHIPPED.items() if s.available] + list(REMOTE)


def load_clip(
    name_or_path: str | os.PathLike[str] = "twemoji-clip",
    device: str | torch.device = "cpu",
    *,
    download: bool = True,
    progress: bool = True,
) -> TextImageModel:
    """A :class:`~stylegan.networks.clip.TextImageModel` in eval mode on ``device`` (see the
    module docstring for what ``name_or_path`` may be). ``download=False`` never touches the
    network."""
    key = os.fspath(name_or_path)
    shipped = SHIPPED.get(key.removesuffix(".safetensors"))
    if shipped is not None:
        if not shipped.available:
            raise StyleGANError(
                f"the bundled CLIP {shipped.name} is missing from this installation; "
                "reinstall stylegan"
            )
        return load_domain_clip(shipped.file, device)[0]
    path = Path(key).expanduser()
    if path.exists():
        if is_domain_clip(path):
            return load_domain_clip(path, device)[0]
        if path.is_dir() and is_hf_clip_folder(path):
            return load_hf_clip(path, device)
        raise StyleGANError(
            f"{path} is neither a domain-CLIP checkpoint (stylegan clip train) nor a Hugging "
            "Face CLIP folder (config.json, weights, vocab.json + merges.txt)"
        )
    spec = remote_clip(key)
    if spec is not None:
        from stylegan.clip.hf import transformers_available

        if not transformers_available():
            raise StyleGANError(
                f"{spec.name} is a real CLIP and needs the transformers package: {EXTRA_HINT}, "
                "or use twemoji-clip (offline, bundled)"
            )
        folder = fetch_remote_clip(spec, download=download, progress=progress)
        return load_hf_clip(folder, device, name=spec.name)
    raise StyleGANError(
        f"unknown CLIP {key!r}: not a file or folder; known names: {', '.join(available_clips())}"
    )
