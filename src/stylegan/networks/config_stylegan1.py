"""Frozen configs of the original StyleGAN generator and discriminator (NVlabs/stylegan) and
their constructor keyword arguments."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from stylegan.errors import StyleGANError
from stylegan.networks.config import (
    _GENERATOR_TOP,
    GeneratorConfigBase,
    InitKwargsConfig,
    MappingConfig,
)
from stylegan.networks.config_checks import (
    _SIZE_FIELDS,
    _check_at_least,
    _check_size,
    _check_widths,
    _discriminator_size,
    _mapping_size,
    _styled_synthesis_size,
)
from stylegan.networks.config_kwargs import _mapping, _table, _top


@dataclasses.dataclass(frozen=True)
class StyleGAN1GeneratorConfig(GeneratorConfigBase):
    """Everything that defines an original StyleGAN generator (``G_style`` of NVlabs/stylegan).

    Defaults are the paper's: 8 mapping layers with lr multiplier 0.01, ``channel_base`` 16384
    (TF ``fmap_base`` 8192 times 2, as legacy.py converts it), blur ``[1, 2, 1]``, noise inputs,
    and the truncation the original ``Gs`` applies by default (psi 0.7 on the first 8 ws).
    """

    mapping: MappingConfig = dataclasses.field(
        default_factory=lambda: MappingConfig(w_avg_beta=0.995)
    )
    channel_base: int = 16384
    channel_max: int = 512
    use_noise: bool = True
    resample_filter: tuple[float, ...] = (1, 2, 1)  # blur after upsampling; () = none
    truncation_psi: float = 0.7  # default of G(z, c) and generate(), as the original Gs
    truncation_cutoff: int | None = 8

    SYNTHESIS_KWARGS: ClassVar[tuple[str, ...]] = (
        "channel_base",
        "channel_max",
        "use_noise",
        "resample_filter",
        "truncation_psi",
        "truncation_cutoff",
    )
    init_what: ClassVar[str] = "StyleGAN generator"

    def __post_init__(self):
        self._prepare_fields()
        _check_widths(self)
        self._check_latents(1)
        if self.mapping.w_avg_beta is None:
            raise StyleGANError("the StyleGAN mapping network tracks w_avg: set w_avg_beta")
        _check_size(self, _stylegan1_size, _SIZE_FIELDS)

    @property
    def num_ws(self) -> int:
        """One w per layer: two per resolution from 4x4 up (18 at 1024 px)."""
        return 2 * (self.img_resolution.bit_length() - 1) - 2


# The StyleGAN (v1) mapping network: z is pixel-normed, w tracked with 0.995; no label embedding.
StyleGAN1GeneratorConfig.init_table = _table(
    *_top(*_GENERATOR_TOP),
    *_mapping("num_layers", "layer_features", "activation", "lr_multiplier", "w_avg_beta"),
    *StyleGAN1GeneratorConfig.SYNTHESIS_KWARGS,
)


def _stylegan1_size(cfg: Any) -> int:
    return _mapping_size(cfg) + _styled_synthesis_size(cfg, 3)


@dataclasses.dataclass(frozen=True)
class StyleGAN1DiscriminatorConfig(InitKwargsConfig):
    """Everything that defines the original StyleGAN discriminator (``D_basic``): per-resolution
    FromRGB layers for progressive growing, blur before each downsampling conv, minibatch
    standard deviation and two dense layers at 4x4. Labels are used as in the original: one
    output per class, the score being the output of the image's class."""

    c_dim: int
    img_resolution: int
    img_channels: int
    channel_base: int = 16384
    channel_max: int = 512
    mbstd_group_size: int | None = 4  # None = whole minibatch
    mbstd_num_channels: int = 1  # 0 = no minibatch-std layer
    resample_filter: tuple[float, ...] = (1, 2, 1)

    init_what: ClassVar[str] = "StyleGAN discriminator"

    def __post_init__(self):
        self._prepare_fields()
        _check_widths(self)
        if self.img_resolution < 8:
            raise StyleGANError("the discriminator needs img_resolution >= 8")
        if self.mbstd_num_channels < 0:
            raise StyleGANError(f"mbstd_num_channels must be >= 0, got {self.mbstd_num_channels}")
        _check_at_least(self, 1, "mbstd_group_size", allow_none=True)
        _check_size(self, _discriminator_size, _SIZE_FIELDS[2:])


StyleGAN1DiscriminatorConfig.init_table = _table(
    *_top("c_dim", "img_resolution", "img_channels"),
    "channel_base",
    "channel_max",
    "mbstd_group_size",
    "mbstd_num_channels",
    "resample_filter",
)
