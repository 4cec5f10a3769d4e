"""What a CLIP is to the rest of the package, and the trainable part of our own domain CLIP.

:class:`TextImageModel` is the interface text-driven editing is written against (StyleCLIP's
losses and directions need nothing else): images and texts in, unit vectors out, compared by
cosine similarity. Two kinds implement it (see :mod:`stylegan.clip`): a real CLIP (OpenAI's
ViT-B/32 through ``transformers``) and our own small domain CLIP. Editing code receives such an
object; it never loads one itself, so tools do not depend on metrics or on ``transformers``.

:class:`CLIPHeads` is what our domain CLIP trains and saves: an MLP that projects frozen image
features (EfficientNet-Lite0 activations, computed by :mod:`stylegan.clip.domain`) into the
joint space, a small text transformer over word ids, and CLIP's learned temperature. It is an
ordinary registered network, so it lives in our checkpoint format.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.networks.config import ConfigBase, ConfiguredNetwork
from stylegan.networks.config_checks import _check_at_least

PAD_ID = 0  # token id 0 pads every sequence (the tokenizer reserves it)


@runtime_checkable
class TextImageModel(Protocol):
    """A CLIP: images and texts to unit vectors of one space, compared by cosine similarity.

    * ``encode_image(images)``: ``[N, C, H, W]`` images, uint8 in 0..255 or floats in [-1, 1]
      (a generator's output), any size (resized to ``image_size`` inside), on the model's device
      -> ``[N, embed_dim]`` float32 unit vectors, differentiable with respect to float images.
    * ``encode_text(texts)``: a list of strings -> ``[M, embed_dim]`` float32 unit vectors.
    * ``logit_scale``: the learned inverse temperature; ``logit_scale * cos`` are CLIP's logits
      (100 for OpenAI's CLIP, StyleCLIP's loss is ``1 - logit / 100``).
    * ``templates``: prompt templates with one ``{}`` each, suited to the model's training
      captions (averaged over for text directions, as StyleCLIP averages ImageNet templates;
      :func:`stylegan.tools.styleclip.text_features` uses them).
    """

    name: str
    embed_dim: int
    image_size: int
    templates: tuple[str, ...]

    @property
    def logit_scale(self) -> float: ...

    def encode_image(self, images: torch.Tensor) -> torch.Tensor: ...

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor: ...


def images_to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 images in 0..255 or float images in [-1, 1] -> float32 in [0, 1], RGB.

    The one input convention of :class:`TextImageModel` (the attribute probe's too): floats are
    what a generator returns, uint8 what is saved. Grayscale is repeated to three channels.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] not in (1, 3):
        shape = list(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise StyleGANError(f"expected images shaped [N, 1 or 3, H, W], got {shape}")
    if images.dtype == torch.uint8:
        x = images.float() / 255
    elif images.is_floating_point():
        x = (images.float() + 1) / 2
    else:
        raise StyleGANError(f"expected uint8 images or floats in [-1, 1], got {images.dtype}")
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


# ---- the trainable part of our domain CLIP --------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CLIPHeadsConfig(ConfigBase):
    """Sizes of :class:`CLIPHeads`: image features in, ``embed_dim`` out, a text transformer of
    ``text_layers`` layers (0: a bag of word embeddings) over at most ``context_length`` words."""

    feature_dim: int
    vocab_size: int
    embed_dim: int = 128
    image_hidden: int = 512
    text_width: int = 128
    text_layers: int = 0  # a bag of words retrieved unseen emoji better than 1 layer
    text_heads: int = 4
    context_length: int = 16
    dropout: float = 0.1
    logit_scale_init: float = math.log(1 / 0.07)  # CLIP's initial temperature 0.07
    logit_scale_max: float = 100.0  # CLIP clips the scale at 100

    def __post_init__(self):
        self._prepare_fields()
        _check_at_least(self, 1, "feature_dim", "embed_dim", "image_hidden", "text_width")
        _check_at_least(self, 1, "text_heads", "context_length")
        _check_at_least(self, 2, "vocab_size")
        _check_at_least(self, 0, "text_layers")
        if self.text_width % self.text_heads:
            raise StyleGANError(
                f"text_width {self.text_width} must be a multiple of text_heads {self.text_heads}"
            )
        if not 0 <= self.dropout < 1:
            raise StyleGANError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.logit_scale_max <= 0:
            raise StyleGANError(f"logit_scale_max must be > 0, got {self.logit_scale_max}")
        size = self.vocab_size * self.text_width + self.feature_dim * self.image_hidden
        size += self.text_layers * 12 * self.text_width**2
        if size > 1e9:
            raise StyleGANError(f"a CLIP head of ~{size:.2g} parameters is too large")

    def to_init_kwargs(self) -> dict[str, Any]:
        return self.to_dict()


class CLIPHeads(ConfiguredNetwork, nn.Module):
    """Image features ``[N, feature_dim]`` and word ids ``[M, L]`` -> unit vectors of one space.

    The image head standardises the features (``feature_mean``/``feature_std``, buffers set from
    the training data) and maps them through a two-layer MLP. The text tower embeds words and
    positions, runs a pre-norm transformer (no causal mask: the text is short and read whole)
    and mean-pools the non-padding positions, then projects. ``logit_scale`` is the log of
    CLIP's inverse temperature, learned and clipped at ``logit_scale_max``.
    """

    config_class: ClassVar[type[ConfigBase]] = CLIPHeadsConfig

    def __init__(self, **kwargs: Any):
        super().__init__()
        c = CLIPHeadsConfig(**kwargs)
        self._config = c
        self.embed_dim = c.embed_dim
        self.context_length = c.context_length
        self.register_buffer("feature_mean", torch.zeros([c.feature_dim]))
        self.register_buffer("feature_std", torch.ones([c.feature_dim]))
        self.image_head = nn.Sequential(
            nn.Linear(c.feature_dim, c.image_hidden),
            nn.GELU(),
            nn.Dropout(c.dropout),
            nn.Linear(c.image_hidden, c.embed_dim),
        )
        self.token_embedding = nn.Embedding(c.vocab_size, c.text_width, padding_idx=PAD_ID)
        self.position_embedding = nn.Parameter(torch.randn(c.context_length, c.text_width) * 0.01)
        self.transformer = None
        if c.text_layers:
            layer = nn.TransformerEncoderLayer(
                c.text_width,
                c.text_heads,
                4 * c.text_width,
                c.dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            self.transformer = nn.TransformerEncoder(
                layer, c.text_layers, enable_nested_tensor=False
            )
        self.ln_final = nn.LayerNorm(c.text_width)
        self.text_dropout = nn.Dropout(c.dropout)
        self.text_projection = nn.Linear(c.text_width, c.embed_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(c.logit_scale_init)))

    def set_feature_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Standardise image features with these (from the training images)."""
        with torch.no_grad():
            self.feature_mean.copy_(mean)
            self.feature_std.copy_(std.clamp(min=1e-4))

    def encode_features(self, features: torch.Tensor) -> torch.Tensor:
        """``[N, feature_dim]`` image features -> ``[N, embed_dim]`` unit vectors."""
        x = (features.float() - self.feature_mean) / self.feature_std
        return F.normalize(self.image_head(x), dim=1)

    def encode_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """``[M, L]`` word ids (``PAD_ID`` pads, ``L <= context_length``) -> ``[M, embed_dim]``."""
        if ids.ndim != 2 or ids.shape[1] > self.context_length:
            raise StyleGANError(
                f"expected word ids [M, <= {self.context_length}], got {list(ids.shape)}"
            )
        keep = ids != PAD_ID
        x = self.token_embedding(ids) + self.position_embedding[: ids.shape[1]]
        if self.transformer is not None:
            x = self.transformer(x, src_key_padding_mask=~keep)
        x = self.ln_final(x)
        weights = keep.unsqueeze(2).to(x.dtype)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1)
        return F.normalize(self.text_projection(self.text_dropout(pooled)), dim=1)

    def scale(self) -> torch.Tensor:
        """``exp(logit_scale)``, clipped at ``logit_scale_max`` (differentiable below it)."""
        return self.logit_scale.exp().clamp(max=self._config.logit_scale_max)
