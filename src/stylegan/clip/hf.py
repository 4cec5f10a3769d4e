"""A real CLIP (OpenAI's ViT-B/32, the one StyleCLIP uses) through Hugging Face ``transformers``.

``transformers`` is an optional extra (``pip install 'stylegan[clip]'``): it installs beside
our pinned torch without pulling another one. (``open_clip_torch`` would not: it needs
``torchvision``, which pins its own torch.) No wheel ships CLIP weights, so they come from:

* a local folder in the Hugging Face layout (``config.json``, ``pytorch_model.bin`` or
  ``model.safetensors``, ``vocab.json`` + ``merges.txt`` or ``tokenizer.json``), e.g. a
  ``save_pretrained`` output or a clone of ``huggingface.co/openai/clip-vit-base-patch32``;
* or, for the names in :data:`REMOTE` (``openai/clip-vit-base-patch32``, alias ``ViT-B/32``),
  a one-time download of the files of a pinned revision (a commit: the files cannot change
  under it) into ``<cache>/clip/<name>/`` through :mod:`stylegan.io.download`, which records
  each file's SHA-256 and checks it again whenever the cached file is reused.

Weights are read as tensors only (safetensors, or ``torch.load(weights_only=True)``, which
``transformers`` uses); nothing in a weights file is run, and no remote code is trusted.

Images go in as :class:`~stylegan.networks.clip.TextImageModel` says (uint8 or [-1, 1]),
are centre-cropped to a square, resized to the model's ``image_size`` (224) with bicubic
interpolation (anti-aliased when shrinking) and normalised with the mean and std of the
model's ``preprocessor_config.json`` (OpenAI's values without one), all differentiably.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.networks.clip import images_to_unit_range

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
# A few of the prompt templates of CLIP's ImageNet evaluation.
PHOTO_TEMPLATES = (
    "a photo of a {}.",
    "a rendering of a {}.",
    "a cropped photo of the {}.",
    "the photo of a {}.",
    "a photo of a clean {}.",
)
EXTRA_HINT = "pip install 'stylegan[clip]' (the transformers package)"
OFFLINE_HINT = "or use twemoji-clip, our CLIP that ships with the package"


@dataclass(frozen=True)
class RemoteCLIP:
    """A published CLIP: a Hugging Face repository at a pinned revision, and its files."""

    name: str
    repo: str
    revision: str
    files: tuple[str, ...]
    sha256: dict[str, str] = field(default_factory=dict)  # pinned checksums, where known
    host: str = "https://huggingface.co"

    def url(self, file: str) -> str:
        return f"{self.host}/{self.repo}/resolve/{self.revision}/{file}"


OPENAI_VIT_B32 = RemoteCLIP(
    name="openai/clip-vit-base-patch32",
    repo="openai/clip-vit-base-patch32",
    revision="3d74acf9a28c67741b2f4f2ea7635f0aaf6f0268",
    files=(
        "config.json", "preprocessor_config.json", "tokenizer_config.json", "vocab.json",
        "merges.txt", "special_tokens_map.json", "pytorch_model.bin",
    ),
)  # fmt: skip
REMOTE: dict[str, RemoteCLIP] = {OPENAI_VIT_B32.name: OPENAI_VIT_B32}
ALIASES = {
    "vit-b/32": OPENAI_VIT_B32.name,
    "vit-b-32": OPENAI_VIT_B32.name,
    "clip-vit-base-patch32": OPENAI_VIT_B32.name,
    "openai/clip-vit-base-patch32": OPENAI_VIT_B32.name,
}


def remote_clip(name: str) -> RemoteCLIP | None:
    """The published CLIP a name stands for (case-insensitive, aliases included), or None."""
    key = ALIASES.get(str(name).strip().lower())
    return None if key is None else REMOTE[key]


def transformers_available() -> bool:
    """Whether ``transformers`` can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("transformers") is not None


def _transformers():
    try:
        import transformers
    except ImportError as err:
        raise StyleGANError(
            f"a real CLIP needs the transformers package ({err}); {EXTRA_HINT}, {OFFLINE_HINT}"
        ) from None
    return transformers


class HFCLIP(nn.Module):
    """A ``transformers`` ``CLIPModel`` and its tokenizer as a
    :class:`~stylegan.networks.clip.TextImageModel` (frozen: no parameter needs gradients,
    images still get them)."""

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        *,
        name: str = "clip",
        mean: Sequence[float] = OPENAI_MEAN,
        std: Sequence[float] = OPENAI_STD,
        templates: Sequence[str] = PHOTO_TEMPLATES,
    ):
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.name = name
        self.templates = tuple(templates)
        config = model.config
        size = config.vision_config.image_size
        self.image_size = int(size if isinstance(size, int) else size[0])
        self.embed_dim = int(config.projection_dim)
        self.context_length = int(config.text_config.max_position_embeddings)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> HFCLIP:
        return super().train(False)  # no dropout, ever: a frozen encoder

    @property
    def device(self) -> torch.device:
        return self.mean.device

    @property
    def logit_scale(self) -> float:
        return float(self.model.logit_scale.detach().exp())

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Images -> normalised ``[N, 3, image_size, image_size]`` pixel values (see the module
        docstring)."""
        x = images_to_unit_range(images).to(self.device)
        h, w = x.shape[2:]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        x = x[:, :, top : top + side, left : left + side]
        if side != self.image_size:
            x = F.interpolate(
                x, size=(self.image_size, self.image_size), mode="bicubic",
                align_corners=False, antialias=side > self.image_size,
            )  # fmt: skip
        return (x - self.mean) / self.std

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        out = self.model.get_image_features(pixel_values=self.preprocess(images))
        return F.normalize(_pooled(out).float(), dim=1)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        if isinstance(texts, str):
            raise StyleGANError("encode_text takes a list of strings, not one string")
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.context_length,
            return_tensors="pt",
        )  # fmt: skip
        out = self.model.get_text_features(
            input_ids=batch["input_ids"].to(self.device),
            attention_mask=batch["attention_mask"].to(self.device),
        )
        return F.normalize(_pooled(out).float(), dim=1)


def _pooled(out: Any) -> torch.Tensor:
    """The projected features: transformers 4 returns them, 5 wraps them in an output object."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def is_hf_clip_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a Hugging Face CLIP (its config says ``clip``)."""
    config = Path(path) / "config.json"
    try:
        return json.loads(config.read_text()).get("model_type") == "clip"
    except (OSError, ValueError, AttributeError):
        return False


def load_hf_clip(
    path: str | Path, device: str | torch.device = "cpu", name: str | None = None
) -> HFCLIP:
    """A CLIP from a local Hugging Face folder (see the module docstring); never downloads."""
    path = Path(path).expanduser()
    if not is_hf_clip_folder(path):
        raise StyleGANError(
            f"{path} is not a Hugging Face CLIP folder (a config.json with model_type clip); "
            f"pass the folder of a CLIP saved with save_pretrained, {OFFLINE_HINT}"
        )
    transformers = _transformers()
    try:
        model = transformers.CLIPModel.from_pretrained(
            str(path), local_files_only=True, trust_remote_code=False
        )
        tokenizer = transformers.CLIPTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise StyleGANError(f"cannot load the CLIP in {path} ({first})") from None
    mean, std = OPENAI_MEAN, OPENAI_STD
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        pre = json.loads((path / "preprocessor_config.json").read_text())
        mean, std = tuple(pre["image_mean"]), tuple(pre["image_std"])
    clip = HFCLIP(model, tokenizer, name=name or path.name, mean=mean, std=std)
    return clip.to(device)


def fetch_remote_clip(
    spec: RemoteCLIP,
    *,
    cache: str | Path | None = None,
    download: bool = True,
    progress: bool = True,
) -> Path:
    """The local folder of a published CLIP: ``<cache>/clip/<name>/``, downloading its files
    once (each checked by :func:`stylegan.io.download.download`)."""
    from stylegan.io.download import cache_dir
    from stylegan.io.download import download as fetch

    root = (Path(cache).expanduser() if cache is not None else cache_dir()) / "clip"
    folder = root / spec.name.replace("/", "--")
    record = folder / "files.json"
    if _complete(folder, record, spec):
        return folder
    if not download:
        raise StyleGANError(_missing(spec, folder, "not downloaded yet"))
    files = {}
    for file in spec.files:
        try:
            got = fetch(spec.url(file), sha256=spec.sha256.get(file), cache=root / "downloads",
                        progress=progress)  # fmt: skip
        except StyleGANError as err:
            raise StyleGANError(_missing(spec, folder, str(err).split("; ")[0])) from None
        folder.mkdir(parents=True, exist_ok=True)
        _link_or_copy(got, folder / file)
        files[file] = got.stat().st_size
    record.write_text(json.dumps({"repo": spec.repo, "revision": spec.revision, "sizes": files}))
    return folder


def _complete(folder: Path, record: Path, spec: RemoteCLIP) -> bool:
    try:
        data = json.loads(record.read_text())
        sizes = data["sizes"]
        return data["revision"] == spec.revision and all(
            (folder / f).stat().st_size == sizes[f] for f in spec.files
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _link_or_copy(src: Path, dest: Path) -> None:
    """A hard link (no second copy on disk), or a copy across file systems."""
    dest.unlink(missing_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def _missing(spec: RemoteCLIP, folder: Path, reason: str) -> str:
    return (
        f"the CLIP {spec.name} is not available ({reason}); download "
        f"{', '.join(spec.files)} from {spec.host}/{spec.repo} into {folder} "
        f"(or any folder, and pass its path), {OFFLINE_HINT}"
    )
