"""Named network architectures: ``create("paper256")`` without any training code.

Each row is the architecture of the training preset of the same name (``stylegan.training.presets``
holds the rest of those presets: batch, learning rates, losses, schedule) and builds the
networks with the arguments NVIDIA's ``train.py`` passes, so ``create_pair(name)`` gives, seed
for seed, the weights a training run of that preset starts from::

    G = create("stylegan3-t", img_resolution=256)
    D = create("paper256", net="D")
    G, D = create_pair("small", img_resolution=32)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from stylegan.errors import StyleGANError

# stylegan1 has its own D; stylegan2 and both StyleGAN3 configurations use StyleGAN2's D.
GENERATORS = ("stylegan1", "stylegan2", "stylegan3-t", "stylegan3-r")


def auto_channel_base(img_resolution: int) -> int:
    """``channel_base`` of the ``auto`` preset (ADA's cfg auto): wider from 512 px up."""
    return 32768 if img_resolution >= 512 else 16384


def stylegan3_magnitude_ema_beta(batch_size: int) -> float:
    """StyleGAN3's magnitude EMA as the stylegan3 train.py sets it: a 20 kimg half-life."""
    return 0.5 ** (batch_size / (20 * 1e3))


@dataclasses.dataclass(frozen=True)
class NetworkPreset:
    """The architecture of a G/D pair, in the training options' terms (``--cbase``, ...)."""

    generator: str = "stylegan2"  # one of GENERATORS
    img_resolution: int = 1024
    img_channels: int = 3
    c_dim: int = 0  # label width; 0 = unconditional
    z_dim: int = 512
    w_dim: int = 512
    map_depth: int = 8  # mapping_kwargs.num_layers
    # None = auto_channel_base(img_resolution). StyleGAN3-R doubles channel_base and channel_max,
    # as the official train.py does with --cbase and --cmax.
    channel_base: int | None = 32768
    channel_max: int = 512
    num_fp16_res: int = 4
    conv_clamp: float | None = 256
    g_architecture: str = "skip"  # StyleGAN2 G only
    d_architecture: str = "resnet"  # StyleGAN2 D only
    mbstd_group_size: int = 4
    freeze_layers: int = 0  # Freeze-D (StyleGAN2 D only)
    magnitude_ema_beta: float = stylegan3_magnitude_ema_beta(32)  # StyleGAN3 only

    def __post_init__(self):
        if self.generator not in GENERATORS:
            raise StyleGANError(
                f"unknown generator {self.generator!r}: choose one of {', '.join(GENERATORS)}"
            )

    def replace(self, **changes: Any) -> NetworkPreset:
        """A copy with some fields changed; unknown names are an error."""
        names = [f.name for f in dataclasses.fields(self)]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise StyleGANError(f"unknown network option(s) {unknown}; known are {names}")
        return dataclasses.replace(self, **changes)

    @property
    def resolved_channel_base(self) -> int:
        """``channel_base`` with ``None`` (the auto preset) worked out from the resolution."""
        if self.channel_base is None:
            return auto_channel_base(self.img_resolution)
        return self.channel_base


_BASE = NetworkPreset()
_CPU = dict(num_fp16_res=0, conv_clamp=None)

# The architectures of the training presets, with the resolution each was made for: the
# training preset of the same name (stylegan.training.presets.PRESETS) takes its generator,
# widths, mapping depth, mbstd group, fp16 and clamp from here.
PRESETS: dict[str, NetworkPreset] = {
    "auto": _BASE.replace(img_resolution=256, channel_base=None, map_depth=2),
    "stylegan2": _BASE,
    "paper256": _BASE.replace(img_resolution=256, channel_base=16384, mbstd_group_size=8),
    "paper512": _BASE.replace(img_resolution=512, mbstd_group_size=8),
    "paper1024": _BASE,
    "cifar": _BASE.replace(
        img_resolution=32, map_depth=2, mbstd_group_size=32, d_architecture="orig"
    ),
    "stylegan3-t": _BASE.replace(generator="stylegan3-t", map_depth=2),
    "stylegan3-r": _BASE.replace(generator="stylegan3-r", map_depth=2),
    "stylegan1": _BASE.replace(generator="stylegan1", channel_base=16384, **_CPU),
    "tiny": _BASE.replace(
        img_resolution=32, channel_base=256, channel_max=32, z_dim=32, w_dim=32, map_depth=2,
        mbstd_group_size=2, **_CPU,
    ),
    "small": _BASE.replace(
        img_resolution=32, channel_base=2048, channel_max=128, z_dim=128, w_dim=128, map_depth=2,
        **_CPU,
    ),
    "stylegan1-small": _BASE.replace(
        generator="stylegan1", img_resolution=32, channel_base=2048, channel_max=128, z_dim=128,
        w_dim=128, map_depth=4, **_CPU,
    ),
}  # fmt: skip


def list_presets() -> list[str]:
    """Every preset name :func:`create` knows."""
    return list(PRESETS)


def get_preset(name: str, **overrides: Any) -> NetworkPreset:
    """The named architecture with some fields changed (e.g. ``img_resolution=256``)."""
    if name not in PRESETS:
        raise StyleGANError(f"unknown network preset {name!r}: choose one of {', '.join(PRESETS)}")
    return PRESETS[name].replace(**overrides)


def _image_kwargs(spec: NetworkPreset) -> dict[str, int]:
    """The images G makes and D reads (size, channels, labels), as both constructors name them."""
    return dict(
        c_dim=spec.c_dim, img_resolution=spec.img_resolution, img_channels=spec.img_channels
    )


def build_generator(spec: NetworkPreset) -> nn.Module:
    """The generator of ``spec``, with the arguments NVIDIA's train.py passes."""
    common = dict(
        _image_kwargs(spec),
        z_dim=spec.z_dim,
        w_dim=spec.w_dim,
        mapping_kwargs=dict(num_layers=spec.map_depth),
    )
    channel_base = spec.resolved_channel_base
    if spec.generator == "stylegan1":
        from stylegan.networks import stylegan1

        return stylegan1.Generator(
            **common, channel_base=channel_base, channel_max=spec.channel_max
        )
    if spec.generator.startswith("stylegan3"):
        from stylegan.networks import stylegan3

        # R doubles the widths, uses 1x1 convolutions and radial filters.
        radial = spec.generator == "stylegan3-r"
        return stylegan3.Generator(
            **common,
            channel_base=channel_base * (2 if radial else 1),
            channel_max=spec.channel_max * (2 if radial else 1),
            num_fp16_res=spec.num_fp16_res,
            conv_clamp=spec.conv_clamp,
            magnitude_ema_beta=spec.magnitude_ema_beta,
            conv_kernel=1 if radial else 3,
            use_radial_filters=radial,
        )
    from stylegan.networks import stylegan2

    return stylegan2.Generator(
        **common,
        channel_base=channel_base,
        channel_max=spec.channel_max,
        num_fp16_res=spec.num_fp16_res,
        conv_clamp=spec.conv_clamp,
        architecture=spec.g_architecture,
        # Plain convolutions while training, grouped ones at inference (as NVIDIA's stylegan2
        # config does): the per-sample gradients of a grouped conv are slow.
        fused_modconv_default="inference_only",
    )


def build_discriminator(spec: NetworkPreset) -> nn.Module:
    """The discriminator of ``spec``: StyleGAN 1's for stylegan1, StyleGAN2's otherwise."""
    common = dict(
        _image_kwargs(spec),
        channel_base=spec.resolved_channel_base,
        channel_max=spec.channel_max,
    )
    if spec.generator == "stylegan1":
        from stylegan.networks import stylegan1

        if spec.freeze_layers:
            raise StyleGANError("freeze_layers needs the StyleGAN2 discriminator, not StyleGAN 1's")
        return stylegan1.Discriminator(**common, mbstd_group_size=spec.mbstd_group_size)
    from stylegan.networks import stylegan2_discriminator

    return stylegan2_discriminator.Discriminator(
        **common,
        architecture=spec.d_architecture,
        num_fp16_res=spec.num_fp16_res,
        conv_clamp=spec.conv_clamp,
        block_kwargs=dict(freeze_layers=spec.freeze_layers),
        epilogue_kwargs=dict(mbstd_group_size=spec.mbstd_group_size),
    )


def create_pair(name: str | NetworkPreset, **overrides: Any) -> tuple[nn.Module, nn.Module]:
    """A fresh generator and discriminator, G first (as training builds them, so a seed gives
    a training run's initial weights)."""
    if isinstance(name, NetworkPreset):
        spec = name.replace(**overrides)
    else:
        spec = get_preset(name, **overrides)
    G = build_generator(spec)
    D = build_discriminator(spec)
    return G, D


def create(name: str, net: str = "G", **overrides: Any) -> nn.Module:
    """One network of a named preset: ``net="G"`` (default) or ``"D"``, e.g.
    ``create("stylegan3-t", img_resolution=256)``. Built alone, D draws its initial weights
    first; :func:`create_pair` matches a training run's."""
    if net not in ("G", "D"):
        raise StyleGANError(f"net must be 'G' or 'D', got {net!r}")
    spec = get_preset(name, **overrides)
    return build_generator(spec) if net == "G" else build_discriminator(spec)
