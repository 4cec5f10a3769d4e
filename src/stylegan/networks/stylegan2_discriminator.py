"""StyleGAN2 discriminator ("Analyzing and Improving the Image Quality of StyleGAN").

Reads top to bottom: the blocks that read the image per resolution, the 4x4 epilogue and the
discriminator. Parameter and buffer names and shapes equal NVIDIA's (``b64.conv0.weight`` and so
on), so official weights load with ``load_state_dict(strict=True)``.

Mixed precision: the blocks at the ``num_fp16_res`` highest resolutions compute in a low
precision once ``layers.set_mixed_precision`` has been called, unless a call passes
``force_fp32=True``; the 4x4 head stays in fp32. The generator is in :mod:`.stylegan2`, which
also exports this ``Discriminator`` under its public name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.networks.config import ConfiguredNetwork, DiscriminatorConfig
from stylegan.networks.layers import (
    RESNET_GAIN,
    Conv2dLayer,
    DiscriminatorMixin,
    FullyConnectedLayer,
    MappingNetwork,
    MinibatchStdLayer,
    ResolutionBlock,
    block_dtype,
    check_shape,
    describe,
)
from stylegan.ops import upfirdn2d


class DiscriminatorBlock(ResolutionBlock, nn.Module):
    """One resolution of the discriminator: conv, downsampling conv, and the image path.

    The first block (``in_channels == 0``) and every ``skip`` block read the image through a
    1x1 ``fromrgb``; ``resnet`` adds a 1x1 downsampling shortcut. Layers numbered below
    ``freeze_layers`` (counted across the whole network) are frozen for Freeze-D.
    """

    def __init__(
        self,
        in_channels: int,
        tmp_channels: int,
        out_channels: int,
        resolution: int,
        img_channels: int,
        first_layer_idx: int,
        architecture: str = "resnet",
        activation: str = "lrelu",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        use_fp16: bool = False,
        fp16_channels_last: bool = False,
        freeze_layers: int = 0,
    ):
        super().__init__()
        del fp16_channels_last
        if in_channels not in (0, tmp_channels):
            raise StyleGANError(f"in_channels must be 0 or {tmp_channels}, got {in_channels}")
        self._init_block(
            in_channels, resolution, img_channels, architecture, use_fp16, resample_filter
        )
        self.first_layer_idx = first_layer_idx
        self.num_layers = 0

        def trainable() -> bool:
            # Layers are numbered in construction order across the whole discriminator.
            idx = first_layer_idx + self.num_layers
            self.num_layers += 1
            return idx >= freeze_layers

        common = dict(activation=activation, conv_clamp=conv_clamp)
        if in_channels == 0 or architecture == "skip":
            self.fromrgb = Conv2dLayer(
                img_channels, tmp_channels, kernel_size=1, trainable=trainable(), **common
            )
        self.conv0 = Conv2dLayer(
            tmp_channels, tmp_channels, kernel_size=3, trainable=trainable(), **common
        )
        self.conv1 = Conv2dLayer(
            tmp_channels,
            out_channels,
            kernel_size=3,
            down=2,
            resample_filter=resample_filter,
            trainable=trainable(),
            **common,
        )
        if architecture == "resnet":
            self.skip = Conv2dLayer(
                tmp_channels,
                out_channels,
                kernel_size=1,
                bias=False,
                down=2,
                resample_filter=resample_filter,
                trainable=trainable(),
            )

    def forward(
        self, x: torch.Tensor | None, img: torch.Tensor | None, force_fp32: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        dtype = block_dtype(self, force_fp32)
        if x is not None:
            x = x.to(dtype)
        if self.in_channels == 0 or self.architecture == "skip":
            img = img.to(dtype)
            y = self.fromrgb(img)
            x = x + y if x is not None else y
            img = (
                upfirdn2d.downsample2d(img, self.resample_filter)
                if self.architecture == "skip"
                else None
            )

        if self.architecture == "resnet":
            y = self.skip(x, gain=RESNET_GAIN)
            x = self.conv0(x)
            x = self.conv1(x, gain=RESNET_GAIN)
            x = y + x
        else:
            x = self.conv1(self.conv0(x))
        return x, img


class DiscriminatorEpilogue(nn.Module):
    """The 4x4 head: minibatch std, conv, two dense layers, and the label projection."""

    def __init__(
        self,
        in_channels: int,
        cmap_dim: int,
        resolution: int,
        img_channels: int,
        architecture: str = "resnet",
        mbstd_group_size: int | None = 4,
        mbstd_num_channels: int = 1,
        activation: str = "lrelu",
        conv_clamp: float | None = None,
    ):
        super().__init__()
        self.in_channels = in_channels
        self.cmap_dim = cmap_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.architecture = architecture

        if architecture == "skip":
            self.fromrgb = Conv2dLayer(
                img_channels, in_channels, kernel_size=1, activation=activation
            )
        self.mbstd = (
            MinibatchStdLayer(mbstd_group_size, mbstd_num_channels)
            if mbstd_num_channels > 0
            else None
        )
        self.conv = Conv2dLayer(
            in_channels + mbstd_num_channels,
            in_channels,
            kernel_size=3,
            activation=activation,
            conv_clamp=conv_clamp,
        )
        self.fc = FullyConnectedLayer(
            in_channels * resolution**2, in_channels, activation=activation
        )
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(
        self, x: torch.Tensor, img: torch.Tensor | None, cmap: torch.Tensor | None
    ) -> torch.Tensor:
        x = x.to(torch.float32)  # the head always runs in fp32, as the official code
        if self.architecture == "skip":
            x = x + self.fromrgb(img.to(torch.float32))
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.out(self.fc(x.flatten(1)))
        if self.cmap_dim > 0:
            # Projection discriminator: score = <features, embedded label>, variance-normalised.
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x

    def extra_repr(self) -> str:
        return describe(self, "resolution", "architecture")


class Discriminator(ConfiguredNetwork, DiscriminatorMixin, nn.Module):
    """StyleGAN2 discriminator: ``D(img, c) -> logits [N, 1]``.

    Takes NVIDIA's constructor arguments and keeps them as a frozen
    :class:`DiscriminatorConfig` in ``D.config``.
    """

    config_class = DiscriminatorConfig

    def __init__(
        self,
        c_dim: int,
        img_resolution: int,
        img_channels: int,
        architecture: str = "resnet",
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 4,
        conv_clamp: float | None = 256,
        cmap_dim: int | None = None,
        block_kwargs: Mapping[str, Any] | None = None,
        mapping_kwargs: Mapping[str, Any] | None = None,
        epilogue_kwargs: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        config = DiscriminatorConfig.from_init_kwargs(
            dict(
                c_dim=c_dim,
                img_resolution=img_resolution,
                img_channels=img_channels,
                architecture=architecture,
                channel_base=channel_base,
                channel_max=channel_max,
                num_fp16_res=num_fp16_res,
                conv_clamp=conv_clamp,
                cmap_dim=cmap_dim,
                block_kwargs=dict(block_kwargs or {}),
                mapping_kwargs=dict(mapping_kwargs or {}),
                epilogue_kwargs=dict(epilogue_kwargs or {}),
            )
        )
        if config.img_resolution < 8:
            raise StyleGANError("the discriminator needs img_resolution >= 8")
        self._adopt_config(config)
        fp16_resolution = max(2 ** (self.img_resolution_log2 + 1 - config.num_fp16_res), 8)
        cmap_dim = config.effective_cmap_dim

        layer_idx = 0
        for res in self.block_resolutions:
            block = DiscriminatorBlock(
                in_channels=config.channels(res) if res < config.img_resolution else 0,
                tmp_channels=config.channels(res),
                out_channels=config.channels(res // 2),
                resolution=res,
                img_channels=config.img_channels,
                first_layer_idx=layer_idx,
                architecture=config.architecture,
                activation=config.activation,
                resample_filter=config.resample_filter,
                conv_clamp=config.conv_clamp,
                use_fp16=res >= fp16_resolution,
                freeze_layers=config.freeze_layers,
            )
            setattr(self, f"b{res}", block)
            layer_idx += block.num_layers
        if config.c_dim > 0:
            self.mapping = MappingNetwork(
                z_dim=0, c_dim=config.c_dim, w_dim=cmap_dim, num_ws=None, **config.mapping.to_dict()
            )
        self.b4 = DiscriminatorEpilogue(
            config.channels(4),
            cmap_dim=cmap_dim,
            resolution=4,
            img_channels=config.img_channels,
            architecture=config.architecture,
            mbstd_group_size=config.mbstd_group_size,
            mbstd_num_channels=config.mbstd_num_channels,
            activation=config.activation,
            conv_clamp=config.conv_clamp,
        )

    def forward(
        self,
        img: torch.Tensor,
        c: torch.Tensor | None = None,
        update_emas: bool = False,
        force_fp32: bool = False,
    ) -> torch.Tensor:
        del update_emas  # the discriminator keeps no running averages
        self._check_images(img)
        x = None
        for r in self.block_resolutions:
            x, img = getattr(self, f"b{r}")(x, img, force_fp32=force_fp32)
        cmap = None
        if self.c_dim > 0:
            check_shape(c, [x.shape[0], self.c_dim], "c (class labels)")
            cmap = self.mapping(None, c)
        return self.b4(x, img, cmap)
