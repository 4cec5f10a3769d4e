"""The original StyleGAN ("A Style-Based Generator Architecture for GANs", Karras et al. 2019).

Generator: the mapping network shared with StyleGAN2 (8 layers, lr multiplier 0.01, pixel
norm of z), a learned 4x4 constant, and after every layer the "epilogue" of the paper: per-pixel
noise scaled per channel, bias, leaky ReLU, instance normalisation, then adaptive instance
normalisation (AdaIN) with a per-channel scale and bias from an affine transform of that layer's
w. Upsampling repeats pixels and blurs with ``[1, 2, 1]``. Every resolution has its own ToRGB so
the network can grow progressively: ``lod`` (level of detail, a buffer) says how many of the
highest resolutions are faded out, and outputs are always full size (repeated pixels).

Discriminator: the ProGAN/StyleGAN ``D_basic``: FromRGB at every resolution (faded in as the
generator grows), blur before each downsampling conv, minibatch standard deviation, and two
dense layers at 4x4.

There is no official PyTorch StyleGAN (v1). Names follow the StyleGAN2 PyTorch networks where
the layers are the same (``mapping.fc0``, ``synthesis.b8.conv0``, ``b8.torgb``, ``b4.fc``) and
:mod:`stylegan.io.tensorflow_sg1` maps NVIDIA's TensorFlow variables onto them. Equalized learning
rate as the original: a convolution's weight is scaled by ``gain / sqrt(fan_in)`` at run time
with gain ``sqrt(2)`` before a leaky ReLU, so the activation itself carries no gain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.networks.config import ConfiguredNetwork
from stylegan.networks.config_stylegan1 import (
    StyleGAN1DiscriminatorConfig,
    StyleGAN1GeneratorConfig,
)
from stylegan.networks.layers import (
    DiscriminatorMixin,
    FullyConnectedLayer,
    GenerateMixin,
    MinibatchStdLayer,
    check_noise_mode,
    check_shape,
    describe,
    filter_buffer,
)
from stylegan.ops import upfirdn2d
from stylegan.ops.box_resample import (
    box_downsample,
    conv2d_downsample,
    nearest_upsample,
    upsample_conv2d,
)

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2)  # He initialisation gain for leaky ReLU layers, inside the weight


def instance_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Zero mean and unit mean square per sample and channel (over the pixels)."""
    x = x - x.mean(dim=[2, 3], keepdim=True)
    return x * (x.square().mean(dim=[2, 3], keepdim=True) + eps).rsqrt()


def lerp_clip(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """``a + (b - a) * clip(t, 0, 1)``: the fade between two levels of detail."""
    t = min(max(t, 0.0), 1.0)
    if t == 0:
        return a
    return a + (b - a) * t


def _blur(x: torch.Tensor, f: torch.Tensor | None) -> torch.Tensor:
    """The [1, 2, 1] low-pass filter with zero padding, output the size of the input."""
    return x if f is None else upfirdn2d.filter2d(x, f)


def equalized_conv2d(
    x: torch.Tensor, weight: torch.Tensor, gain: float, up: bool = False, down: bool = False
) -> torch.Tensor:
    """Convolve with ``weight * gain / sqrt(fan_in)`` (same-size padding); ``up`` repeats
    pixels before it, ``down`` averages 2x2 blocks after it (each fused into one conv)."""
    fan_in = weight.shape[1] * weight.shape[2] * weight.shape[3]
    w = weight.to(x.dtype) * (gain / math.sqrt(fan_in))
    if up:
        return upsample_conv2d(x, w)
    if down:
        return conv2d_downsample(x, w)
    return F.conv2d(x, w, padding=w.shape[-1] // 2)


class Growing:
    """What the growing synthesis network and discriminator share: the ``lod`` buffer (level of
    detail: how many of the highest resolutions are faded out) and its blocks' levels."""

    def block_lod(self, res: int) -> int:
        """The level of detail at which block ``res`` is the output resolution."""
        return self.img_resolution_log2 - (res.bit_length() - 1)

    def _checked_lod(self, lod: float | None) -> float:
        """``lod`` (the buffer's when None) as a float, refused outside the resolutions."""
        lod = float(self.lod) if lod is None else float(lod)
        if not 0 <= lod <= self.img_resolution_log2 - 2:
            raise StyleGANError(
                f"lod must lie in [0, {self.img_resolution_log2 - 2}] for "
                f"{self.img_resolution} px, got {lod}"
            )
        return lod


class Conv2dLayer(nn.Module):
    """Equalized-lr convolution, bias and leaky ReLU (or linear with gain 1), as the original's
    FromRGB, ToRGB and discriminator convs; ``down`` blurs, convolves and averages 2x2 blocks."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        activation: str = "lrelu",
        down: bool = False,
        resample_filter: Sequence[float] = (1, 2, 1),
    ):
        super().__init__()
        if activation not in ("lrelu", "linear"):
            raise StyleGANError(f"activation must be lrelu or linear, got {activation!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.activation = activation
        self.down = down
        self.gain = LRELU_GAIN if activation == "lrelu" else 1.0
        self.weight = nn.Parameter(
            torch.randn([out_channels, in_channels, kernel_size, kernel_size])
        )
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        if down and len(resample_filter) > 0:
            self.register_buffer("resample_filter", filter_buffer(resample_filter))
        else:
            self.resample_filter = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down:
            x = _blur(x, self.resample_filter)
        x = equalized_conv2d(x, self.weight, self.gain, down=self.down)
        x = x + self.bias.to(x.dtype).reshape(1, -1, 1, 1)
        return F.leaky_relu(x, LRELU_SLOPE) if self.activation == "lrelu" else x

    def extra_repr(self) -> str:
        return describe(self, "in_channels", "out_channels", "activation", "down")


# --------------------------------------------------------------------------------------------
# Generator


class SynthesisLayer(nn.Module):
    """One layer of the synthesis network: an optional conv (upsampling 2x and blurring when
    ``up``), then noise, bias, leaky ReLU, instance norm and the style (AdaIN).

    ``in_channels=0`` makes the epilogue of the 4x4 constant (no conv)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        up: bool = False,
        use_noise: bool = True,
        resample_filter: Sequence[float] = (1, 2, 1),
    ):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.resolution = resolution
        self.up = up
        self.use_noise = use_noise
        if in_channels > 0:
            self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 3, 3]))
        if up and len(resample_filter) > 0:
            self.register_buffer("resample_filter", filter_buffer(resample_filter))
        else:
            self.resample_filter = None
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([out_channels]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        # Styles: a scale per channel (bias 1, so it starts at identity) and a bias per channel.
        self.affine = FullyConnectedLayer(
            w_dim, 2 * out_channels, bias_init=[1.0] * out_channels + [0.0] * out_channels
        )

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        if self.in_channels > 0:
            x = equalized_conv2d(x, self.weight, LRELU_GAIN, up=self.up)
            if self.up:
                x = _blur(x, self.resample_filter)
        if self.use_noise and noise_mode != "none":
            if noise_mode == "random":
                shape = [x.shape[0], 1, self.resolution, self.resolution]
                noise = torch.randn(shape, device=x.device, dtype=x.dtype)
            else:
                noise = self.noise_const.to(x.dtype)
            x = x + noise * self.noise_strength.to(x.dtype).reshape(1, -1, 1, 1)
        x = x + self.bias.to(x.dtype).reshape(1, -1, 1, 1)
        x = F.leaky_relu(x, LRELU_SLOPE)
        x = instance_norm(x)
        style = self.affine(w).unsqueeze(-1).unsqueeze(-1)
        scale, shift = style.chunk(2, dim=1)
        return x * scale + shift

    def extra_repr(self) -> str:
        names = ("in_channels", "out_channels", "resolution", "up", "use_noise")
        return describe(self, *names)


class SynthesisBlock(nn.Module):
    """One resolution: two layers (the 4x4 block starts from the learned constant) and ToRGB."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        use_noise: bool,
        resample_filter: Sequence[float],
    ):
        super().__init__()
        self.resolution = resolution
        if resolution == 4:
            self.const = nn.Parameter(torch.ones([out_channels, 4, 4]))
            self.input = SynthesisLayer(0, out_channels, w_dim, 4, use_noise=use_noise)
        else:
            self.conv0 = SynthesisLayer(
                in_channels,
                out_channels,
                w_dim,
                resolution,
                up=True,
                use_noise=use_noise,
                resample_filter=resample_filter,
            )
        self.conv1 = SynthesisLayer(
            out_channels, out_channels, w_dim, resolution, use_noise=use_noise
        )
        self.torgb = Conv2dLayer(out_channels, img_channels, 1, activation="linear")

    def forward(self, x: torch.Tensor | None, ws: torch.Tensor, noise_mode: str) -> torch.Tensor:
        """Features of this resolution from the previous block's (``None`` at 4x4)."""
        if self.resolution == 4:
            x = self.const.to(ws.dtype).unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            x = self.input(x, ws[:, 0], noise_mode)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode)
        return self.conv1(x, ws[:, 1], noise_mode)


class SynthesisNetwork(Growing, nn.Module):
    """Blocks ``b4 ... b{img_resolution}`` turning ``ws [N, num_ws, w_dim]`` into images.

    ``lod`` (a buffer, 0 when fully grown) fades out the top resolutions: blocks above
    ``img_resolution / 2**ceil(lod)`` are skipped, the newest one is blended with the upsampled
    image of the one below by ``lod - floor(lod)``, and the result is upsampled to full size.
    """

    def __init__(self, config: StyleGAN1GeneratorConfig):
        super().__init__()
        self.w_dim = config.w_dim
        self.img_resolution = config.img_resolution
        self.img_resolution_log2 = config.img_resolution.bit_length() - 1
        self.img_channels = config.img_channels
        self.num_ws = config.num_ws
        self.block_resolutions = [2**i for i in range(2, self.img_resolution_log2 + 1)]
        for res in self.block_resolutions:
            block = SynthesisBlock(
                in_channels=config.channels(res // 2) if res > 4 else 0,
                out_channels=config.channels(res),
                w_dim=config.w_dim,
                resolution=res,
                img_channels=config.img_channels,
                use_noise=config.use_noise,
                resample_filter=config.resample_filter,
            )
            setattr(self, f"b{res}", block)
        self.register_buffer("lod", torch.zeros([]))

    def active_num_ws(self, lod: float | None = None) -> int:
        """How many ws the blocks used at ``lod`` consume (style mixing draws its cutoff
        below this while the network grows)."""
        lod = float(self.lod) if lod is None else lod
        return self.num_ws - 2 * math.floor(lod)

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "random",
        lod: float | None = None,
        force_fp32: bool = True,
        fused_modconv: bool | str | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        """``force_fp32``, ``fused_modconv`` and ``update_emas`` are accepted so that callers
        can treat every generation alike; they change nothing here."""
        del force_fp32, fused_modconv, update_emas
        check_noise_mode(noise_mode)
        check_shape(ws, [None, self.num_ws, self.w_dim], "ws")
        lod = self._checked_lod(lod)
        ws = ws.to(torch.float32)
        top = math.floor(lod)  # block_lod of the highest active block
        fade = lod - top
        x = block = previous = None
        for i, res in enumerate(self.block_resolutions):
            if self.block_lod(res) < top:
                break  # this and all higher resolutions are faded out entirely
            previous = (block, x) if block is not None else None
            block = getattr(self, f"b{res}")
            x = block(x, ws[:, 2 * i : 2 * i + 2], noise_mode)
        img = block.torgb(x)
        if fade > 0 and previous is not None:
            # Fading in the highest block: blend towards the upsampled image of the one below.
            lower_block, lower_x = previous
            img = lerp_clip(img, nearest_upsample(lower_block.torgb(lower_x), 2), fade)
        return nearest_upsample(img, self.img_resolution // img.shape[-1])

    def extra_repr(self) -> str:
        return describe(self, "w_dim", "num_ws", "img_resolution", "img_channels")


class Generator(ConfiguredNetwork, GenerateMixin, nn.Module):
    """Original StyleGAN generator: ``G(z, c) -> images [N, img_channels, H, W]`` in ~[-1, 1].

    Without ``truncation_psi`` it truncates as the original ``Gs`` did (psi 0.7 on the first 8
    ws, from the config); ``G(z, truncation_psi=1)`` turns that off.
    """

    config_class = StyleGAN1GeneratorConfig

    synthesis_class = SynthesisNetwork

    @property
    def default_truncation(self) -> tuple[float, int | None]:
        """``(psi, cutoff)`` used when a caller gives no truncation: the original's 0.7 and 8."""
        return self._config.truncation_psi, self._config.truncation_cutoff


# --------------------------------------------------------------------------------------------
# Discriminator


class DiscriminatorBlock(nn.Module):
    """One resolution above 4x4: conv, then blur and a conv that averages 2x2 blocks."""

    def __init__(
        self,
        tmp_channels: int,
        out_channels: int,
        resolution: int,
        img_channels: int,
        resample_filter: Sequence[float],
    ):
        super().__init__()
        self.resolution = resolution
        self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3)
        self.conv1 = Conv2dLayer(
            tmp_channels, out_channels, 3, down=True, resample_filter=resample_filter
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1(self.conv0(x))


class DiscriminatorEpilogue(nn.Module):
    """The 4x4 end: FromRGB (used while the network is 4x4 only), minibatch std, conv, two
    dense layers. One output per class for conditional networks (0 classes: one output)."""

    def __init__(self, config: StyleGAN1DiscriminatorConfig):
        super().__init__()
        channels = config.channels(4)
        self.fromrgb = Conv2dLayer(config.img_channels, channels, 1)
        self.mbstd = None
        if config.mbstd_num_channels > 0:
            self.mbstd = MinibatchStdLayer(config.mbstd_group_size, config.mbstd_num_channels)
        self.conv = Conv2dLayer(channels + config.mbstd_num_channels, channels, 3)
        # Dense layers keep the original's gains: sqrt(2) before lrelu, 1 for the output.
        self.fc = FullyConnectedLayer(channels * 16, config.channels(2), activation="lrelu")
        self.out = FullyConnectedLayer(config.channels(2), max(config.c_dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mbstd is not None:
            x = self.mbstd(x)
        return self.out(self.fc(self.conv(x).flatten(1)))


class Discriminator(ConfiguredNetwork, DiscriminatorMixin, Growing, nn.Module):
    """Original StyleGAN discriminator: ``D(img, c) -> logits [N, 1]``, growing with ``lod``.

    At level of detail ``lod`` the image is box-downsampled by ``2**floor(lod)``, the highest
    active block takes it through its FromRGB, and during a fade-in (fractional ``lod``) the
    FromRGB of the next resolution down is blended in after that block.
    """

    config_class = StyleGAN1DiscriminatorConfig

    def __init__(
        self,
        c_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 16384,
        channel_max: int = 512,
        mbstd_group_size: int | None = 4,
        mbstd_num_channels: int = 1,
        resample_filter: Sequence[float] = (1, 2, 1),
    ):
        super().__init__()
        config = StyleGAN1DiscriminatorConfig.from_init_kwargs(
            dict(
                c_dim=c_dim,
                img_resolution=img_resolution,
                img_channels=img_channels,
                channel_base=channel_base,
                channel_max=channel_max,
                mbstd_group_size=mbstd_group_size,
                mbstd_num_channels=mbstd_num_channels,
                resample_filter=resample_filter,
            )
        )
        self._adopt_config(config)
        for res in self.block_resolutions:
            block = DiscriminatorBlock(
                tmp_channels=config.channels(res),
                out_channels=config.channels(res // 2),
                resolution=res,
                img_channels=config.img_channels,
                resample_filter=config.resample_filter,
            )
            setattr(self, f"b{res}", block)
        self.b4 = DiscriminatorEpilogue(config)
        self.register_buffer("lod", torch.zeros([]))

    def forward(
        self,
        img: torch.Tensor,
        c: torch.Tensor | None = None,
        lod: float | None = None,
        update_emas: bool = False,
        force_fp32: bool = True,
    ) -> torch.Tensor:
        del update_emas, force_fp32  # no running averages; fp32 only
        self._check_images(img)
        lod = self._checked_lod(lod)
        top = math.floor(lod)  # blocks above img_resolution / 2**top are inactive
        fade = lod - top
        x = None
        for r in self.block_resolutions + [4]:
            block_lod = self.block_lod(r)
            if block_lod < top:
                continue
            block = getattr(self, f"b{r}")
            if x is None:
                x = block.fromrgb(box_downsample(img, 2**block_lod))
            elif block_lod == top + 1 and fade > 0:
                # Fading in the block above: blend with this resolution's own FromRGB.
                x = lerp_clip(x, block.fromrgb(box_downsample(img, 2**block_lod)), fade)
            if r > 4:
                x = block(x)
        logits = self.b4(x)
        if self.c_dim > 0:
            check_shape(c, [x.shape[0], self.c_dim], "c (class labels)")
            logits = (logits * c.to(logits.dtype)).sum(dim=1, keepdim=True)
        return logits
