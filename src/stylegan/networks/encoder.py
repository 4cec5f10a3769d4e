"""An image -> W+ encoder in the spirit of pSp and e4e, sized for our small generators.

pSp (Richardson et al.) reads the styles of a generator off a feature pyramid: coarse styles from
the deepest map, middle styles from the middle one, fine styles from the shallowest (its
``GradualStyleEncoder`` over an IR-SE50 backbone, 256 px input). e4e (Tov et al.) keeps W+ near
W, where edits work best: one base ``w`` plus per-layer offsets ``delta_i``, regularised and
unlocked one layer at a time. Here:

* a residual convolutional backbone halves the image from ``img_resolution`` down to 4x4;
* a feature pyramid (top-down, as pSp's) merges the 4x4, 8x8 and 16x16 maps;
* three heads pool one map each to a vector: coarse (4x4), middle (8x8), fine (16x16); the base
  ``w`` comes from the coarse head, each layer's delta from its group's head;
* the output is ``ws = w_avg + w_std * (base + mask * delta)``, ``[N, num_ws, w_dim]``, with
  ``delta_0 = 0`` (layer 0 is the base, as in e4e) and ``mask`` the unlocked layers.

``w_avg`` and ``w_std`` (per channel) are buffers copied from the generator when training starts,
so an encoder on its own maps images to ws. Every output layer starts at zero, so an untrained
encoder returns ``w_avg`` for every image: training starts from the average image, like the
official projector, and the deltas grow only where the losses ask for them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.networks.config import ConfigBase, ConfiguredNetwork
from stylegan.networks.config_checks import _check_at_least

# Pyramid levels (map resolutions) of the coarse, middle and fine heads.
PYRAMID = (4, 8, 16)
GROUPS = ("coarse", "middle", "fine")

# Widths per preset: channels at resolution r are min(channel_base // r, channel_max).
PRESETS: dict[str, dict[str, int]] = {
    "tiny": dict(channel_base=256, channel_max=32, head_channels=32),  # tests
    "small": dict(channel_base=2048, channel_max=128, head_channels=128),  # 32-64 px nets
    "medium": dict(channel_base=8192, channel_max=256, head_channels=256),  # 128-256 px
}


def default_groups(num_ws: int) -> tuple[int, int]:
    """``(coarse, middle)`` layer counts; the rest are fine.

    pSp's split for 18 (and 14) styles is 0-2 coarse, 3-6 middle, 7+ fine. On a StyleGAN2 that
    is the 4-8 px layers, then 16-32 px, then the rest; smaller networks (8 styles at 32 px, 12
    at 64 px) keep the 3 coarse styles and give the middle group the 16 px ones (3-4).
    """
    coarse = min(3, num_ws)
    middle_end = min(num_ws, 7 if num_ws >= 14 else 5)
    return coarse, max(0, middle_end - coarse)


@dataclasses.dataclass(frozen=True)
class EncoderConfig(ConfigBase):
    """The encoder's settings; :meth:`for_generator` fills the first four from a G."""

    img_resolution: int
    num_ws: int
    w_dim: int
    img_channels: int = 3
    channel_base: int = 2048
    channel_max: int = 128
    head_channels: int = 128
    coarse_ws: int | None = None  # None: default_groups(num_ws)
    middle_ws: int | None = None

    def __post_init__(self):
        self._prepare_fields()
        r = self.img_resolution
        if not (isinstance(r, int) and r >= PYRAMID[-1] and r & (r - 1) == 0):
            raise StyleGANError(
                f"the encoder needs an image resolution that is a power of two of at least "
                f"{PYRAMID[-1]}, got {r!r}"
            )
        _check_at_least(self, 1, "num_ws", "w_dim", "img_channels", "channel_max")
        _check_at_least(self, 1, "channel_base", "head_channels")
        _check_at_least(self, 0, "coarse_ws", "middle_ws", allow_none=True)
        coarse, middle = self.groups[:2]
        if coarse < 1 or coarse + middle > self.num_ws:
            raise StyleGANError(
                f"encoder layer groups coarse_ws={coarse}, middle_ws={middle} do not fit "
                f"num_ws={self.num_ws}: give at least 1 coarse layer and at most num_ws in all"
            )

    @property
    def groups(self) -> tuple[int, int, int]:
        """Layer counts of the coarse, middle and fine groups."""
        coarse, middle = default_groups(self.num_ws)
        coarse = coarse if self.coarse_ws is None else self.coarse_ws
        middle = middle if self.middle_ws is None else self.middle_ws
        return coarse, middle, self.num_ws - coarse - middle

    @classmethod
    def for_generator(cls, G: nn.Module, preset: str = "small", **changes: Any) -> EncoderConfig:
        """The config of an encoder for ``G`` (its resolution, channels, num_ws, w_dim)."""
        if preset not in PRESETS:
            raise StyleGANError(
                f"unknown encoder preset {preset!r}; choose one of {', '.join(PRESETS)}"
            )
        return cls(
            img_resolution=int(G.img_resolution),
            num_ws=int(G.num_ws),
            w_dim=int(G.w_dim),
            img_channels=int(G.img_channels),
            **{**PRESETS[preset], **changes},
        )

    def to_init_kwargs(self) -> dict[str, Any]:
        """The constructor's keyword arguments (the encoder has no official layout)."""
        return self.to_dict()


class ResidualDown(nn.Module):
    """Two 3x3 convolutions and a 2x average-pool, beside a pooled 1x1 skip (as StyleGAN2's
    resnet discriminator, in plain PyTorch layers), scaled by 1/sqrt(2) to keep the variance."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv0 = nn.Conv2d(cin, cin, 3, padding=1)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.leaky_relu(self.conv0(x), 0.2)
        y = F.avg_pool2d(F.leaky_relu(self.conv1(y), 0.2), 2)
        return (y + self.skip(F.avg_pool2d(x, 2))) * (1 / math.sqrt(2))


class MapToVector(nn.Module):
    """pSp's ``map2style`` trunk: stride-2 3x3 convolutions down to 1x1, then a vector."""

    def __init__(self, cin: int, channels: int, resolution: int):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(int(math.log2(resolution))):
            layers += [nn.Conv2d(cin if i == 0 else channels, channels, 3, 2, 1), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


def _zero_linear(cin: int, cout: int) -> nn.Linear:
    """An output layer that starts at zero: the untrained encoder returns w_avg."""
    layer = nn.Linear(cin, cout)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class Encoder(ConfiguredNetwork, nn.Module):
    """Images ``[N, C, H, W]`` in -1..1 -> ws ``[N, num_ws, w_dim]`` (see the module docstring).

    ``Encoder(img_resolution=32, num_ws=8, w_dim=128)`` or
    ``Encoder.from_config(EncoderConfig.for_generator(G))``.
    """

    config_class: ClassVar[type[ConfigBase]] = EncoderConfig

    def __init__(self, **kwargs: Any):
        super().__init__()
        config = EncoderConfig(**kwargs)
        self._config = config
        self.img_resolution, self.img_channels = config.img_resolution, config.img_channels
        self.num_ws, self.w_dim = config.num_ws, config.w_dim
        self.coarse_ws, self.middle_ws, self.fine_ws = config.groups

        res = config.img_resolution
        self.from_rgb = nn.Conv2d(config.img_channels, config.channels(res), 1)
        self.blocks = nn.ModuleDict()
        while res > PYRAMID[0]:
            self.blocks[str(res // 2)] = ResidualDown(
                config.channels(res), config.channels(res // 2)
            )
            res //= 2
        # Top-down pathway: each level is the upsampled level below plus a 1x1 lateral.
        top = config.channels(PYRAMID[0])
        self.laterals = nn.ModuleDict(
            {str(r): nn.Conv2d(config.channels(r), top, 1) for r in PYRAMID[1:]}
        )
        hc = config.head_channels
        self.heads = nn.ModuleDict(
            {g: MapToVector(top, hc, r) for g, r in zip(GROUPS, PYRAMID, strict=True)}
        )
        self.base = _zero_linear(hc, config.w_dim)
        # One delta per layer after the first (layer 0 is the base w, as in e4e).
        self.deltas = nn.ModuleList(_zero_linear(hc, config.w_dim) for _ in range(self.num_ws - 1))
        self.register_buffer("w_avg", torch.zeros([config.w_dim]))
        self.register_buffer("w_std", torch.ones([config.w_dim]))

    def group_of(self, layer: int) -> str:
        """``coarse``, ``middle`` or ``fine``: which pyramid level predicts ``layer``'s style."""
        if layer < self.coarse_ws:
            return "coarse"
        return "middle" if layer < self.coarse_ws + self.middle_ws else "fine"

    @torch.no_grad()
    def set_latent_statistics(self, w_avg: torch.Tensor, w_std: torch.Tensor) -> None:
        """Centre and scale of the generator's W, which the outputs are relative to."""
        self.w_avg.copy_(w_avg.reshape(self.w_dim))
        self.w_std.copy_(w_std.reshape(self.w_dim).clamp_min(1e-8))

    def pyramid(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """The coarse (4x4), middle (8x8) and fine (16x16) feature maps of ``images``."""
        maps = {}
        x = F.leaky_relu(self.from_rgb(images), 0.2)
        if x.shape[-1] in PYRAMID:
            maps[x.shape[-1]] = x
        for block in self.blocks.values():
            x = block(x)
            if x.shape[-1] in PYRAMID:
                maps[x.shape[-1]] = x
        p = maps[PYRAMID[0]]
        out = {GROUPS[0]: p}
        for group, r in zip(GROUPS[1:], PYRAMID[1:], strict=True):
            p = F.interpolate(p, scale_factor=2, mode="bilinear", align_corners=False)
            p = p + self.laterals[str(r)](maps[r])
            out[group] = p
        return out

    def offsets(
        self, images: torch.Tensor, unlocked: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(base [N, w_dim], deltas [N, num_ws, w_dim])`` in units of ``w_std``; ``deltas[:, 0]``
        is zero, and so is every layer from ``unlocked`` on (e4e's progressive training)."""
        self._check_images(images)
        maps = self.pyramid(images)
        vectors = {g: self.heads[g](maps[g]) for g in GROUPS if g in self._used_groups()}
        base = self.base(vectors["coarse"])
        zero = base.new_zeros(base.shape)
        limit = self.num_ws if unlocked is None else max(1, min(unlocked, self.num_ws))
        deltas = [zero]
        for i, head in enumerate(self.deltas, start=1):
            deltas.append(head(vectors[self.group_of(i)]) if i < limit else zero)
        return base, torch.stack(deltas, dim=1)

    def forward(self, images: torch.Tensor, unlocked: int | None = None) -> torch.Tensor:
        """ws ``[N, num_ws, w_dim]`` of float images in -1..1 at the encoder's resolution."""
        base, deltas = self.offsets(images, unlocked)
        return self.to_ws(base, deltas)

    def to_ws(self, base: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
        """``w_avg + w_std * (base + delta)`` per layer."""
        return self.w_avg + self.w_std * (base.unsqueeze(1) + deltas)

    def _used_groups(self) -> set[str]:
        return {"coarse"} | {self.group_of(i) for i in range(self.num_ws)}

    def _check_images(self, images: torch.Tensor) -> None:
        want = [self.img_channels, self.img_resolution, self.img_resolution]
        if (
            not isinstance(images, torch.Tensor)
            or images.ndim != 4
            or list(images.shape[1:]) != want
            or not images.is_floating_point()
        ):
            got = list(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise StyleGANError(
                f"the encoder takes float images [N, {want[0]}, {want[1]}, {want[2]}] in -1..1, "
                f"got {got}; resize the images to the generator's resolution first"
            )

    def extra_repr(self) -> str:
        return (
            f"img_resolution={self.img_resolution}, num_ws={self.num_ws}, w_dim={self.w_dim}, "
            f"groups={self.coarse_ws}/{self.middle_ws}/{self.fine_ws}"
        )
