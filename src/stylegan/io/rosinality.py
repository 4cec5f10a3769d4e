"""rosinality/stylegan2-pytorch checkpoints <-> our StyleGAN2 networks, both directions.

rosinality's ``.pt`` files are ``torch.save``d dicts of plain state dicts: ``train.py`` writes
``g``, ``d``, ``g_ema``, ``g_optim``, ``d_optim``, ``args`` (an ``argparse.Namespace``) and
``ada_aug_p``; ``convert_weight.py`` writes ``g_ema`` and ``latent_avg`` (plus ``g``/``d`` on
request). The state dicts hold the same numbers as NVIDIA's under other names and shapes, so a
conversion is renaming and reshaping only: one name table per network, used both ways.

Reading the file is the caller's job (``torch.load(path, weights_only=True)``); this module
only converts dicts and modules. Their architecture is fixed (skip G, resnet D, 3 channels, no
labels, 512 channels up to 32 px, ``16384 * channel_multiplier / res`` above), so only networks
inside that family convert; anything else is a :class:`StyleGANError` naming the setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.io.limits import build_network, count_elements
from stylegan.networks.config import DiscriminatorConfig, GeneratorConfig, MappingConfig
from stylegan.networks.layers import filter_buffer
from stylegan.networks.stylegan2 import Generator
from stylegan.networks.stylegan2_discriminator import Discriminator

# Checkpoint key of each network, ours -> theirs.
CHECKPOINT_KEYS = {"G_ema": "g_ema", "G": "g", "D": "d"}
BLUR_KERNEL = (1, 3, 3, 1)  # rosinality's only ``blur_kernel`` in practice (train.py default)
CHANNEL_MAX = 512  # their channel dict is 512 at 4..32 px, whatever the multiplier
W_AVG_SAMPLES = 4096  # as their generate.py: ``mean_latent(4096)``
W_AVG_SEED = 0
# train.py's Adam settings at its defaults (--lr 0.002, --g_reg_every 4, --d_reg_every 16).
_ADAM_REG_INTERVAL = {"g_optim": 4, "d_optim": 16}
_ADAM_LR = 0.002

# A table row: (our key, their key, kind). Kinds say how their shape follows from ours:
# "same"; "lead1"/"lead2": one/two leading 1-dims (conv weights, const, noise strength, noise
# buffers); "rgb": ToRGB bias [C] <-> [1, C, 1, 1]. "up"/"down" rows are their fixed blur
# kernels (no key of ours): checked on import and written on export.
Row = tuple[str, str, str]


def _their_shape(kind: str, ours: torch.Size) -> tuple[int, ...]:
    if kind == "rgb":
        return (1, ours[0], 1, 1)
    return {"same": (), "lead1": (1,), "lead2": (1, 1)}[kind] + tuple(ours)


def _kernel(kind: str) -> torch.Tensor:
    """Their ``make_kernel(blur_kernel)``, times 4 where it follows a 2x upsampling."""
    return filter_buffer(BLUR_KERNEL).cpu() * (4 if kind == "up" else 1)


def _modulation(ours: str, theirs: str) -> list[Row]:
    """Our ``affine`` layer is their ``conv.modulation``, weight and bias alike."""
    return [
        (f"{ours}.affine.weight", f"{theirs}.conv.modulation.weight", "same"),
        (f"{ours}.affine.bias", f"{theirs}.conv.modulation.bias", "same"),
    ]


def _kernel_row(theirs: str, up: bool) -> list[Row]:
    """Their resampling kernel (a buffer, not a parameter) where the layer upsamples."""
    return [("", theirs, "up")] if up else []


def _styled_conv(ours: str, theirs: str, up: bool) -> list[Row]:
    return [
        (f"{ours}.weight", f"{theirs}.conv.weight", "lead1"),
        *_kernel_row(f"{theirs}.conv.blur.kernel", up),
        *_modulation(ours, theirs),
        (f"{ours}.noise_strength", f"{theirs}.noise.weight", "lead1"),
        (f"{ours}.bias", f"{theirs}.activate.bias", "same"),
    ]


def _to_rgb(ours: str, theirs: str, up: bool) -> list[Row]:
    return [
        (f"{ours}.bias", f"{theirs}.bias", "rgb"),
        *_kernel_row(f"{theirs}.upsample.kernel", up),
        (f"{ours}.weight", f"{theirs}.conv.weight", "lead1"),
        *_modulation(ours, theirs),
    ]


def generator_table(size: int, n_mlp: int) -> list[Row]:
    """Name map of a generator, in the order of their ``state_dict()`` (= parameter order)."""
    resolutions = [2**i for i in range(3, size.bit_length())]
    rows = [
        (f"mapping.fc{i}.{p}", f"style.{i + 1}.{p}", "same")
        for i in range(n_mlp)
        for p in ("weight", "bias")
    ]
    rows.append(("synthesis.b4.const", "input.input", "lead1"))
    rows += _styled_conv("synthesis.b4.conv1", "conv1", up=False)
    rows += _to_rgb("synthesis.b4.torgb", "to_rgb1", up=False)
    for k, res in enumerate(resolutions):
        rows += _styled_conv(f"synthesis.b{res}.conv0", f"convs.{2 * k}", up=True)
        rows += _styled_conv(f"synthesis.b{res}.conv1", f"convs.{2 * k + 1}", up=False)
    for k, res in enumerate(resolutions):
        rows += _to_rgb(f"synthesis.b{res}.torgb", f"to_rgbs.{k}", up=True)
    layers = ["synthesis.b4.conv1"]
    layers += [f"synthesis.b{res}.conv{j}" for res in resolutions for j in (0, 1)]
    rows += [(f"{l}.noise_const", f"noises.noise_{j}", "lead2") for j, l in enumerate(layers)]
    return rows


def discriminator_table(size: int) -> list[Row]:
    """Name map of a discriminator, in the order of their ``state_dict()``."""
    rows = [
        (f"b{size}.fromrgb.weight", "convs.0.0.weight", "same"),
        (f"b{size}.fromrgb.bias", "convs.0.1.bias", "same"),
    ]
    for i, res in enumerate(2**j for j in range(size.bit_length() - 1, 2, -1)):
        block, ours = f"convs.{i + 1}", f"b{res}"
        rows += [
            (f"{ours}.conv0.weight", f"{block}.conv1.0.weight", "same"),
            (f"{ours}.conv0.bias", f"{block}.conv1.1.bias", "same"),
            ("", f"{block}.conv2.0.kernel", "down"),
            (f"{ours}.conv1.weight", f"{block}.conv2.1.weight", "same"),
            (f"{ours}.conv1.bias", f"{block}.conv2.2.bias", "same"),
            ("", f"{block}.skip.0.kernel", "down"),
            (f"{ours}.skip.weight", f"{block}.skip.1.weight", "same"),
        ]
    return rows + [
        ("b4.conv.weight", "final_conv.0.weight", "same"),
        ("b4.conv.bias", "final_conv.1.bias", "same"),
        ("b4.fc.weight", "final_linear.0.weight", "same"),
        ("b4.fc.bias", "final_linear.0.bias", "same"),
        ("b4.out.weight", "final_linear.1.weight", "same"),
        ("b4.out.bias", "final_linear.1.bias", "same"),
    ]


def _table(net: nn.Module) -> list[Row]:
    cfg = net.config
    if isinstance(net, Discriminator):
        return discriminator_table(cfg.img_resolution)
    return generator_table(cfg.img_resolution, cfg.mapping.num_layers)


def _is_parameter(row: Row) -> bool:
    """Whether their key is an ``nn.Parameter`` (kernels and noise inputs are buffers)."""
    return row[2] not in ("up", "down") and not row[1].startswith("noises.")


# ---- channels -----------------------------------------------------------------------------------


def _rosinality_channels(res: int, channel_multiplier: float) -> int:
    """Their hard-coded channel dict: 512 up to 32 px, then ``16384 * multiplier / res``."""
    return CHANNEL_MAX if res <= 32 else int(16384 * channel_multiplier // res)


def _multiplier(cfg: GeneratorConfig | DiscriminatorConfig) -> float:
    """Their ``channel_multiplier`` for our widths (up to 32 px any gives 512: their default 2)."""
    top = cfg.img_resolution
    return 2 if top <= 32 else cfg.channels(top) * top / 16384


def _channel_base(channels: Mapping[int, int], what: str) -> int:
    """Our ``channel_base`` (with channel_max 512) giving exactly these per-resolution widths."""
    top = max(channels)
    base = 32768 if top <= 32 else channels[top] * top  # 32768 = their default multiplier 2
    for res in sorted(channels):
        want = min(base // res, CHANNEL_MAX)
        if channels[res] != want:
            raise StyleGANError(
                f"rosinality {what} has {channels[res]} channels at {res} px, but the nearest "
                f"channel_base={base}, channel_max={CHANNEL_MAX} gives {want}: only "
                "channel_multiplier 1 or 2 (or any up to 32 px) has an equivalent here"
            )
    return base


def _channel_problem(cfg: GeneratorConfig | DiscriminatorConfig) -> str | None:
    """Why our widths match no integer rosinality channel_multiplier, or None if one matches."""
    res_list = [2**i for i in range(2, cfg.img_resolution.bit_length())]
    multiplier = _multiplier(cfg)
    ours = [cfg.channels(r) for r in res_list]
    if multiplier == int(multiplier) and ours == [
        _rosinality_channels(r, multiplier) for r in res_list
    ]:
        return None
    return (
        f"channels {dict(zip(res_list, ours))} (channel_base {cfg.channel_base}, channel_max "
        f"{cfg.channel_max}): rosinality has 512 up to 32 px and 16384*channel_multiplier/res "
        "above, with an integer channel_multiplier"
    )


# ---- rosinality -> ours -------------------------------------------------------------------------


def _state_dict(obj: Any, key: str) -> Mapping[str, torch.Tensor]:
    sd = obj[key]
    if not isinstance(sd, Mapping) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise StyleGANError(f"rosinality checkpoint entry {key!r} is not a state dict of tensors")
    return sd


def _shape(sd: Mapping[str, torch.Tensor], key: str, what: str) -> torch.Size:
    if key not in sd:
        raise StyleGANError(
            f"rosinality {what} state dict lacks {key!r}: the checkpoint is damaged or not a "
            "rosinality StyleGAN2 model"
        )
    return sd[key].shape


def _count(sd: Mapping[str, torch.Tensor], pattern: str, start: int = 0) -> int:
    """How many consecutive indices from ``start`` have ``pattern.format(index)`` in ``sd``."""
    n = 0
    while pattern.format(start + n) in sd:
        n += 1
    return n


def _refuse_swagan(sd: Mapping[str, torch.Tensor], what: str) -> None:
    if any(".iwt." in k or ".dwt." in k or k.startswith("from_rgbs.") for k in sd):
        raise StyleGANError(
            f"rosinality {what} is a SWAGAN model (train.py --arch swagan), which is not "
            "supported: only --arch stylegan2 checkpoints convert"
        )


def generator_config(sd: Mapping[str, torch.Tensor]) -> GeneratorConfig:
    """Our config of a rosinality ``Generator`` state dict, inferred from its shapes."""
    what = "generator"
    _refuse_swagan(sd, what)
    n_mlp = _count(sd, "style.{}.weight", start=1)  # style.0 is their PixelNorm
    style_dim = _shape(sd, "conv1.conv.modulation.weight", what)[1]
    size = 2 ** (_count(sd, "to_rgbs.{}.conv.weight") + 2)
    channels = {4: _shape(sd, "input.input", what)[1]}
    for k in range(size.bit_length() - 3):
        channels[2 ** (k + 3)] = _shape(sd, f"convs.{2 * k}.conv.weight", what)[1]
    base = _channel_base(channels, what)
    return GeneratorConfig(
        z_dim=style_dim,
        c_dim=0,
        w_dim=style_dim,
        img_resolution=size,
        img_channels=_shape(sd, "to_rgb1.conv.weight", what)[1],
        mapping=MappingConfig(num_layers=n_mlp, lr_multiplier=0.01),
        channel_base=base,
        channel_max=CHANNEL_MAX,
        num_fp16_res=0,
        conv_clamp=None,
        architecture="skip",
        resample_filter=BLUR_KERNEL,
    )


def discriminator_config(sd: Mapping[str, torch.Tensor]) -> DiscriminatorConfig:
    """Our config of a rosinality ``Discriminator`` state dict, inferred from its shapes."""
    what = "discriminator"
    _refuse_swagan(sd, what)
    n_blocks = _count(sd, "convs.{}.conv1.0.weight", start=1)  # convs.0 is FromRGB
    size = 2 ** (n_blocks + 2)
    channels = {size: _shape(sd, "convs.0.0.weight", what)[0]}
    for i in range(1, n_blocks + 1):
        channels[size >> i] = _shape(sd, f"convs.{i}.conv2.1.weight", what)[0]
    channels[4] = _shape(sd, "final_conv.0.weight", what)[0]
    base = _channel_base(channels, what)
    return DiscriminatorConfig(
        c_dim=0,
        img_resolution=size,
        img_channels=_shape(sd, "convs.0.0.weight", what)[1],
        architecture="resnet",
        channel_base=base,
        channel_max=CHANNEL_MAX,
        num_fp16_res=0,
        conv_clamp=None,
        resample_filter=BLUR_KERNEL,
        mbstd_group_size=4,
        mbstd_num_channels=1,
    )


def _load_rows(net: nn.Module, rows: list[Row], theirs: Mapping[str, torch.Tensor], what: str):
    """Fill ``net`` from their state dict by the table; every key on both sides must match."""
    ours = net.state_dict()
    new: dict[str, torch.Tensor] = {}
    for our_key, their_key, kind in rows:
        shape = _shape(theirs, their_key, what)
        if kind in ("up", "down"):
            if not torch.allclose(theirs[their_key].float().cpu(), _kernel(kind), atol=1e-6):
                raise StyleGANError(
                    f"rosinality {what} {their_key!r} is not the [1, 3, 3, 1] blur kernel: "
                    "other blur_kernel settings are not supported"
                )
            continue
        want = _their_shape(kind, ours[our_key].shape)
        if tuple(shape) != want:
            raise StyleGANError(
                f"rosinality {what} {their_key!r} has shape {list(shape)}, expected {list(want)}: "
                "the checkpoint is damaged or its sizes are inconsistent"
            )
        new[our_key] = (
            theirs[their_key].detach().to("cpu", torch.float32).reshape(ours[our_key].shape)
        )
    leftover = sorted(set(theirs) - {row[1] for row in rows})
    if leftover:
        raise StyleGANError(
            f"rosinality {what} state dict has unexpected key(s) {leftover[:5]}"
            f"{' ...' if len(leftover) > 5 else ''}: not a rosinality StyleGAN2 model of this shape"
        )
    # Our derived buffers (resample filters, w_avg) are set by the config or by the caller.
    net.load_state_dict({**ours, **new}, strict=True)


@torch.no_grad()
def estimate_w_avg(G: Generator, n: int = W_AVG_SAMPLES, seed: int = W_AVG_SEED) -> torch.Tensor:
    """Mean of ``mapping(z)`` over ``n`` z from a seeded ``torch.Generator``: what their
    ``mean_latent(4096)`` computes, made deterministic, for checkpoints without ``latent_avg``."""
    z = torch.randn([n, G.z_dim], generator=torch.Generator().manual_seed(seed))
    device = G.mapping.w_avg.device
    return G.mapping(z.to(device), None)[:, 0].mean(dim=0)


def _plain(value: Any) -> Any:
    """``value`` if JSON can hold it (scalars, lists of scalars), else None."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)) and all(_plain(v) is v for v in value):
        return list(value)
    return None


def is_rosinality_checkpoint(obj: Any) -> bool:
    """Whether ``obj`` looks like a rosinality checkpoint dict (``g_ema``/``g``/``d`` state
    dicts with their layer names), so loaders can dispatch on content, not file names."""
    if not isinstance(obj, Mapping):
        return False
    marks = {
        "g_ema": ("style.1.weight", "conv1.conv.weight", "input.input"),
        "g": ("style.1.weight", "conv1.conv.weight", "input.input"),
        "d": ("convs.0.0.weight", "final_linear.0.weight"),
    }
    return any(
        isinstance(obj.get(key), Mapping) and any(name in obj[key] for name in names)
        for key, names in marks.items()
    )


def networks_from_rosinality(obj: Mapping[str, Any]) -> tuple[dict[str, nn.Module], dict[str, Any]]:
    """Our ``G_ema``/``G``/``D`` (whichever the checkpoint has, in eval mode) and JSON-able
    metadata from a rosinality checkpoint dict, as returned by ``torch.load(weights_only=True)``."""
    if not is_rosinality_checkpoint(obj):
        raise StyleGANError(
            "not a rosinality checkpoint: expected a dict with 'g_ema', 'g' or 'd' state dicts"
        )
    networks: dict[str, nn.Module] = {}
    multipliers = set()
    for name, key in CHECKPOINT_KEYS.items():
        if key not in obj:
            continue
        sd = _state_dict(obj, key)
        what = f"{'discriminator' if name == 'D' else 'generator'} {key!r}"
        stored = count_elements(sd.values())
        if name == "D":
            cfg = discriminator_config(sd)
            net: nn.Module = build_network(Discriminator, cfg, what, stored)
        else:
            cfg = generator_config(sd)
            net = build_network(Generator, cfg, what, stored)
        _load_rows(net, _table(net), sd, what)
        if cfg.img_resolution > 32:
            multipliers.add(cfg.channel_base / 16384)
        networks[name] = net.eval().requires_grad_(False)

    latent_avg = obj.get("latent_avg")
    w_avg_note = None
    for name in ("G_ema", "G"):
        if name not in networks:
            continue
        G = networks[name]
        if latent_avg is not None:
            if not isinstance(latent_avg, torch.Tensor) or latent_avg.numel() != G.w_dim:
                raise StyleGANError(
                    f"rosinality latent_avg must be a tensor of {G.w_dim} values (style_dim), "
                    f"got {getattr(latent_avg, 'shape', type(latent_avg).__name__)}"
                )
            G.mapping.w_avg.copy_(latent_avg.detach().reshape(-1).float())
            w_avg_note = "latent_avg"
        else:
            G.mapping.w_avg.copy_(estimate_w_avg(G))
            w_avg_note = (
                f"estimated: mean of mapping(z) over {W_AVG_SAMPLES} z from "
                f"torch.Generator().manual_seed({W_AVG_SEED}) (the checkpoint has no latent_avg)"
            )

    args = obj.get("args")
    if args is not None and not isinstance(args, Mapping):
        args = vars(args) if hasattr(args, "__dict__") else None
    known = set(CHECKPOINT_KEYS.values()) | {"latent_avg", "args", "ada_aug_p"}
    metadata = {
        "format": "rosinality",
        "ada_aug_p": _plain(obj.get("ada_aug_p")),
        "args": None if args is None else {k: _plain(v) for k, v in args.items()},
        "w_avg": w_avg_note,
        "channel_multiplier": multipliers.pop() if len(multipliers) == 1 else None,
        "ignored_keys": sorted(str(k) for k in obj if k not in known),
    }
    return networks, metadata


# ---- ours -> rosinality -------------------------------------------------------------------------


def dropped_settings(networks: Mapping[str, nn.Module]) -> list[str]:
    """What a rosinality export with ``drop_clamp=True`` leaves out, one phrase per setting:
    their layers have no activation clamp and run in fp32 only."""
    out = []
    for name, net in networks.items():
        cfg = getattr(net, "config", None)
        if getattr(cfg, "conv_clamp", None) is not None:
            out.append(f"{name} conv_clamp={cfg.conv_clamp} (rosinality has no clamp)")
        if getattr(cfg, "num_fp16_res", 0):
            out.append(f"{name} num_fp16_res={cfg.num_fp16_res} (rosinality runs in fp32)")
    return out


def _check_expressible(net: nn.Module, name: str, drop_clamp: bool = False) -> None:
    """Raise naming every setting of ``net`` that rosinality's classes cannot express
    (``conv_clamp`` counts unless ``drop_clamp``)."""
    cfg = net.config
    problems = []

    def need(setting: str, value: Any, allowed: Any) -> None:
        if value != allowed:
            problems.append(f"{setting}={value!r} (rosinality needs {allowed!r})")

    need("architecture", cfg.architecture, "skip" if name != "D" else "resnet")
    need("c_dim", cfg.c_dim, 0)
    need("img_channels", cfg.img_channels, 3)
    if not drop_clamp:
        need("conv_clamp", cfg.conv_clamp, None)
    need("activation", cfg.activation, "lrelu")
    filt = filter_buffer(cfg.resample_filter).cpu()
    if filt.shape != (4, 4) or not torch.allclose(filt, filter_buffer(BLUR_KERNEL).cpu()):
        need("resample_filter", list(cfg.resample_filter), list(BLUR_KERNEL))
    channels = _channel_problem(cfg)
    if channels:
        problems.append(channels)
    if name == "D":
        need("mbstd_group_size", cfg.mbstd_group_size, 4)
        need("mbstd_num_channels", cfg.mbstd_num_channels, 1)
    else:
        m = cfg.mapping
        need("z_dim", cfg.z_dim, cfg.w_dim)
        need("kernel_size", cfg.kernel_size, 3)
        need("use_noise", cfg.use_noise, True)
        need("mapping lr_multiplier", m.lr_multiplier, 0.01)
        need("mapping activation", m.activation, "lrelu")
        need("mapping layer_features", m.layer_features or cfg.w_dim, cfg.w_dim)
    if problems:
        raise StyleGANError(f"rosinality cannot express {name}: {'; '.join(problems)}")


def rosinality_arguments(net: nn.Module) -> dict[str, int]:
    """Their constructor arguments for ``net`` (train.py's ``--size``, ``--channel_multiplier``,
    and ``latent``/``n_mlp`` for a generator): their scripts need them, the file records none."""
    if not isinstance(net, (Generator, Discriminator)):
        raise StyleGANError(
            f"expected a StyleGAN2 Generator or Discriminator, got {type(net).__name__}"
        )
    is_d = isinstance(net, Discriminator)
    _check_expressible(net, "D" if is_d else "G")
    cfg = net.config
    out = {"size": cfg.img_resolution, "channel_multiplier": int(_multiplier(cfg))}
    if not is_d:
        out.update(latent=cfg.w_dim, n_mlp=cfg.mapping.num_layers)
    return out


def _adam_state(n_params: int, key: str) -> dict[str, Any]:
    """An empty Adam state sized to their parameter order, with train.py's default settings, so
    ``train.py --ckpt`` can resume (it loads ``g_optim``/``d_optim`` unconditionally)."""
    ratio = _ADAM_REG_INTERVAL[key] / (_ADAM_REG_INTERVAL[key] + 1)
    group = {
        "lr": _ADAM_LR * ratio,
        "betas": (0.0**ratio, 0.99**ratio),
        "eps": 1e-8,
        "weight_decay": 0,
        "amsgrad": False,
        "params": list(range(n_params)),
    }
    return {"state": {}, "param_groups": [group]}


def rosinality_from_networks(
    networks: Mapping[str, nn.Module], drop_clamp: bool = False
) -> dict[str, Any]:
    """A rosinality checkpoint dict (``g_ema``/``g``/``d`` state dicts, ``latent_avg`` and empty
    ``g_optim``/``d_optim``) from our ``G_ema``/``G``/``D``; save it with ``torch.save``.

    ``drop_clamp`` converts networks with ``conv_clamp`` (every NVIDIA mixed-precision release)
    without it, which changes outputs only where an activation exceeds the clamp; see
    :func:`dropped_settings` and ``formats.convert``, which measures the change."""
    unknown = sorted(set(networks) - set(CHECKPOINT_KEYS))
    if unknown or not networks:
        raise StyleGANError(
            f"rosinality checkpoints hold G_ema, G and D only; got {sorted(networks)}"
        )
    out: dict[str, Any] = {}
    for name, net in networks.items():
        cls = Discriminator if name == "D" else Generator
        if not isinstance(net, cls):
            raise StyleGANError(
                f"{name} must be a StyleGAN2 {cls.__name__}, got {type(net).__name__}"
            )
        _check_expressible(net, name, drop_clamp)
    for name in ("G_ema", "G", "D"):  # their file order
        if name not in networks:
            continue
        ours = networks[name].state_dict()
        sd = {}
        for our_key, their_key, kind in _table(networks[name]):
            if kind in ("up", "down"):
                sd[their_key] = _kernel(kind)
            else:
                value = ours[our_key].detach().to("cpu", torch.float32)
                sd[their_key] = value.reshape(_their_shape(kind, value.shape)).clone()
        out[CHECKPOINT_KEYS[name]] = sd
    for name in ("G_ema", "G"):
        if name in networks and hasattr(networks[name].mapping, "w_avg"):
            out["latent_avg"] = networks[name].mapping.w_avg.detach().to("cpu").clone()
            break
    for name, key in (("G", "g_optim"), ("D", "d_optim")):
        if name in networks:
            out[key] = _adam_state(sum(map(_is_parameter, _table(networks[name]))), key)
    return out
