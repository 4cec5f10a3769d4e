"""Frozen config of the StyleGAN3 (alias-free) generator and its official keyword arguments."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from stylegan.errors import StyleGANError
from stylegan.networks.config import _GENERATOR_TOP, GeneratorConfigBase, MappingConfig
from stylegan.networks.config_checks import (
    _SIZE_FIELDS,
    _check_at_least,
    _check_conv_clamp,
    _check_has_input,
    _check_resolution,
    _check_size,
    _mapping_size,
)
from stylegan.networks.config_kwargs import _mapping, _table, _top


@dataclasses.dataclass(frozen=True)
class StyleGAN3GeneratorConfig(GeneratorConfigBase):
    """Everything that defines a StyleGAN3 (alias-free) generator; defaults are the official
    class defaults, i.e. config T. Config R is ``conv_kernel=1, use_radial_filters=True`` (and
    twice the channels)."""

    mapping: MappingConfig = dataclasses.field(default_factory=lambda: MappingConfig(num_layers=2))
    channel_base: int = 32768
    channel_max: int = 512
    num_layers: int = 14  # layers between the Fourier input and ToRGB
    num_critical: int = 2  # critically sampled layers at the end
    first_cutoff: float = 2  # f_c of the first layer
    first_stopband: float = 2**2.1  # f_t of the first layer
    last_stopband_rel: float = 2**0.3  # f_t of the last layer, relative to its cutoff
    margin_size: int = 10  # extra pixels computed around the image
    output_scale: float = 0.25
    num_fp16_res: int = 4  # layers within N octaves of the output run in low precision (opt-in)
    conv_kernel: int = 3
    filter_size: int = 6  # low-pass taps per unit of the lower sampling rate
    lrelu_upsampling: int = 2  # the leaky ReLU runs at this multiple of the sampling rate
    use_radial_filters: bool = False
    conv_clamp: float | None = 256
    magnitude_ema_beta: float = 0.999

    # Official synthesis- and layer-level keyword arguments, in the order they are exported.
    SYNTHESIS_KWARGS: ClassVar[tuple[str, ...]] = (
        "channel_base",
        "channel_max",
        "num_layers",
        "num_critical",
        "first_cutoff",
        "first_stopband",
        "last_stopband_rel",
        "margin_size",
        "output_scale",
        "num_fp16_res",
        "conv_kernel",
        "filter_size",
        "lrelu_upsampling",
        "use_radial_filters",
        "conv_clamp",
        "magnitude_ema_beta",
    )
    init_what: ClassVar[str] = "StyleGAN3 generator"

    def __post_init__(self):
        self._prepare_fields()
        _check_resolution(self.img_resolution)
        m = self.mapping
        if (m.embed_features, m.layer_features, m.activation) != (None, None, "lrelu"):
            raise StyleGANError(
                "the StyleGAN3 mapping network takes only num_layers, lr_multiplier and "
                "w_avg_beta: leave embed_features, layer_features and activation at defaults"
            )
        if m.w_avg_beta is None:
            raise StyleGANError("the StyleGAN3 mapping network always tracks w_avg: set w_avg_beta")
        if self.w_dim < 1 or self.z_dim < 0 or self.c_dim < 0:
            raise StyleGANError(
                f"need w_dim >= 1, z_dim >= 0 and c_dim >= 0, got {self.w_dim}, {self.z_dim}, "
                f"{self.c_dim}"
            )
        for name in ("img_channels", "channel_base", "channel_max", "conv_kernel", "filter_size"):
            if getattr(self, name) < 1:
                raise StyleGANError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not isinstance(self.lrelu_upsampling, int) or self.lrelu_upsampling < 1:
            raise StyleGANError(
                f"lrelu_upsampling must be a whole number >= 1, got {self.lrelu_upsampling!r}"
            )
        if self.num_layers < 1 or not 0 <= self.num_critical < self.num_layers:
            raise StyleGANError(
                "need num_layers >= 1 and 0 <= num_critical < num_layers, got "
                f"num_layers={self.num_layers}, num_critical={self.num_critical}"
            )
        if self.margin_size < 0:
            raise StyleGANError(f"margin_size must be >= 0, got {self.margin_size}")
        if not 0 < self.first_cutoff <= self.img_resolution / 2:
            raise StyleGANError(
                f"first_cutoff must lie in (0, img_resolution / 2], got {self.first_cutoff}"
            )
        if self.first_stopband <= 0 or self.last_stopband_rel <= 0:
            raise StyleGANError("first_stopband and last_stopband_rel must be positive")
        if not 0 <= self.magnitude_ema_beta <= 1:
            raise StyleGANError(
                f"magnitude_ema_beta must lie in [0, 1], got {self.magnitude_ema_beta}"
            )
        _check_conv_clamp(self)
        _check_at_least(self, 0, "num_fp16_res")
        _check_has_input(self)
        _check_size(self, _stylegan3_size, (*_SIZE_FIELDS, "num_layers", "margin_size"))

    @property
    def num_ws(self) -> int:
        """How many w vectors the synthesis network consumes: input, each layer, and ToRGB."""
        return self.num_layers + 2


# The StyleGAN3 mapping network takes a subset of ours.
StyleGAN3GeneratorConfig.init_table = _table(
    *_top(*_GENERATOR_TOP),
    *_mapping("num_layers", "lr_multiplier", "w_avg_beta"),
    *StyleGAN3GeneratorConfig.SYNTHESIS_KWARGS,
)


def _stylegan3_size(cfg: Any) -> int:
    """Mapping plus every layer at the widest (channel_max, twice for the input's Fourier
    features), and the image-sized activations the margin adds: an upper estimate."""
    c = min(cfg.channel_max, cfg.channel_base)
    layers = (cfg.num_layers + 2) * (cfg.conv_kernel**2 * c * c + cfg.w_dim * c)
    side = cfg.img_resolution + 2 * cfg.margin_size
    return _mapping_size(cfg) + layers + side * side + cfg.img_channels * c
