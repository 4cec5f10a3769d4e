"""stylegan: the StyleGAN family in pure PyTorch.

``G = stylegan.load(path)`` returns a generator; ``G.generate(seeds=[0, 1], truncation_psi=0.7)``
gives images.
"""

from stylegan.errors import StyleGANError

__version__ = "0.1.0"

__all__ = ["StyleGANError", "__version__", "load", "save"]


def load(path_or_url, net: str = "G_ema", device="cpu", force_fp16: bool = False):
    """Load one network (``G_ema``, ``G`` or ``D``) from any supported checkpoint.

    Our folders and ``.safetensors``, NVIDIA's ``.pkl`` (PyTorch and TensorFlow StyleGAN2),
    rosinality's ``.pt`` and http(s) URLs of any of these (cached). Nothing in a file is run.
    """
    from stylegan.io.formats import load_network

    return load_network(path_or_url, net=net, device=device, force_fp16=force_fp16)


def save(path, *, overwrite: bool = False, **networks):
    """Save networks (e.g. ``G_ema=G``) as safetensors plus a JSON config in folder ``path``.

    An existing ``path`` is refused unless ``overwrite=True``, and even then replaced only if
    it is one of our checkpoints with nothing else in it.
    """
    from stylegan.io.checkpoint import save_networks

    return save_networks(path, overwrite=overwrite, **networks)
