"""Building blocks shared by every StyleGAN generation: equalized-lr layers, mapping, mbstd.

Equalized learning rate: weights are stored with unit variance (divided by the learning-rate
multiplier) and scaled at run time, so Adam's per-parameter step size treats every layer alike.
Names and shapes of parameters and buffers equal NVIDIA's, so official weights load unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn
from tqdm import tqdm

from stylegan.errors import StyleGANError
from stylegan.images import to_uint8_nhwc
from stylegan.latents import class_labels, parse_seeds, z_from_seeds
from stylegan.networks.config_checks import ARCHITECTURES
from stylegan.ops import bias_act, conv2d_resample, upfirdn2d


def activation_gain(activation: str) -> float:
    """The default gain of ``activation`` (``sqrt(2)`` for the ReLU family), which keeps the
    output variance close to the input variance."""
    spec = bias_act.activation_funcs.get(activation)
    if spec is None:
        known = ", ".join(bias_act.activation_funcs)
        raise StyleGANError(f"unknown activation {activation!r}: choose one of {known}")
    return spec.def_gain


RESNET_GAIN = math.sqrt(0.5)  # both branches of a residual sum, so the variance stays put


def filter_buffer(f: Sequence[float]) -> torch.Tensor:
    """A prepared FIR filter on the default device, so ``with torch.device("meta"):`` (or
    ``"cuda"``) builds whole networks there."""
    return upfirdn2d.setup_filter(list(f), device=torch.empty(0).device)


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale ``x`` to unit mean square along ``dim`` (the pixel norm applied to z and labels)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def check_shape(x: torch.Tensor | None, shape: Sequence[int | None], what: str) -> None:
    """Raise a readable error unless ``x`` has ``shape`` (``None`` entries match any size)."""
    if x is None:
        raise StyleGANError(f"{what} is missing: expected a tensor of shape {_shape_str(shape)}")
    ok = x.ndim == len(shape) and all(s is None or s == d for s, d in zip(shape, x.shape))
    if not ok:
        raise StyleGANError(
            f"{what} has shape {list(x.shape)}, expected {_shape_str(shape)} (None = any size)"
        )


def _shape_str(shape: Sequence[int | None]) -> str:
    return "[" + ", ".join("N" if s is None else str(s) for s in shape) + "]"


# How a generator draws its per-pixel noise (official names): the stored constant buffers,
# fresh random noise, or none. One tuple for every generation and every tool.
NOISE_MODES = ("const", "random", "none")


def check_noise_mode(noise_mode: str) -> str:
    """Validate a ``noise_mode`` name (``const``, ``random`` or ``none``)."""
    if noise_mode not in NOISE_MODES:
        raise StyleGANError(
            f"unknown noise mode {noise_mode!r}: noise_mode must be one of {', '.join(NOISE_MODES)}"
        )
    return noise_mode


# How extra_repr labels the widths of a layer.
_REPR_LABELS = dict(in_channels="in", out_channels="out", in_features="in", out_features="out")


def describe(module: nn.Module, *names: str) -> str:
    """Every network's ``extra_repr``: ``name=value`` per attribute named (widths: in / out)."""
    return ", ".join(f"{_REPR_LABELS.get(name, name)}={getattr(module, name)}" for name in names)


LOW_PRECISIONS = {"fp16": torch.float16, "bf16": torch.bfloat16}
PRECISIONS = ("fp32", *LOW_PRECISIONS)


def block_dtype(block: nn.Module, force_fp32: bool) -> torch.dtype:
    """The dtype a block computes in: its low precision if it is one of the ``num_fp16_res``
    highest resolutions (``use_fp16``), mixed precision is on, and fp32 was not forced."""
    if block.use_fp16 and block.low_precision is not None and not force_fp32:
        return block.low_precision
    return torch.float32


def set_mixed_precision(net: nn.Module, precision: str | None) -> nn.Module:
    """Run the fp16 blocks of ``net`` in ``"fp16"`` (as NVIDIA's code) or ``"bf16"``, or in
    fp32 again with ``None`` / ``"fp32"``. Parameters stay fp32; only activations change.
    Blocks opt in with a ``low_precision`` attribute (the StyleGAN2 G and D blocks and the
    StyleGAN3 layers)."""
    if precision is not None and precision not in PRECISIONS:
        raise StyleGANError(f"precision must be fp32, fp16 or bf16, got {precision!r}")
    dtype = LOW_PRECISIONS.get(precision)
    for module in net.modules():
        if hasattr(module, "low_precision"):
            module.low_precision = dtype
    return net


class FullyConnectedLayer(nn.Module):
    """Dense layer with equalized learning rate and a fused bias + activation."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float | Sequence[float] = 0.0,
        weight_init: float = 1.0,
    ):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        activation_gain(activation)  # fail early on a typo
        self.weight = nn.Parameter(
            torch.randn([out_features, in_features]) * (weight_init / lr_multiplier)
        )
        if bias:
            # Stored divided by lr_multiplier so that the effective initial bias is bias_init.
            # StyleGAN2 only ever combines lr_multiplier != 1 with bias_init = 0, so both
            # official conventions give the same networks.
            init = torch.as_tensor(bias_init, dtype=torch.float32).expand([out_features])
            self.bias = nn.Parameter(init / lr_multiplier)
        else:
            self.bias = None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        # The matmul's output is ours: bias_act may update it in place (without autograd).
        return bias_act.bias_act(x.matmul(w.t()), b, act=self.activation, inplace=True)

    def extra_repr(self) -> str:
        return describe(self, "in_features", "out_features", "activation")


class ConvActivation:
    """What StyleGAN2's conv layers (:class:`Conv2dLayer`, the synthesis layer) share: settings,
    resampling filter, and the fused bias + activation + clamp ending their forward pass.
    ``conv_clamp`` (times the caller's ``gain``) keeps fp16 finite as in the official code; it
    changes outputs, so it is applied in fp32 too."""

    def _init_conv(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        activation: str,
        up: int,
        conv_clamp: float | None,
        resample_filter: Sequence[float],
    ) -> None:
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.activation = activation
        self.up = up
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", filter_buffer(resample_filter))
        self.padding = kernel_size // 2
        self.act_gain = activation_gain(activation)

    def _bias_act(self, x: torch.Tensor, b: torch.Tensor | None, gain: float) -> torch.Tensor:
        """Bias, activation, gain and clamp on ``x``, the conv's fresh output (updated in place)."""
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act.bias_act(
            x, b, act=self.activation, gain=self.act_gain * gain, clamp=clamp, inplace=True
        )


class Conv2dLayer(ConvActivation, nn.Module):
    """Convolution with equalized learning rate, optional FIR up/downsampling and clamping."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        down: int = 1,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        channels_last: bool = False,  # accepted for compatibility; memory format is left alone
        trainable: bool = True,
    ):
        super().__init__()
        del channels_last
        self._init_conv(
            in_channels, out_channels, kernel_size, activation, up, conv_clamp, resample_filter
        )
        self.down = down
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)

        weight = torch.randn([out_channels, in_channels, kernel_size, kernel_size])
        bias_value = torch.zeros([out_channels]) if bias else None
        if trainable:
            self.weight = nn.Parameter(weight)
            self.bias = nn.Parameter(bias_value) if bias_value is not None else None
        else:
            # Frozen layers (Freeze-D) keep their tensors as buffers: same state-dict keys.
            self.register_buffer("weight", weight)
            if bias_value is not None:
                self.register_buffer("bias", bias_value)
            else:
                self.bias = None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        b = self.bias.to(x.dtype) if self.bias is not None else None
        x = conv2d_resample.conv2d_resample(
            x,
            w,
            f=self.resample_filter,
            up=self.up,
            down=self.down,
            padding=self.padding,
            flip_weight=(self.up == 1),  # correlation is faster; transposed conv needs the flip
        )
        return self._bias_act(x, b, gain)  # conv2d_resample always returns a new tensor

    def extra_repr(self) -> str:
        return describe(self, "in_channels", "out_channels", "activation", "up", "down")


class ResolutionBlock:
    """What StyleGAN2's G and D blocks share: architecture, resolution, image channels, the fp16
    switch :func:`block_dtype` reads and the image path's resampling filter (their 1st buffer)."""

    def _init_block(
        self,
        in_channels: int,
        resolution: int,
        img_channels: int,
        architecture: str,
        use_fp16: bool,
        resample_filter: Sequence[float],
    ) -> None:
        if architecture not in ARCHITECTURES:
            raise StyleGANError(f"unknown architecture {architecture!r}")
        self.in_channels = in_channels
        self.resolution = resolution
        self.img_channels = img_channels
        self.architecture = architecture
        self.use_fp16 = use_fp16  # in low precision once set_mixed_precision() enables it
        self.low_precision: torch.dtype | None = None
        self.register_buffer("resample_filter", filter_buffer(resample_filter))

    def extra_repr(self) -> str:
        return describe(self, "resolution", "architecture")


class MappingNetwork(nn.Module):
    """MLP from (z, label) to the intermediate latent w, with the running mean used to truncate.

    ``num_ws=None`` returns ``[N, w_dim]`` (the discriminator's label embedding); otherwise w is
    broadcast to ``[N, num_ws, w_dim]``. ``w_avg_beta=None`` tracks no average (no ``w_avg``).
    """

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int | None,
        num_layers: int = 8,
        embed_features: int | None = None,
        layer_features: int | None = None,
        activation: str = "lrelu",
        lr_multiplier: float = 0.01,
        w_avg_beta: float | None = 0.998,
    ):
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta

        if embed_features is None:
            embed_features = w_dim
        if c_dim == 0:
            embed_features = 0
        if layer_features is None:
            layer_features = w_dim
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]

        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for i in range(num_layers):
            layer = FullyConnectedLayer(
                features[i], features[i + 1], activation=activation, lr_multiplier=lr_multiplier
            )
            setattr(self, f"fc{i}", layer)
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self,
        z: torch.Tensor | None,
        c: torch.Tensor | None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        x = None
        if self.z_dim > 0:
            check_shape(z, [None, self.z_dim], "z")
            x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            batch = z.shape[0] if self.z_dim > 0 else None
            check_shape(c, [batch, self.c_dim], "c (class labels)")
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y
        if x is None:
            raise StyleGANError("this mapping network has neither z nor labels as input")

        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)

        if update_emas and self.w_avg_beta is not None and self.num_ws is not None:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))

        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat([1, self.num_ws, 1])

        if truncation_psi != 1:
            x = self.truncate(x, truncation_psi, truncation_cutoff)
        return x

    def truncate(
        self, ws: torch.Tensor, truncation_psi: float, truncation_cutoff: int | None = None
    ) -> torch.Tensor:
        """Pull the first ``truncation_cutoff`` ws (all if None) towards ``w_avg`` by ``psi``."""
        if not hasattr(self, "w_avg"):
            raise StyleGANError("this mapping network tracks no w_avg, so it cannot truncate")
        if ws.ndim == 2 or truncation_cutoff is None:
            return self.w_avg.lerp(ws, truncation_psi)
        head = self.w_avg.lerp(ws[:, :truncation_cutoff], truncation_psi)
        return torch.cat([head, ws[:, truncation_cutoff:]], dim=1)

    def extra_repr(self) -> str:
        return describe(self, "z_dim", "c_dim", "w_dim", "num_ws")


class MinibatchStdLayer(nn.Module):
    """Append the standard deviation across groups of samples as extra feature maps.

    It lets the discriminator see the variety of a batch, which discourages mode collapse.
    """

    def __init__(self, group_size: int | None, num_channels: int = 1):
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n) if self.group_size is not None else n
        f = self.num_channels
        if n % g != 0:
            raise StyleGANError(
                f"the batch ({n}) must be a multiple of the minibatch-std group size ({g}): "
                "change the batch size or mbstd_group_size"
            )
        y = x.reshape(g, -1, f, c // f, h, w)  # groups of g samples, channels split into f sets
        y = y - y.mean(dim=0)
        y = (y.square().mean(dim=0) + 1e-8).sqrt()  # std over each group
        y = y.mean(dim=[2, 3, 4])  # one number per group and channel set
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)

    def extra_repr(self) -> str:
        return describe(self, "group_size", "num_channels")


class GenerateMixin:
    """What every generator (StyleGAN 1, 2 and 3) shares around its own synthesis network: the
    constructor (official arguments, attributes, mapping network), ``G(z, c, ...)`` and
    ``G.generate(seeds)``. Subclasses set ``config_class`` and ``synthesis_class``."""

    config_class: ClassVar[type]  # set by ConfiguredNetwork subclasses
    synthesis_class: ClassVar[type[nn.Module]]  # built from the config by _make_synthesis

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        mapping_kwargs: Mapping[str, Any] | None = None,
        **synthesis_kwargs: Any,
    ):
        """NVIDIA's constructor arguments (an official pickle's ``init_kwargs``), kept as a frozen
        config in ``G.config``. The synthesis network is built before the mapping network, as in
        the official code, so a seed gives the official initial weights."""
        super().__init__()
        config = self.config_class.from_init_kwargs(
            dict(
                z_dim=z_dim,
                c_dim=c_dim,
                w_dim=w_dim,
                img_resolution=img_resolution,
                img_channels=img_channels,
                mapping_kwargs=dict(mapping_kwargs or {}),
                **synthesis_kwargs,
            )
        )
        self._config = config
        self.z_dim = config.z_dim
        self.c_dim = config.c_dim
        self.w_dim = config.w_dim
        self.img_resolution = config.img_resolution
        self.img_channels = config.img_channels
        self.synthesis = self._make_synthesis(config)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            z_dim=config.z_dim,
            c_dim=config.c_dim,
            w_dim=config.w_dim,
            num_ws=self.num_ws,
            **config.mapping.to_dict(),
        )

    def _make_synthesis(self, config: Any) -> nn.Module:
        """The synthesis network of ``config`` (StyleGAN2's takes keyword arguments instead)."""
        return self.synthesis_class(config)

    @property
    def default_truncation(self) -> tuple[float, int | None]:
        """``(psi, cutoff)`` used when a caller gives no ``truncation_psi``: none by default
        (as NVIDIA's PyTorch tools); the original StyleGAN overrides it."""
        return 1.0, None

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float | None = None,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
        **synthesis_kwargs: Any,
    ) -> torch.Tensor:
        """``truncation_psi=None`` takes :attr:`default_truncation` (psi and cutoff)."""
        if truncation_psi is None:
            truncation_psi, truncation_cutoff = self.default_truncation
        ws = self.mapping(
            z,
            c,
            truncation_psi=truncation_psi,
            truncation_cutoff=truncation_cutoff,
            update_emas=update_emas,
        )
        return self.synthesis(ws, update_emas=update_emas, **synthesis_kwargs)

    def extra_repr(self) -> str:
        return describe(self, "z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")

    def generate(
        self,
        seeds: int | str | Sequence[int],
        truncation_psi: float | None = None,
        truncation_cutoff: int | None = None,
        class_idx: int | None = None,
        noise_mode: str = "const",
        batch_size: int = 8,
    ) -> torch.Tensor:
        """Images for ``seeds`` as uint8 ``[N, H, W, C]`` on the CPU, seed for seed the same as
        NVIDIA's ``gen_images.py`` (z from ``RandomState(seed)``, constant noise by default;
        ``truncation_psi=None``: the network's :attr:`default_truncation`)."""
        return seeds_to_images(
            self, seeds, truncation_psi, truncation_cutoff, class_idx, noise_mode, batch_size
        )


class DiscriminatorMixin:
    """What the StyleGAN 1 and 2 discriminators share: attributes from the config (blocks from
    the image resolution down to 8; ``b4`` is the epilogue), the image check and ``repr``."""

    def _adopt_config(self, config: Any) -> None:
        self._config = config
        self.c_dim = config.c_dim
        self.img_resolution = config.img_resolution
        self.img_resolution_log2 = config.img_resolution.bit_length() - 1
        self.img_channels = config.img_channels
        self.block_resolutions = [2**i for i in range(self.img_resolution_log2, 2, -1)]

    def _check_images(self, img: torch.Tensor) -> None:
        res, ch = self.img_resolution, self.img_channels
        check_shape(img, [None, ch, res, res], "images")

    def extra_repr(self) -> str:
        return describe(self, "c_dim", "img_resolution", "img_channels")


def seeds_to_images(
    G: nn.Module,
    seeds: int | str | Sequence[int],
    truncation_psi: float | None = None,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    noise_mode: str = "const",
    batch_size: int = 8,
    progress: bool = False,
) -> torch.Tensor:
    """The one path from seeds to uint8 ``[N, H, W, C]`` CPU images, behind ``G.generate`` and
    :func:`stylegan.tools.generate.generate_images`: any module with ``mapping``, ``synthesis``,
    ``z_dim`` and ``c_dim`` (``truncation_psi=None``: its ``default_truncation``, if any).
    All images at once; :func:`iter_seed_images` gives them batch by batch."""
    batches = iter_seed_images(
        G, seeds, truncation_psi, truncation_cutoff, class_idx, noise_mode, batch_size, progress
    )
    return torch.cat([images for _, images in batches])


@torch.no_grad()
def iter_seed_images(
    G: nn.Module,
    seeds: int | str | Sequence[int],
    truncation_psi: float | None = None,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    noise_mode: str = "const",
    batch_size: int = 8,
    progress: bool = False,
) -> Iterator[tuple[list[int], torch.Tensor]]:
    """``(seeds, uint8 [n, H, W, C] CPU images)`` one batch at a time, so memory stays that of
    one batch for any number of seeds (``0-100000000`` included).

    Output that is not finite (NaN or inf: damaged weights, a diverged run) raises rather than
    turning into black images.
    """
    seeds = parse_seeds(seeds)
    if not seeds:
        raise StyleGANError("no seeds given: pass at least one, e.g. seeds=[0, 1, 2]")
    if batch_size < 1:
        raise StyleGANError(f"batch size must be at least 1, got {batch_size}")
    if truncation_cutoff is not None and truncation_cutoff < 0:
        raise StyleGANError(f"truncation cutoff must be 0 or more, got {truncation_cutoff}")
    if truncation_psi is None:
        truncation_psi, truncation_cutoff = getattr(G, "default_truncation", (1.0, None))
    device = next(iter(G.parameters()), torch.empty(0)).device
    bar = tqdm(total=len(seeds), desc="generating", unit="img", disable=not progress)
    was_training = G.training
    G.eval()
    try:
        for chunk in seeds.batches(batch_size):
            z = z_from_seeds(chunk, G.z_dim, device=device)
            c = class_labels(class_idx, G.c_dim, len(chunk), device=device)
            ws = G.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
            img = G.synthesis(ws, noise_mode=noise_mode)
            check_finite_output(img, chunk)
            bar.update(len(chunk))
            yield chunk, to_uint8_nhwc(img)
    finally:
        G.train(was_training)
        bar.close()


def check_finite_output(images: torch.Tensor, seeds: Sequence[int] | None = None) -> None:
    """Refuse NaN / inf images (one device sync per batch): they would be saved as black."""
    if bool(torch.isfinite(images).all()):
        return
    bad = (~torch.isfinite(images.detach().flatten(1))).any(1).nonzero().flatten().tolist()
    which = ""
    if seeds is not None:
        which = " (seeds " + ", ".join(str(seeds[i]) for i in bad[:5])
        which += ", ...)" if len(bad) > 5 else ")"
    raise StyleGANError(
        f"the network's output is not finite (NaN or inf) for {len(bad)} of {len(images)} "
        f"images{which}: its weights are damaged or its training diverged; "
        "`stylegan inspect` the checkpoint or use an earlier snapshot"
    )
