"""Generators for the tools' tests: a tiny stand-in with the real call signatures, and a tiny real
StyleGAN2 generator."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tiny_networks import tiny_network


class StandInMapping(nn.Module):
    """z (+ one-hot c) -> one w broadcast to every layer, with truncation toward ``w_avg``."""

    def __init__(self, z_dim, c_dim, w_dim, num_ws, seed=0):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        g = torch.Generator().manual_seed(seed)
        fan_in = z_dim + c_dim
        self.weight = nn.Parameter(torch.randn(w_dim, fan_in, generator=g) / math.sqrt(fan_in))
        self.register_buffer("w_avg", torch.randn(w_dim, generator=g) * 0.1)

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, update_emas=False):
        x = z.to(torch.float32)
        x = x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        if self.c_dim:
            x = torch.cat([x, c.to(torch.float32)], dim=1)
        w = F.leaky_relu(x @ self.weight.T, 0.2)
        ws = w[:, None].repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
            ws[:, :cutoff] = self.w_avg.lerp(ws[:, :cutoff], truncation_psi)
        return ws


class StandInSynthesis(nn.Module):
    """Every layer modulates a feature map with its own w; per-layer noise like StyleGAN2's."""

    def __init__(self, w_dim, num_ws, resolution, channels, hidden=4, seed=1):
        super().__init__()
        self.w_dim, self.num_ws, self.img_resolution = w_dim, num_ws, resolution
        self.img_channels = channels
        g = torch.Generator().manual_seed(seed)
        r = resolution
        self.const = nn.Parameter(torch.randn(hidden, r, r, generator=g))
        self.affine = nn.Parameter(torch.randn(num_ws, w_dim, hidden, generator=g) / w_dim**0.5)
        self.noise_strength = nn.Parameter(torch.zeros(num_ws))
        self.register_buffer("noise_const", torch.randn(num_ws, r, r, generator=g))
        self.to_rgb = nn.Parameter(torch.randn(channels, hidden, generator=g))

    def forward(self, ws, noise_mode="random", **kwargs):
        n, r = ws.shape[0], self.img_resolution
        x = self.const[None].expand(n, -1, -1, -1)
        for i in range(self.num_ws):
            s = (ws[:, i] @ self.affine[i])[:, :, None, None]
            x = torch.tanh(x * (1 + 0.5 * s) + 0.3 * s)
            if noise_mode == "random":
                noise = torch.randn([n, 1, r, r], device=ws.device)
                x = x + noise * self.noise_strength[i]
            elif noise_mode == "const":
                x = x + self.noise_const[i] * self.noise_strength[i]
        return torch.tanh(torch.einsum("oc,nchw->nohw", self.to_rgb, x))


class StandInGenerator(nn.Module):
    """Same calls and attributes as ``stylegan.networks.stylegan2.Generator``, a few params."""

    def __init__(self, z_dim=8, c_dim=0, w_dim=6, img_resolution=8, img_channels=3, num_ws=6):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels, self.num_ws = img_resolution, img_channels, num_ws
        self.mapping = StandInMapping(z_dim, c_dim, w_dim, num_ws)
        self.synthesis = StandInSynthesis(w_dim, num_ws, img_resolution, img_channels)

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, update_emas=False, **kw):
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, **kw)


def real_generator(c_dim=0, img_channels=3, seed=0):
    """A tiny real StyleGAN2 generator (16 px, 6 ws)."""
    G = tiny_network("stylegan2.Generator", seed, c_dim=c_dim, img_channels=img_channels).eval()
    with torch.no_grad():
        # A fresh network has w_avg = 0 and no noise; give both realistic values.
        G.mapping.w_avg.normal_(0, 0.5)
    return G


def set_noise_strength(G: nn.Module, value: float) -> None:
    """Set every ``noise_strength`` parameter of a generator (stand-in or real) to ``value``."""
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(value)


@pytest.fixture(params=["stand-in", "stylegan2"])
def G(request):
    """Each test runs on the stand-in and on a tiny real generator."""
    if request.param == "stand-in":
        return StandInGenerator().eval()
    return real_generator()


@pytest.fixture
def standin():
    """The default stand-in generator (8 px RGB, 6 ws, unconditional)."""
    return StandInGenerator().eval()


@pytest.fixture
def make_standin():
    """Build a stand-in with other sizes, e.g. ``make_standin(c_dim=3)``."""
    return lambda **kwargs: StandInGenerator(**kwargs).eval()


@pytest.fixture(scope="session")
def make_real():
    """Build a tiny real StyleGAN2 generator."""
    return real_generator


@pytest.fixture(scope="session")
def noise_strength():
    """``noise_strength(G, value)`` sets every noise strength of ``G``."""
    return set_noise_strength


@pytest.fixture(scope="session")
def saved_real(tmp_path_factory):
    """``saved_real(noise=0.1)`` -> ``(path, G)``: the tiny real StyleGAN2 G_ema of seed 3 (16 px,
    6 ws), its noise strengths set to ``noise`` (None: left at 0), saved with ``save_checkpoint``
    for the commands to load."""
    from stylegan.io.checkpoint import save_checkpoint

    def save(noise: float | None = None):
        G = real_generator(seed=3)
        if noise is not None:
            set_noise_strength(G, noise)
        path = save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", networks={"G_ema": G})
        return path, G

    return save
