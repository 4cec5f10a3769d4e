"""StyleCLIP's latent mapper: one small network per text prompt that edits ws in one pass.

StyleCLIP (Patashnik et al. 2021, ``mapper/latent_mappers.py``) trains a ``LevelsMapper`` per
prompt: three MLPs (pixel norm, then 4 equalised-lr dense layers with lr multiplier 0.01) for
the coarse, medium and fine ws, and the edit is ``w + 0.1 * M(w)``. For 18 ws (1024 px) the
groups are ws 0-3 (4-8 px), 4-7 (16-32 px) and 8-17 (64 px and up); here the groups follow the
same resolutions for any ``num_ws`` (a 32 px network's 8 ws are 4 coarse and 4 medium, no fine).

StyleCLIP's pixel norm (rosinality's) averages over dim 1, which for its ``[N, 18, 512]`` input
is the *layer* axis; ours normalises each w over its channels, as the mapping network does. A
group can be switched off (``map_fine=False`` is StyleCLIP's ``--no_fine_mapper``, for edits that
should keep colours): its ws pass through unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.networks.config import ConfigBase, ConfiguredNetwork
from stylegan.networks.config_checks import _check_at_least
from stylegan.networks.layers import FullyConnectedLayer, normalize_2nd_moment

MAPPER_GROUPS = ("coarse", "medium", "fine")
EDIT_SCALE = 0.1  # StyleCLIP's w + 0.1 * M(w)


def mapper_groups(num_ws: int) -> tuple[int, int, int]:
    """``(coarse, medium, fine)`` ws counts: StyleCLIP's 4 / 4 / rest (the 4-8 px, 16-32 px and
    64 px+ layers of a StyleGAN2), cut to what ``num_ws`` has."""
    coarse = min(4, num_ws)
    medium = min(4, num_ws - coarse)
    return coarse, medium, num_ws - coarse - medium


@dataclasses.dataclass(frozen=True)
class MapperConfig(ConfigBase):
    """The mapper's settings: the generator's ``num_ws`` and ``w_dim``, and which groups map."""

    num_ws: int
    w_dim: int
    num_layers: int = 4
    lr_multiplier: float = 0.01
    map_coarse: bool = True
    map_medium: bool = True
    map_fine: bool = True

    def __post_init__(self):
        self._prepare_fields()
        _check_at_least(self, 1, "num_ws", "w_dim", "num_layers")
        if not self.lr_multiplier > 0:
            raise StyleGANError(f"lr_multiplier must be positive, got {self.lr_multiplier}")
        if not any(self.mapped):
            raise StyleGANError("the mapper maps no group: keep at least one of coarse/medium/fine")

    @property
    def mapped(self) -> tuple[bool, bool, bool]:
        return self.map_coarse, self.map_medium, self.map_fine

    def to_init_kwargs(self) -> dict[str, Any]:
        """The constructor's keyword arguments (the mapper has no official layout to follow)."""
        return self.to_dict()


class GroupMapper(nn.Module):
    """Pixel norm, then ``num_layers`` dense layers (leaky ReLU, equalised lr), per w."""

    def __init__(self, w_dim: int, num_layers: int, lr_multiplier: float):
        super().__init__()
        self.layers = nn.ModuleList(
            FullyConnectedLayer(w_dim, w_dim, activation="lrelu", lr_multiplier=lr_multiplier)
            for _ in range(num_layers)
        )

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        x = normalize_2nd_moment(ws.reshape(-1, ws.shape[-1]))
        for layer in self.layers:
            x = layer(x)
        return x.reshape(ws.shape)


class LevelsMapper(ConfiguredNetwork, nn.Module):
    """ws ``[N, num_ws, w_dim]`` -> the edit's residual ``M(w)`` of the same shape (zero on the
    groups that do not map); :meth:`edit` gives ``w + strength * 0.1 * M(w)``."""

    config_class: ClassVar[type[ConfigBase]] = MapperConfig

    def __init__(self, **kwargs: Any):
        super().__init__()
        config = MapperConfig(**kwargs)
        self._config = config
        self.num_ws, self.w_dim = config.num_ws, config.w_dim
        self.group_sizes = mapper_groups(config.num_ws)
        self.groups = nn.ModuleDict(
            {
                name: GroupMapper(config.w_dim, config.num_layers, config.lr_multiplier)
                for name, size, on in zip(MAPPER_GROUPS, self.group_sizes, config.mapped)
                if on and size > 0
            }
        )
        if not self.groups:
            raise StyleGANError(
                f"with num_ws {config.num_ws} the mapper's mapped groups are empty: "
                f"sizes (coarse, medium, fine) = {self.group_sizes}"
            )

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        if ws.ndim != 3 or tuple(ws.shape[1:]) != (self.num_ws, self.w_dim):
            raise StyleGANError(
                f"the mapper takes ws [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}"
            )
        parts, start = [], 0
        for name, size in zip(MAPPER_GROUPS, self.group_sizes):
            chunk = ws[:, start : start + size]
            parts.append(
                self.groups[name](chunk) if name in self.groups else torch.zeros_like(chunk)
            )
            start += size
        return torch.cat(parts, dim=1)

    def edit(self, ws: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
        """``ws + strength * 0.1 * M(ws)``; strength 0 returns a copy of ``ws`` exactly."""
        if strength == 0:
            return ws.clone()
        return ws + (float(strength) * EDIT_SCALE) * self(ws)
