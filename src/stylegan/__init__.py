"""stylegan: the StyleGAN family in pure PyTorch.

``G = stylegan.load(path)`` returns a generator; ``G.generate(seeds=[0, 1], truncation_psi=0.7)``
gives images.
"""

from stylegan.errors import StyleGANError

__version__ = "0.1.0"

__all__ = ["StyleGANError", "__version__", "load", "save"]


def load(path, net: str = "G_ema", device="cpu"):
    """Load a network (``G_ema``, ``G`` or ``D``) from a checkpoint; never unpickles."""
    from stylegan.io.checkpoint import load_network

    return load_network(path, net=net, device=device)


def save(path, **networks):
    """Save networks (e.g. ``G_ema=G``) as safetensors plus a JSON config in folder ``path``."""
    from stylegan.io.checkpoint import save_networks

    return save_networks(path, **networks)
