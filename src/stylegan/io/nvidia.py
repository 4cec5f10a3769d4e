"""NVIDIA's PyTorch network pickles (stylegan2-ada-pytorch, stylegan3) to our networks and back.

An official snapshot is a dict ``{G, D, G_ema, augment_pipe, training_set_kwargs}`` whose
networks are ``@persistent_class`` objects. :mod:`stylegan.io.safe_pickle` turns them into
:class:`~stylegan.io.safe_pickle.PersistentObject` (class name, constructor kwargs, tensors);
here the top-level ``init_kwargs`` become our config, with the class defaults of the repository
that wrote the file, and the tensors load with ``strict=True`` since our names equal theirs.

Their pickle format embeds their source, so :mod:`stylegan.io.nvidia_pickle` writes it from the
user's own checkout (``--to nvidia-pickle``); without one, the export for their code is a plain
``torch.save`` of state dicts plus ``init_kwargs`` (``--to official``, a ``.pt``)::

    ckpt = torch.load("net.pt", weights_only=True)
    G = networks_stylegan2.Generator(**ckpt["init_kwargs"]["G_ema"])
    G.load_state_dict(ckpt["state_dicts"]["G_ema"])

(``init_kwargs_stylegan2_ada`` holds the same in stylegan2-ada-pytorch's layout, for its
``training.networks.Generator``.)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.io.limits import build_network, count_elements
from stylegan.io.safe_pickle import PersistentObject, json_safe
from stylegan.networks.config import DiscriminatorConfig, GeneratorConfig
from stylegan.networks.registry import network_class, network_name

NETWORK_KEYS = ("G", "D", "G_ema")
OFFICIAL_STATE_FORMAT = "stylegan-official-state-dicts"
OFFICIAL_CLASSES = {
    "stylegan3.Generator": "training.networks_stylegan3.Generator",
    "stylegan2.Generator": "training.networks_stylegan2.Generator",
    "stylegan2.Discriminator": "training.networks_stylegan2.Discriminator",
}
# force_fp16 of the official legacy.py: fp16 in the four highest resolutions, clamped convs.
FORCE_FP16 = {"num_fp16_res": 4, "conv_clamp": 256}


def is_nvidia_pickle(obj: Any) -> bool:
    """A dict holding at least one official network object under G, D or G_ema."""
    return isinstance(obj, dict) and any(
        isinstance(obj.get(k), PersistentObject) for k in NETWORK_KEYS
    )


def describe_source(obj: PersistentObject) -> tuple[str, str]:
    """``(architecture, repository)`` of an official network object.

    The embedded module source is only searched for markers, never run: StyleGAN3's module
    defines ``SynthesisInput``; the stylegan3 repository's StyleGAN2 module has the
    ``fused_modconv_default`` argument that stylegan2-ada-pytorch lacks.
    """
    src = obj.module_src
    alias_free = "class SynthesisInput" in src or "magnitude_ema_beta" in src
    architecture = "stylegan3" if alias_free else "stylegan2"
    nested = "synthesis_kwargs" in (obj.state.get("_init_kwargs") or {})
    if alias_free or ("fused_modconv_default" in src and not nested):
        repository = "stylegan3"
    else:
        repository = "stylegan2-ada"
    return architecture, repository


def file_repository(data: dict[str, Any]) -> str:
    """The repository that wrote a snapshot: stylegan3 if any of its networks says so (its
    StyleGAN3 pickles pair an alias-free G with the StyleGAN2 D of the same repository)."""
    found = {describe_source(obj)[1] for obj in data.values() if isinstance(obj, PersistentObject)}
    return "stylegan3" if "stylegan3" in found else "stylegan2-ada"


def network_from_object(
    obj: PersistentObject, key: str, repository: str | None = None, force_fp16: bool = False
) -> nn.Module:
    """Rebuild official network ``obj`` (stored under ``key``) as our module, weights included."""
    from stylegan.networks.stylegan2 import Generator
    from stylegan.networks.stylegan2_discriminator import Discriminator

    architecture, detected = describe_source(obj)
    repository = repository or detected
    if architecture == "stylegan3" and obj.class_name == "Generator":
        from stylegan.networks.stylegan3 import Generator as AliasFreeGenerator

        config_class = AliasFreeGenerator.config_class
        config: Any = config_class.from_init_kwargs(obj.init_kwargs)
        cls: type[nn.Module] = AliasFreeGenerator
    elif obj.class_name == "Generator":
        config = GeneratorConfig.from_init_kwargs(obj.init_kwargs, defaults=repository)
        cls = Generator
    elif obj.class_name == "Discriminator":
        config = DiscriminatorConfig.from_init_kwargs(obj.init_kwargs, defaults=repository)
        cls = Discriminator
    else:
        raise StyleGANError(
            f"{key} is an official {obj.class_name!r} object; only Generator and "
            "Discriminator networks can be loaded"
        )
    if force_fp16:
        config = config.replace(**FORCE_FP16)
    what = f"{key} ({obj.class_name})"
    state = obj.state_dict()
    net = build_network(cls, config, what, count_elements(state.values()))
    load_state_strict(net, state, what)
    return net.eval()


def load_state_strict(net: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """``load_state_dict(strict=True)`` with a one-line error naming the first bad entry."""
    ours = net.state_dict()
    missing = [k for k in ours if k not in state]
    unexpected = [k for k in state if k not in ours]
    if missing or unexpected:
        raise StyleGANError(
            f"the weights of {what} do not fit its constructor arguments (missing "
            f"{missing[:3]}, unexpected {unexpected[:3]}); the file is damaged or not an "
            "official StyleGAN2 network"
        )
    for name, value in state.items():
        if tuple(value.shape) != tuple(ours[name].shape):
            raise StyleGANError(
                f"the weights of {what} do not fit its constructor arguments ({name} has shape "
                f"{list(value.shape)}, expected {list(ours[name].shape)}); the file is damaged"
            )
    net.load_state_dict(state, strict=True)


def networks_from_pickle(
    data: dict[str, Any], nets: list[str] | None = None, force_fp16: bool = False
) -> tuple[dict[str, nn.Module], dict[str, Any]]:
    """Our networks (those in ``nets``, default all) and metadata from an official snapshot."""
    present = [k for k in NETWORK_KEYS if isinstance(data.get(k), PersistentObject)]
    wanted = present if nets is None else list(nets)
    for key in wanted:
        if key not in present:
            raise StyleGANError(
                f"the pickle holds no network {key!r}; it has {', '.join(present) or 'none'}"
            )
    repository = file_repository(data)
    generator = next((k for k in ("G_ema", "G") if k in present), present[0])
    architecture = describe_source(data[generator])[0]
    networks = {key: network_from_object(data[key], key, repository, force_fp16) for key in wanted}
    metadata = {
        "source": {
            "format": "nvidia-pytorch-pickle",
            "repository": repository,
            "architecture": architecture,
            "networks": present,
            "force_fp16": force_fp16,
        },
        "training_set_kwargs": json_safe(data.get("training_set_kwargs")),
        "augment_pipe": describe_augment_pipe(data.get("augment_pipe")),
    }
    for key in ("cur_nimg", "progress"):  # some forks add these
        if key in data:
            metadata["source"][key] = json_safe(data[key])
    return networks, metadata


def describe_augment_pipe(obj: Any) -> dict[str, Any] | None:
    """Class, constructor kwargs and current probability ``p`` of an official AugmentPipe."""
    if not isinstance(obj, PersistentObject):
        return None
    buffers = obj.state.get("_buffers") or {}
    p = buffers.get("p")
    return {
        "class": obj.class_name,
        "init_kwargs": json_safe(obj.init_kwargs),
        "p": float(p) if isinstance(p, torch.Tensor) and p.numel() == 1 else None,
    }


# ---- state dicts with official names, for NVIDIA's own code ---------------------------------


def official_state_dicts(networks: dict[str, nn.Module]) -> dict[str, Any]:
    """What ``stylegan convert --to official`` writes (``torch.save``, loads with weights_only).

    Our names and layouts equal the official ones, so this is each network's state dict plus
    the constructor kwargs and class that rebuild it in NVIDIA's stylegan3 repository.
    """
    out: dict[str, Any] = {
        "format": OFFICIAL_STATE_FORMAT,
        "state_dicts": {},
        "init_kwargs": {},
        "init_kwargs_stylegan2_ada": {},
        "classes": {},
    }
    for key, net in networks.items():
        name = network_name(net)
        if name not in OFFICIAL_CLASSES:
            raise StyleGANError(f"{key} ({name}) has no official PyTorch counterpart to export to")
        out["state_dicts"][key] = {
            k: v.detach().cpu().contiguous().clone() for k, v in net.state_dict().items()
        }
        out["init_kwargs"][key] = net.init_kwargs
        if name.startswith("stylegan2."):  # stylegan2-ada-pytorch has no StyleGAN3
            out["init_kwargs_stylegan2_ada"][key] = ada_init_kwargs(net.init_kwargs)
        out["classes"][key] = OFFICIAL_CLASSES[name]
    return out


def ada_init_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """stylegan3-repository kwargs in stylegan2-ada-pytorch's layout: synthesis nested, and no
    ``fused_modconv_default`` (ADA always fuses at inference, which gives the same numbers)."""
    if "z_dim" not in kwargs:  # discriminators take the same arguments in both repositories
        return dict(kwargs)
    top = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs")
    out = {k: kwargs[k] for k in top if k in kwargs}
    out["synthesis_kwargs"] = {
        k: v for k, v in kwargs.items() if k not in top and k != "fused_modconv_default"
    }
    return out


def is_official_state_dicts(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == OFFICIAL_STATE_FORMAT


def networks_from_official_state_dicts(
    obj: dict[str, Any], nets: list[str] | None = None, force_fp16: bool = False
) -> tuple[dict[str, nn.Module], dict[str, Any]]:
    """Inverse of :func:`official_state_dicts`."""
    by_class = {v: k for k, v in OFFICIAL_CLASSES.items()}
    present = list(obj.get("state_dicts", {}))
    wanted = present if nets is None else list(nets)
    networks = {}
    for key in wanted:
        if key not in present:
            raise StyleGANError(
                f"the file holds no network {key!r}; it has {', '.join(present) or 'none'}"
            )
        ours = by_class.get(obj["classes"].get(key))
        if ours is None:
            raise StyleGANError(f"{key} has unknown class {obj['classes'].get(key)!r}")
        cls = network_class(ours)
        config = cls.config_class.from_init_kwargs(obj["init_kwargs"][key])
        if force_fp16:
            config = config.replace(**FORCE_FP16)
        state = obj["state_dicts"][key]
        net = build_network(cls, config, key, count_elements(state.values()))
        load_state_strict(net, state, key)
        networks[key] = net.eval()
    metadata = {"source": {"format": OFFICIAL_STATE_FORMAT, "networks": present}}
    return networks, metadata
