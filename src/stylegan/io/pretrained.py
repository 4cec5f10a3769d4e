"""Short names for NVIDIA's published networks, so ``--network stylegan2-ffhq-1024x1024`` works.

Each name stands for the official download URL; the file is fetched once into the cache
(:mod:`stylegan.io.download`) and read with the safe loader like any other pickle, StyleGAN3's
(T and R) included.
"""

from __future__ import annotations

NGC = "https://api.ngc.nvidia.com/v2/models/nvidia/research"
ADA = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained"

_STYLEGAN2 = [
    "ffhq-1024x1024",
    "ffhq-512x512",
    "ffhq-256x256",
    "ffhqu-1024x1024",
    "ffhqu-256x256",
    "metfaces-1024x1024",
    "metfacesu-1024x1024",
    "afhqv2-512x512",
    "afhqcat-512x512",
    "afhqdog-512x512",
    "afhqwild-512x512",
    "brecahad-512x512",
    "cifar10-32x32",
    "celebahq-256x256",
    "lsundog-256x256",
]
_STYLEGAN3 = [
    "t-ffhq-1024x1024",
    "t-ffhqu-1024x1024",
    "t-ffhqu-256x256",
    "r-ffhq-1024x1024",
    "r-ffhqu-1024x1024",
    "r-ffhqu-256x256",
    "t-metfaces-1024x1024",
    "t-metfacesu-1024x1024",
    "r-metfaces-1024x1024",
    "r-metfacesu-1024x1024",
    "t-afhqv2-512x512",
    "r-afhqv2-512x512",
]
_ADA = ["ffhq", "metfaces", "afhqcat", "afhqdog", "afhqwild", "cifar10", "brecahad"]

PRETRAINED: dict[str, str] = {
    **{f"stylegan2-{n}": f"{NGC}/stylegan2/versions/1/files/stylegan2-{n}.pkl" for n in _STYLEGAN2},
    **{f"stylegan3-{n}": f"{NGC}/stylegan3/versions/1/files/stylegan3-{n}.pkl" for n in _STYLEGAN3},
    **{f"stylegan2-ada-{n}": f"{ADA}/{n}.pkl" for n in _ADA},
}


def pretrained_url(name: str) -> str | None:
    """The URL a short name stands for (``.pkl`` suffix optional), or None."""
    return PRETRAINED.get(name.removesuffix(".pkl"))
