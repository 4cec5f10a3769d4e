"""StyleGAN3 generator ("Alias-Free Generative Adversarial Networks"), configs T and R.

Reads top to bottom: low-pass filter design, the layer schedule (cutoffs, stopbands, sampling
rates, sizes and widths of every layer), the Fourier-feature input, the synthesis layer
(modulated conv, then bias + leaky ReLU run at a higher sampling rate between an upsampling and
a downsampling low-pass filter), the synthesis network and the generator. Parameter and buffer
names and shapes equal NVIDIA's (``synthesis.input.freqs``, ``synthesis.L3_36_512.up_filter``,
``magnitude_ema``, ...), so official weights load with ``load_state_dict(strict=True)``.

Config T is the class default; config R uses 1x1 convolutions and radially symmetric
downsampling filters (``conv_kernel=1, use_radial_filters=True``), usually with twice the
channels. As for StyleGAN2, the layers above the ``num_fp16_res`` threshold compute in fp16 or
bf16 once ``layers.set_mixed_precision`` is called; otherwise everything runs in fp32.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.networks.config import ConfiguredNetwork
from stylegan.networks.config_stylegan3 import StyleGAN3GeneratorConfig
from stylegan.networks.layers import (
    FullyConnectedLayer,
    GenerateMixin,
    block_dtype,
    check_noise_mode,
    check_shape,
    describe,
)
from stylegan.ops.filtered_lrelu import filtered_lrelu
from stylegan.ops.modulated_conv import modulated_conv2d, untracked

# --------------------------------------------------------------------------------------------
# Low-pass filters


def kaiser_attenuation(numtaps: int, width: float) -> float:
    """Stopband attenuation (dB) a Kaiser-window FIR of ``numtaps`` reaches for a transition
    band ``width`` (a fraction of the Nyquist rate); Kaiser's empirical formula."""
    return 2.285 * (numtaps - 1) * math.pi * width + 7.95


def kaiser_beta(attenuation: float) -> float:
    """The Kaiser window's ``beta`` that gives ``attenuation`` dB (Kaiser's formula)."""
    if attenuation > 50:
        return 0.1102 * (attenuation - 8.7)
    if attenuation > 21:
        return 0.5842 * (attenuation - 21) ** 0.4 + 0.07886 * (attenuation - 21)
    return 0.0


def design_lowpass_filter(
    numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False
) -> torch.Tensor | None:
    """A Kaiser-windowed low-pass FIR: 1-D (applied separably) or radially symmetric 2-D.

    ``cutoff`` and the transition band ``width`` are in the units of the sampling rate ``fs``.
    The 1-D filter is the windowed sinc that ``scipy.signal.firwin(numtaps, cutoff,
    width=width, fs=fs)`` designs; the radial one windows a jinc (the 2-D ideal disc low-pass)
    with the outer product of the same window. Both sum to one. ``numtaps == 1`` means no
    filter (``None``).
    """
    if numtaps < 1:
        raise StyleGANError(f"a filter needs at least one tap, got {numtaps}")
    if numtaps == 1:
        return None
    nyquist = fs / 2
    beta = kaiser_beta(kaiser_attenuation(numtaps, width / nyquist))
    window = np.kaiser(numtaps, beta)
    if not radial:
        m = np.arange(numtaps) - (numtaps - 1) / 2
        band = cutoff / nyquist
        f = band * np.sinc(band * m) * window
    else:
        x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
        r = np.hypot(*np.meshgrid(x, x))
        # jinc: J1(2 pi fc r) / (pi r), whose limit at r = 0 is fc.
        j1 = torch.special.bessel_j1(torch.from_numpy(2 * cutoff * np.pi * r)).numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(r > 0, j1 / (np.pi * r), cutoff)
        f = f * np.outer(window, window)
    return torch.as_tensor(f / np.sum(f), dtype=torch.float32)


# --------------------------------------------------------------------------------------------
# Layer schedule


@dataclasses.dataclass(frozen=True)
class LayerSchedule:
    """Per-layer signal parameters, index 0 = the Fourier input, ``num_layers`` = ToRGB.

    Cutoffs and stopbands grow geometrically from the first layer to the last non-critical
    one; sampling rates are the smallest powers of two above twice the stopband (at most the
    image resolution); the last ``num_critical`` layers sample critically at the image size.
    """

    cutoffs: np.ndarray  # f_c
    stopbands: np.ndarray  # f_t
    sampling_rates: np.ndarray  # s
    half_widths: np.ndarray  # f_h, half the transition band
    sizes: np.ndarray  # pixels per side, margin included
    channels: np.ndarray


def layer_schedule(config: StyleGAN3GeneratorConfig) -> LayerSchedule:
    """The schedule of ``config``, computed in float64 exactly as the official code does."""
    n = config.num_layers
    last_cutoff = config.img_resolution / 2
    last_stopband = last_cutoff * config.last_stopband_rel
    exponents = np.minimum(np.arange(n + 1) / (n - config.num_critical), 1)
    cutoffs = config.first_cutoff * (last_cutoff / config.first_cutoff) ** exponents
    stopbands = config.first_stopband * (last_stopband / config.first_stopband) ** exponents
    sampling_rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, config.img_resolution))))
    half_widths = np.maximum(stopbands, sampling_rates / 2) - cutoffs
    sizes = sampling_rates + config.margin_size * 2
    sizes[-2:] = config.img_resolution
    channels = np.rint(np.minimum((config.channel_base / 2) / cutoffs, config.channel_max))
    channels[-1] = config.img_channels
    return LayerSchedule(cutoffs, stopbands, sampling_rates, half_widths, sizes, channels)


# --------------------------------------------------------------------------------------------
# Synthesis


def transform_matrix(translate: Sequence[float] = (0.0, 0.0), rotate: float = 0.0) -> torch.Tensor:
    """The 3x3 matrix for ``synthesis.input.transform`` that shows the image translated by
    ``translate`` (in image widths: ``1 / img_resolution`` is one pixel) and rotated by
    ``rotate`` degrees. The buffer holds the inverse of the image's transform; this returns it.
    """
    angle = math.radians(rotate)
    c, s = math.cos(angle), math.sin(angle)
    forward = torch.tensor(
        [[c, s, translate[0]], [-s, c, translate[1]], [0, 0, 1]], dtype=torch.float64
    )
    return torch.linalg.inv(forward).to(torch.float32)


class SynthesisInput(nn.Module):
    """Fourier features: ``channels`` sinusoids of random frequency (within ``bandwidth``) and
    phase, sampled on a ``size``-pixel grid, rotated and translated per sample by an affine
    map of w, then mixed by a learned ``[channels, channels]`` matrix.

    The ``transform`` buffer is a user-set inverse transform of the resulting image (identity by
    default; see :func:`transform_matrix`).
    """

    def __init__(
        self,
        w_dim: int,
        channels: int,
        size: int | Sequence[int],
        sampling_rate: float,
        bandwidth: float,
    ):
        super().__init__()
        self.w_dim = w_dim
        self.channels = channels
        self.size = np.broadcast_to(np.asarray(size), [2])  # [width, height]
        self.sampling_rate = sampling_rate
        self.bandwidth = bandwidth

        # Frequencies uniform in the disc of radius `bandwidth`: a 2-D Gaussian gives the
        # direction, and as exp(-r^2 / 2) of its radius r is uniform on (0, 1), its square root
        # exp(-r^2 / 4) is distributed as the radius of a uniform point in the unit disc.
        # Phases are uniform in [-0.5, 0.5) periods.
        freqs = torch.randn([channels, 2])
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs /= radii * radii.square().exp().pow(0.25)
        freqs *= bandwidth
        phases = torch.rand([channels]) - 0.5

        self.weight = nn.Parameter(torch.randn([channels, channels]))
        # (cos, sin, tx, ty) of the per-sample rotation and translation; starts at identity.
        self.affine = FullyConnectedLayer(w_dim, 4, weight_init=0, bias_init=[1, 0, 0, 0])
        self.register_buffer("transform", torch.eye(3, 3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", phases)

    def set_transform(self, translate: Sequence[float] = (0.0, 0.0), rotate: float = 0.0) -> None:
        """Show the image translated (in image widths) and rotated (degrees) from now on."""
        with torch.no_grad():
            self.transform.copy_(transform_matrix(translate, rotate))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        batch_size = w.shape[0]
        # Per-sample rotation (unit-norm cos/sin) and translation, both inverse wrt. the image.
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        cos, sin, tx, ty = t.unbind(dim=1)
        zero, one = torch.zeros_like(cos), torch.ones_like(cos)
        rotation = torch.stack([cos, -sin, zero, sin, cos, zero, zero, zero, one], dim=1)
        translation = torch.stack([one, zero, -tx, zero, one, -ty, zero, zero, one], dim=1)
        rotation = rotation.reshape(batch_size, 3, 3)
        translation = translation.reshape(batch_size, 3, 3)
        # Rotate the image first, then translate it, then the user's transform.
        transforms = rotation @ translation @ self.transform.unsqueeze(0)

        freqs = self.freqs.unsqueeze(0)  # [1, C, 2]
        phases = self.phases.unsqueeze(0) + (freqs @ transforms[:, :2, 2:]).squeeze(2)  # [N, C]
        freqs = freqs @ transforms[:, :2, :2]  # [N, C, 2]

        # Fade out frequencies that the user's transform (e.g. a scale) pushed past the band.
        amplitudes = 1 - (freqs.norm(dim=2) - self.bandwidth) / (
            self.sampling_rate / 2 - self.bandwidth
        )
        amplitudes = amplitudes.clamp(0, 1)

        # Pixel centres in units of the sampling rate, centred on the image.
        width, height = int(self.size[0]), int(self.size[1])
        theta = torch.zeros([1, 2, 3], device=w.device)
        theta[0, 0, 0] = 0.5 * width / self.sampling_rate
        theta[0, 1, 1] = 0.5 * height / self.sampling_rate
        grid = F.affine_grid(theta, [1, 1, height, width], align_corners=False)  # [1, H, W, 2]

        x = (grid.unsqueeze(3) @ freqs.transpose(1, 2).unsqueeze(1).unsqueeze(2)).squeeze(3)
        x = x + phases.unsqueeze(1).unsqueeze(2)  # [N, H, W, C]
        x = torch.sin(x * (2 * math.pi)) * amplitudes.unsqueeze(1).unsqueeze(2)

        weight = self.weight / math.sqrt(self.channels)
        x = x @ weight.t()
        return x.permute(0, 3, 1, 2)  # [N, C, H, W]

    def extra_repr(self) -> str:
        return (
            f"w_dim={self.w_dim}, channels={self.channels}, size={[int(s) for s in self.size]}, "
            f"sampling_rate={self.sampling_rate:g}, bandwidth={self.bandwidth:g}"
        )


def _on_default_device(f: torch.Tensor | None) -> torch.Tensor | None:
    """Filters are designed on the CPU; move them where ``with torch.device(...)`` builds."""
    return None if f is None else f.to(torch.empty(0).device)


class SynthesisLayer(nn.Module):
    """Modulated conv, then filtered leaky ReLU: upsample to ``lrelu_upsampling`` times the
    higher of the two sampling rates, add bias, leaky ReLU, low-pass and downsample to the
    output rate. The ToRGB layer (``is_torgb``) is a 1x1 conv without demodulation, activation
    or filters.

    The input is divided by the square root of a running mean of its square (``magnitude_ema``,
    updated when ``update_emas=True``), which keeps activations near unit scale in training.
    """

    def __init__(
        self,
        w_dim: int,
        is_torgb: bool,
        is_critically_sampled: bool,
        use_fp16: bool,
        in_channels: int,
        out_channels: int,
        in_size: int | Sequence[int],
        out_size: int | Sequence[int],
        in_sampling_rate: float,
        out_sampling_rate: float,
        in_cutoff: float,
        out_cutoff: float,
        in_half_width: float,
        out_half_width: float,
        conv_kernel: int = 3,
        filter_size: int = 6,
        lrelu_upsampling: int = 2,
        use_radial_filters: bool = False,
        conv_clamp: float | None = 256,
        magnitude_ema_beta: float = 0.999,
    ):
        super().__init__()
        self.w_dim = w_dim
        self.is_torgb = is_torgb
        self.is_critically_sampled = is_critically_sampled
        self.use_fp16 = use_fp16  # in low precision once set_mixed_precision() enables it
        self.low_precision: torch.dtype | None = None
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.in_size = np.broadcast_to(np.asarray(in_size), [2])
        self.out_size = np.broadcast_to(np.asarray(out_size), [2])
        self.in_sampling_rate = in_sampling_rate
        self.out_sampling_rate = out_sampling_rate
        self.tmp_sampling_rate = max(in_sampling_rate, out_sampling_rate) * (
            1 if is_torgb else lrelu_upsampling
        )
        self.in_cutoff = in_cutoff
        self.out_cutoff = out_cutoff
        self.in_half_width = in_half_width
        self.out_half_width = out_half_width
        self.conv_kernel = 1 if is_torgb else conv_kernel
        self.conv_clamp = conv_clamp
        self.magnitude_ema_beta = magnitude_ema_beta

        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        k = self.conv_kernel
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, k, k]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))

        # Upsampling filter: passes the input band, at the temporary (lrelu) rate.
        self.up_factor = self._ratio(self.tmp_sampling_rate, in_sampling_rate)
        self.up_taps = filter_size * self.up_factor if self.up_factor > 1 and not is_torgb else 1
        up_filter = design_lowpass_filter(
            self.up_taps, in_cutoff, in_half_width * 2, self.tmp_sampling_rate
        )
        self.register_buffer("up_filter", _on_default_device(up_filter))

        # Downsampling filter: removes what the lrelu added above the output band.
        self.down_factor = self._ratio(self.tmp_sampling_rate, out_sampling_rate)
        self.down_taps = (
            filter_size * self.down_factor if self.down_factor > 1 and not is_torgb else 1
        )
        self.down_radial = use_radial_filters and not is_critically_sampled
        down_filter = design_lowpass_filter(
            self.down_taps,
            out_cutoff,
            out_half_width * 2,
            self.tmp_sampling_rate,
            radial=self.down_radial,
        )
        self.register_buffer("down_filter", _on_default_device(down_filter))

        # Padding that maps the (conv-enlarged) input onto the output grid, with sample points
        # placed symmetrically (paper, Appendix C.3).
        pad_total = (self.out_size - 1) * self.down_factor + 1
        pad_total -= (self.in_size + self.conv_kernel - 1) * self.up_factor
        pad_total += self.up_taps + self.down_taps - 2
        pad_lo = (pad_total + self.up_factor) // 2
        pad_hi = pad_total - pad_lo
        self.padding = [int(pad_lo[0]), int(pad_hi[0]), int(pad_lo[1]), int(pad_hi[1])]

    @staticmethod
    def _ratio(high: float, low: float) -> int:
        ratio = int(np.rint(high / low))
        if low * ratio != high:
            raise StyleGANError(
                f"sampling rates {high:g} and {low:g} are not whole multiples of each other: "
                "use a power-of-two resolution and a whole lrelu_upsampling"
            )
        return ratio

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        noise_mode: str = "random",
        force_fp32: bool = False,
        update_emas: bool = False,
        overwrite_input: bool = False,
    ) -> torch.Tensor:
        """``overwrite_input=True``: the caller no longer needs ``x``; without autograd it may
        then be scaled in place instead of copied (same result)."""
        del noise_mode  # no noise in StyleGAN3
        dtype = block_dtype(self, force_fp32)
        check_shape(x, [None, self.in_channels, int(self.in_size[1]), int(self.in_size[0])], "x")
        check_shape(w, [x.shape[0], self.w_dim], "w")

        if update_emas:
            with torch.no_grad():
                magnitude = x.detach().to(torch.float32).square().mean()
                self.magnitude_ema.copy_(
                    magnitude.lerp(self.magnitude_ema, self.magnitude_ema_beta)
                )
        input_gain = self.magnitude_ema.rsqrt()

        styles = self.affine(w)
        weight = self.weight
        if self.is_torgb:
            styles = styles * (input_gain / math.sqrt(self.in_channels * self.conv_kernel**2))
        else:
            # Normalise weight (per output channel) and styles (over the whole batch) before
            # modulating, as the official code does; demodulation cancels both scales up to its
            # epsilon, so this only guards the range of the intermediate products.
            weight = weight * weight.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
            styles = styles * styles.square().mean().rsqrt()
        x = modulated_conv2d(
            x.to(dtype),
            weight,
            styles,
            padding=self.conv_kernel - 1,
            demodulate=not self.is_torgb,
            overwrite_x=overwrite_input,
        )
        if not self.is_torgb:
            # The input gain scales the demodulated weight, hence the output (the conv is linear).
            x = x.mul_(input_gain) if untracked(x, input_gain) else x * input_gain

        gain = 1 if self.is_torgb else math.sqrt(2)
        slope = 1 if self.is_torgb else 0.2
        return filtered_lrelu(
            x,
            fu=self.up_filter,
            fd=self.down_filter,
            b=self.bias.to(x.dtype),
            up=self.up_factor,
            down=self.down_factor,
            padding=self.padding,
            gain=gain,
            slope=slope,
            clamp=self.conv_clamp,
        )

    def extra_repr(self) -> str:
        return (
            f"w_dim={self.w_dim}, is_torgb={self.is_torgb}, "
            f"is_critically_sampled={self.is_critically_sampled}, "
            f"in_sampling_rate={self.in_sampling_rate:g}, "
            f"out_sampling_rate={self.out_sampling_rate:g}, in_cutoff={self.in_cutoff:g}, "
            f"out_cutoff={self.out_cutoff:g}, in_half_width={self.in_half_width:g}, "
            f"out_half_width={self.out_half_width:g}, in_size={[int(s) for s in self.in_size]}, "
            f"out_size={[int(s) for s in self.out_size]}, in_channels={self.in_channels}, "
            f"out_channels={self.out_channels}"
        )


class SynthesisNetwork(nn.Module):
    """The Fourier input and layers ``L0_... L{num_layers}_...`` (the last is ToRGB), turning
    ``ws [N, num_layers + 2, w_dim]`` into images."""

    def __init__(self, config: StyleGAN3GeneratorConfig):
        super().__init__()
        self.w_dim = config.w_dim
        self.num_ws = config.num_ws
        self.img_resolution = config.img_resolution
        self.img_channels = config.img_channels
        self.num_layers = config.num_layers
        self.num_critical = config.num_critical
        self.margin_size = config.margin_size
        self.output_scale = config.output_scale
        self.num_fp16_res = config.num_fp16_res
        self.schedule = schedule = layer_schedule(config)
        rates, sizes, channels = schedule.sampling_rates, schedule.sizes, schedule.channels

        self.input = SynthesisInput(
            w_dim=config.w_dim,
            channels=int(channels[0]),
            size=int(sizes[0]),
            sampling_rate=rates[0],
            bandwidth=schedule.cutoffs[0],
        )
        self.layer_names: list[str] = []
        for idx in range(config.num_layers + 1):
            prev = max(idx - 1, 0)
            layer = SynthesisLayer(
                w_dim=config.w_dim,
                is_torgb=idx == config.num_layers,
                is_critically_sampled=idx >= config.num_layers - config.num_critical,
                use_fp16=bool(rates[idx] * 2**config.num_fp16_res > config.img_resolution),
                in_channels=int(channels[prev]),
                out_channels=int(channels[idx]),
                in_size=int(sizes[prev]),
                out_size=int(sizes[idx]),
                in_sampling_rate=int(rates[prev]),
                out_sampling_rate=int(rates[idx]),
                in_cutoff=schedule.cutoffs[prev],
                out_cutoff=schedule.cutoffs[idx],
                in_half_width=schedule.half_widths[prev],
                out_half_width=schedule.half_widths[idx],
                conv_kernel=config.conv_kernel,
                filter_size=config.filter_size,
                lrelu_upsampling=config.lrelu_upsampling,
                use_radial_filters=config.use_radial_filters,
                conv_clamp=config.conv_clamp,
                magnitude_ema_beta=config.magnitude_ema_beta,
            )
            name = f"L{idx}_{layer.out_size[0]}_{layer.out_channels}"
            setattr(self, name, layer)
            self.layer_names.append(name)

    def layers(self) -> list[SynthesisLayer]:
        """The synthesis layers in order, ToRGB last."""
        return [getattr(self, name) for name in self.layer_names]

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "random",
        force_fp32: bool = False,
        fused_modconv: bool | str | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        """``noise_mode`` and ``fused_modconv`` are accepted so that callers can treat
        StyleGAN2 and StyleGAN3 alike (StyleGAN3 has no noise)."""
        del fused_modconv
        check_noise_mode(noise_mode)
        check_shape(ws, [None, self.num_ws, self.w_dim], "ws")
        ws = ws.to(torch.float32).unbind(dim=1)
        x = self.input(ws[0])
        # Every layer input is a temporary of this call, so the layers may overwrite it.
        for layer, w in zip(self.layers(), ws[1:]):
            x = layer(x, w, force_fp32=force_fp32, update_emas=update_emas, overwrite_input=True)
        x = x.to(torch.float32)
        if self.output_scale != 1:
            x = x.mul_(self.output_scale) if untracked(x) else x * self.output_scale
        return x

    def extra_repr(self) -> str:
        return describe(
            self,
            "w_dim",
            "num_ws",
            "img_resolution",
            "img_channels",
            "num_layers",
            "num_critical",
            "margin_size",
            "num_fp16_res",
        )


class Generator(ConfiguredNetwork, GenerateMixin, nn.Module):
    """StyleGAN3 generator: ``G(z, c) -> images [N, img_channels, H, W]`` in about [-1, 1].

    Takes NVIDIA's constructor arguments (an official StyleGAN3 pickle's ``init_kwargs``) and
    keeps them as a frozen :class:`StyleGAN3GeneratorConfig` in ``G.config``.
    """

    config_class = StyleGAN3GeneratorConfig

    synthesis_class = SynthesisNetwork
