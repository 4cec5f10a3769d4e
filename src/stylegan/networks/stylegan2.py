"""StyleGAN2 generator ("Analyzing and Improving the Image Quality of StyleGAN").

Reads top to bottom: the synthesis layers, the blocks that stack them per resolution, the
generator. The discriminator lives in :mod:`.stylegan2_discriminator`; ``Discriminator`` is
imported here so ``stylegan.networks.stylegan2.Discriminator`` stays its public name. Parameter
and buffer names and shapes equal NVIDIA's (``synthesis.b8.conv0.affine.weight`` and so on), so
official weights load with ``load_state_dict(strict=True)`` and give the same images.

Mixed precision: the blocks at the ``num_fp16_res`` highest resolutions compute in a low
precision (float16 as the official code, or bfloat16) once ``layers.set_mixed_precision`` has
been called on the network, unless a call passes ``force_fp32=True``; images and the mapping stay
in fp32. By default nothing is set and every layer runs in fp32 (what the official code does
off CUDA, and what inference here does unless asked). ``conv_clamp`` is applied in fp32 as well,
because it changes the outputs of networks trained with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from stylegan.networks.config import ConfiguredNetwork, GeneratorConfig
from stylegan.networks.layers import (
    RESNET_GAIN,
    Conv2dLayer,
    ConvActivation,
    FullyConnectedLayer,
    GenerateMixin,
    ResolutionBlock,
    block_dtype,
    check_noise_mode,
    check_shape,
    describe,
)
from stylegan.networks.stylegan2_discriminator import Discriminator as Discriminator  # public name
from stylegan.ops import bias_act, upfirdn2d
from stylegan.ops.modulated_conv import modulated_conv2d, untracked

# --------------------------------------------------------------------------------------------
# Generator


def _init_modulated(
    layer: nn.Module, in_channels: int, out_channels: int, w_dim: int, kernel_size: int
) -> None:
    """The style affine of a modulated conv (one style per input channel; bias 1 starts it at
    identity) and its weight, made in the official order (so a seed gives the same weights)."""
    layer.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
    layer.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))


class SynthesisLayer(ConvActivation, nn.Module):
    """Modulated 3x3 conv (optionally upsampling 2x), plus per-pixel noise, bias and lrelu."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        kernel_size: int = 3,
        up: int = 1,
        use_noise: bool = True,
        activation: str = "lrelu",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        channels_last: bool = False,  # accepted for compatibility only
    ):
        super().__init__()
        del channels_last
        self._init_conv(
            in_channels, out_channels, kernel_size, activation, up, conv_clamp, resample_filter
        )
        self.w_dim = w_dim
        self.resolution = resolution
        self.use_noise = use_noise
        _init_modulated(self, in_channels, out_channels, w_dim, kernel_size)
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        noise_mode: str = "random",
        fused_modconv: bool = True,
        gain: float = 1.0,
        overwrite_input: bool = False,
    ) -> torch.Tensor:
        """``overwrite_input=True``: the caller no longer needs ``x``; without autograd it is
        then scaled by the styles in place instead of copied (same result)."""
        check_noise_mode(noise_mode)
        styles = self.affine(w)

        noise = None
        if self.use_noise and noise_mode == "random":
            shape = [x.shape[0], 1, self.resolution, self.resolution]
            noise = torch.randn(shape, device=x.device, dtype=x.dtype) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength

        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            noise=noise,
            up=self.up,
            padding=self.padding,
            resample_filter=self.resample_filter,
            flip_weight=(self.up == 1),
            fused_modconv=fused_modconv,
            overwrite_x=overwrite_input,
        )
        return self._bias_act(x, self.bias.to(x.dtype), gain)

    def extra_repr(self) -> str:
        names = ("in_channels", "out_channels", "w_dim", "resolution", "up", "activation")
        return describe(self, *names)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv to image channels, without demodulation (colours keep their scale)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        kernel_size: int = 1,
        conv_clamp: float | None = None,
        channels_last: bool = False,  # accepted for compatibility only
    ):
        super().__init__()
        del channels_last
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.w_dim = w_dim
        self.conv_clamp = conv_clamp
        _init_modulated(self, in_channels, out_channels, w_dim, kernel_size)
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool = True) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused_modconv=fused_modconv)
        return bias_act.bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp, inplace=True)

    def extra_repr(self) -> str:
        return describe(self, "in_channels", "out_channels", "w_dim")


class SynthesisBlock(ResolutionBlock, nn.Module):
    """One resolution of the synthesis network: (up)conv, conv, and the image path.

    ``orig`` outputs an image only at the last block; ``skip`` sums upsampled ToRGB outputs of
    every block (the StyleGAN2 default); ``resnet`` adds a 1x1 upsampling shortcut to the
    features. The 4x4 block starts from a learned constant instead of an upconv.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        is_last: bool,
        architecture: str = "skip",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = 256,
        use_fp16: bool = False,
        fp16_channels_last: bool = False,
        fused_modconv_default: bool | str = True,
        **layer_kwargs: Any,
    ):
        super().__init__()
        del fp16_channels_last
        self._init_block(
            in_channels, resolution, img_channels, architecture, use_fp16, resample_filter
        )
        self.w_dim = w_dim
        self.is_last = is_last
        self.fused_modconv_default = fused_modconv_default
        self.num_conv = 0
        self.num_torgb = 0

        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(
                in_channels,
                out_channels,
                w_dim=w_dim,
                resolution=resolution,
                up=2,
                resample_filter=resample_filter,
                conv_clamp=conv_clamp,
                **layer_kwargs,
            )
            self.num_conv += 1

        # conv1 keeps the default filter buffer, as in the official code (it never resamples).
        self.conv1 = SynthesisLayer(
            out_channels,
            out_channels,
            w_dim=w_dim,
            resolution=resolution,
            conv_clamp=conv_clamp,
            **layer_kwargs,
        )
        self.num_conv += 1

        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1

        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(
                in_channels,
                out_channels,
                kernel_size=1,
                bias=False,
                up=2,
                resample_filter=resample_filter,
            )

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,
        noise_mode: str = "random",
        force_fp32: bool = False,
        fused_modconv: bool | str | None = None,
        update_emas: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        del update_emas  # no running statistics in this block
        dtype = block_dtype(self, force_fp32)
        w_iter = iter(ws.unbind(dim=1))
        if fused_modconv is None:
            fused_modconv = self.fused_modconv_default
        if fused_modconv == "inference_only":
            fused_modconv = not self.training
        layer_kwargs = dict(noise_mode=noise_mode, fused_modconv=fused_modconv)

        # Tensors created in this call (the repeated const, conv0's output) feed conv1 and are
        # not read again, so conv1 may overwrite them when autograd records nothing. The
        # block's input `x` belongs to the caller and is never overwritten.
        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = self.conv1(x, next(w_iter), overwrite_input=True, **layer_kwargs)
        elif self.architecture == "resnet":
            x = x.to(dtype)
            y = self.skip(x, gain=RESNET_GAIN)
            x = self.conv0(x, next(w_iter), **layer_kwargs)
            x = self.conv1(x, next(w_iter), gain=RESNET_GAIN, overwrite_input=True, **layer_kwargs)
            x = y.add_(x) if untracked(y, x) else y + x
        else:
            x = self.conv0(x.to(dtype), next(w_iter), **layer_kwargs)
            x = self.conv1(x, next(w_iter), overwrite_input=True, **layer_kwargs)

        if img is not None:
            img = upfirdn2d.upsample2d(img, self.resample_filter)  # a new tensor
        if self.is_last or self.architecture == "skip":
            y = self.torgb(x, next(w_iter), fused_modconv=fused_modconv).to(torch.float32)
            if img is None:
                img = y
            else:
                img = img.add_(y) if untracked(img, y) else img + y
        return x, img


class SynthesisNetwork(nn.Module):
    """Blocks ``b4 ... b{img_resolution}`` turning ``ws [N, num_ws, w_dim]`` into images."""

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 4,
        architecture: str = "skip",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = 256,
        fused_modconv_default: bool | str = True,
        use_noise: bool = True,
        activation: str = "lrelu",
        kernel_size: int = 3,
    ):
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_resolution_log2 = img_resolution.bit_length() - 1
        self.img_channels = img_channels
        self.num_fp16_res = num_fp16_res
        self.block_resolutions = [2**i for i in range(2, self.img_resolution_log2 + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        fp16_resolution = max(2 ** (self.img_resolution_log2 + 1 - num_fp16_res), 8)

        self.num_ws = 0
        for res in self.block_resolutions:
            is_last = res == img_resolution
            block = SynthesisBlock(
                in_channels=channels[res // 2] if res > 4 else 0,
                out_channels=channels[res],
                w_dim=w_dim,
                resolution=res,
                img_channels=img_channels,
                is_last=is_last,
                architecture=architecture,
                resample_filter=resample_filter,
                conv_clamp=conv_clamp,
                use_fp16=res >= fp16_resolution,
                fused_modconv_default=fused_modconv_default,
                use_noise=use_noise,
                activation=activation,
                kernel_size=kernel_size,
            )
            # Consecutive blocks share a w: a block's ToRGB uses the next block's first w.
            self.num_ws += block.num_conv + (block.num_torgb if is_last else 0)
            setattr(self, f"b{res}", block)

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "random",
        force_fp32: bool = False,
        fused_modconv: bool | str | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        check_shape(ws, [None, self.num_ws, self.w_dim], "ws")
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv
            x, img = block(
                x,
                img,
                block_ws,
                noise_mode=noise_mode,
                force_fp32=force_fp32,
                fused_modconv=fused_modconv,
                update_emas=update_emas,
            )
        return img

    def extra_repr(self) -> str:
        names = ("w_dim", "num_ws", "img_resolution", "img_channels", "num_fp16_res")
        return describe(self, *names)


class Generator(ConfiguredNetwork, GenerateMixin, nn.Module):
    """StyleGAN2 generator: ``G(z, c) -> images [N, img_channels, H, W]`` in about [-1, 1].

    Takes NVIDIA's constructor arguments (as in an official pickle's ``init_kwargs``, either
    repository's layout) and keeps them as a frozen :class:`GeneratorConfig` in ``G.config``.
    """

    config_class = GeneratorConfig

    synthesis_class = SynthesisNetwork

    def _make_synthesis(self, config: GeneratorConfig) -> nn.Module:
        """The official SynthesisNetwork takes its config as keyword arguments."""
        return SynthesisNetwork(
            w_dim=config.w_dim,
            img_resolution=config.img_resolution,
            img_channels=config.img_channels,
            **{k: getattr(config, k) for k in GeneratorConfig.SYNTHESIS_KWARGS},
        )
