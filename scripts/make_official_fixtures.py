"""Regenerate the reference outputs in ``tests/fixtures/official/`` from NVIDIA's official code.

Usage::

    python scripts/make_official_fixtures.py --official /path/to/stylegan3 \
        --official-commit c233a919a6faee6e36a316ddd4eddababad1adf9 --out tests/fixtures/official

``--official`` is a checkout (or ``git archive`` extract) of https://github.com/NVlabs/stylegan3.
Its ``training/networks_stylegan2.py`` is imported from that path at run time; nothing of it is
copied here. For each small configuration below the official Generator and Discriminator are
built under a fixed torch seed, perturbed so every path carries signal (nonzero noise strengths,
random biases, a random ``w_avg``), run on the CPU in fp32, and their state dicts, inputs and
outputs are written to one ``<name>.npz`` (arrays only: load with ``allow_pickle=False``).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import platform
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import torch

BATCH_SEEDS = [0, 1, 2, 3]  # one z per seed, batch 4, exactly as the official gen_images.py draws
RANDOM_IMAGE_SEED = 1234  # the "random images" fed to D
TRUNCATION_PSI = 0.7
TRUNCATION_CUTOFF = 2

# Official keyword arguments (the `init_kwargs` an official pickle would carry), fp32 everywhere.
CONFIGS: dict[str, dict] = {
    # (a) unconditional 32 px, G skip + D resnet, conv_clamp 256, 2 mapping layers; the kwargs the
    # official train.py writes (fused_modconv_default, freeze_layers, mbstd_group_size).
    "uncond32_skip_resnet": {
        "init_seed": 101,
        "G": {
            "z_dim": 32,
            "c_dim": 0,
            "w_dim": 32,
            "img_resolution": 32,
            "img_channels": 3,
            "mapping_kwargs": {"num_layers": 2},
            "channel_base": 512,
            "channel_max": 32,
            "num_fp16_res": 0,
            "conv_clamp": 256,
            "architecture": "skip",
            "fused_modconv_default": "inference_only",
        },
        "D": {
            "c_dim": 0,
            "img_resolution": 32,
            "img_channels": 3,
            "architecture": "resnet",
            "channel_base": 512,
            "channel_max": 32,
            "num_fp16_res": 0,
            "conv_clamp": 256,
            "block_kwargs": {"freeze_layers": 0},
            "mapping_kwargs": {},
            "epilogue_kwargs": {"mbstd_group_size": 4},
        },
    },
    # (b) conditional (c_dim 4) 16 px, G resnet + D skip, no clamping, non-default widths
    # (embed/layer features, cmap_dim) and a 2-channel minibatch-stddev over groups of 2.
    "cond16_resnet_skip": {
        "init_seed": 202,
        "G": {
            "z_dim": 24,
            "c_dim": 4,
            "w_dim": 32,
            "img_resolution": 16,
            "img_channels": 3,
            "mapping_kwargs": {"num_layers": 2, "embed_features": 16, "layer_features": 48},
            "channel_base": 256,
            "channel_max": 32,
            "num_fp16_res": 0,
            "conv_clamp": None,
            "architecture": "resnet",
        },
        "D": {
            "c_dim": 4,
            "img_resolution": 16,
            "img_channels": 3,
            "architecture": "skip",
            "channel_base": 256,
            "channel_max": 32,
            "num_fp16_res": 0,
            "conv_clamp": None,
            "cmap_dim": 24,
            "mapping_kwargs": {"num_layers": 2},
            "epilogue_kwargs": {"mbstd_group_size": 2, "mbstd_num_channels": 2},
        },
    },
    # (c) unconditional 16 px, G orig + D orig, 1 image channel, with a small conv_clamp so the
    # clamp is actually active in G and D (conv_clamp * gain, ToRGB clamp without gain).
    "uncond16_orig_orig": {
        "init_seed": 303,
        "G": {
            "z_dim": 16,
            "c_dim": 0,
            "w_dim": 24,
            "img_resolution": 16,
            "img_channels": 1,
            "mapping_kwargs": {"num_layers": 3, "lr_multiplier": 0.05},
            "channel_base": 256,
            "channel_max": 16,
            "num_fp16_res": 0,
            "conv_clamp": 1.5,
            "architecture": "orig",
        },
        "D": {
            "c_dim": 0,
            "img_resolution": 16,
            "img_channels": 1,
            "architecture": "orig",
            "channel_base": 256,
            "channel_max": 16,
            "num_fp16_res": 0,
            "conv_clamp": 1.5,
        },
    },
}


def _install_import_shims() -> None:
    """Stand in for modules the official package imports at top level but never uses here."""
    if importlib.util.find_spec("pkg_resources") is None:  # gone from setuptools >= 81
        try:
            from packaging.version import parse as parse_version
        except ImportError:

            def parse_version(v: str) -> tuple[int, ...]:
                return tuple(int(n) for n in re.findall(r"\d+", v)[:3])

        sys.modules["pkg_resources"] = types.ModuleType("pkg_resources")
        sys.modules["pkg_resources"].parse_version = parse_version
    if importlib.util.find_spec("requests") is None:  # only used by dnnlib.util.open_url
        sys.modules["requests"] = types.ModuleType("requests")
    if importlib.util.find_spec("distutils") is None:  # Python >= 3.12 without setuptools
        util = types.ModuleType("distutils.util")
        util.strtobool = lambda v: int(str(v).lower() in ("y", "yes", "t", "true", "on", "1"))
        sys.modules["distutils"] = types.ModuleType("distutils")
        sys.modules["distutils.util"] = util


def import_official_networks(official: str | Path) -> types.ModuleType:
    """Import ``training.networks_stylegan2`` from the official stylegan3 checkout at a path."""
    root = Path(official).expanduser().resolve()
    if not (root / "training" / "networks_stylegan2.py").is_file():
        sys.exit(
            f"error: {root} is not a checkout of NVlabs/stylegan3 "
            "(no training/networks_stylegan2.py); pass --official /path/to/stylegan3"
        )
    _install_import_shims()
    sys.path.insert(0, str(root))
    return importlib.import_module("training.networks_stylegan2")


def official_commit(root: Path, given: str | None) -> str:
    """The official commit: as given, else asked of git, else 'unknown'."""
    if given:
        return given
    try:
        cmd = ["git", "-C", str(root), "rev-parse", "HEAD"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@torch.no_grad()
def perturb_(net: torch.nn.Module, gen: torch.Generator) -> None:
    """Give every zero-initialised parameter a random value so each path is exercised."""
    modules = dict(net.named_modules())
    for name, param in net.named_parameters():
        owner, _, leaf = name.rpartition(".")
        if leaf == "noise_strength":
            magnitude = 0.1 + 0.4 * torch.rand([], generator=gen)
            sign = 1.0 if torch.rand([], generator=gen) < 0.5 else -1.0
            param.fill_(sign * magnitude)
        elif leaf == "bias":
            delta = 0.2 * torch.randn(param.shape, generator=gen)
            # Fully connected layers multiply the stored bias by lr_multiplier; undo it so the
            # effective perturbation is the same size in every layer.
            delta /= float(getattr(modules[owner], "bias_gain", 1.0))
            param.add_(delta)
    for name, buf in net.named_buffers():
        if name.rpartition(".")[2] == "w_avg":
            buf.copy_(0.5 * torch.randn(buf.shape, generator=gen) + 0.3)


def as_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().contiguous().numpy()


@torch.no_grad()
def make_fixture(nets, name: str, cfg: dict, meta: dict) -> dict[str, np.ndarray]:
    """Build, perturb and run one configuration; return the arrays for its npz."""
    torch.manual_seed(cfg["init_seed"])
    G = nets.Generator(**cfg["G"]).eval()
    D = nets.Discriminator(**cfg["D"]).eval()
    gen = torch.Generator().manual_seed(cfg["init_seed"] + 1)
    perturb_(G, gen)
    perturb_(D, gen)

    n = len(BATCH_SEEDS)
    z64 = np.stack([np.random.RandomState(s).randn(G.z_dim) for s in BATCH_SEEDS])
    z = torch.from_numpy(z64).to(torch.float32)  # the official mapping casts to fp32 as well
    c = torch.zeros([n, G.c_dim])
    if G.c_dim > 0:
        c[torch.arange(n), torch.arange(n) % G.c_dim] = 1  # one class per sample
    img_random = torch.from_numpy(
        np.random.RandomState(RANDOM_IMAGE_SEED)
        .randn(n, G.img_channels, G.img_resolution, G.img_resolution)
        .astype(np.float32)
    )

    out: dict[str, torch.Tensor] = {}
    out["ws_psi1"] = G.mapping(z, c)
    out["ws_psi07_cutoff2"] = G.mapping(
        z, c, truncation_psi=TRUNCATION_PSI, truncation_cutoff=TRUNCATION_CUTOFF
    )
    out["ws_psi07"] = G.mapping(z, c, truncation_psi=TRUNCATION_PSI)
    out["img_const"] = G(z, c, noise_mode="const")
    out["img_none"] = G(z, c, noise_mode="none")
    out["img_const_psi07_cutoff2"] = G(
        z, c, truncation_psi=TRUNCATION_PSI, truncation_cutoff=TRUNCATION_CUTOFF, noise_mode="const"
    )
    out["logits_fake"] = D(out["img_const"], c)
    out["logits_random"] = D(img_random, c)

    arrays: dict[str, np.ndarray] = {
        "meta": np.array(json.dumps({**meta, "config": name, "init_seed": cfg["init_seed"]})),
        "G_init_kwargs": np.array(json.dumps(cfg["G"], sort_keys=True)),
        "D_init_kwargs": np.array(json.dumps(cfg["D"], sort_keys=True)),
        "seeds": np.array(BATCH_SEEDS, dtype=np.int64),
        "z": as_numpy(z),
        "c": as_numpy(c),
        "img_random": as_numpy(img_random),
    }
    arrays.update({k: as_numpy(v) for k, v in out.items()})
    for prefix, net in (("G", G), ("D", D)):
        for key, value in net.state_dict().items():
            arrays[f"{prefix}.{key}"] = as_numpy(value)
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--official", required=True, help="path to an NVlabs/stylegan3 checkout")
    parser.add_argument("--official-commit", default=None, help="commit of that checkout")
    parser.add_argument("--out", default="tests/fixtures/official", help="output folder")
    args = parser.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    nets = import_official_networks(args.official)
    meta = {
        "official_repo": "NVlabs/stylegan3",
        "official_module": "training/networks_stylegan2.py",
        "official_commit": official_commit(Path(args.official), args.official_commit),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "device": "cpu",
        "dtype": "float32",
        "seeds": BATCH_SEEDS,
        "random_image_seed": RANDOM_IMAGE_SEED,
        "truncation_psi": TRUNCATION_PSI,
        "truncation_cutoff": TRUNCATION_CUTOFF,
    }
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, cfg in CONFIGS.items():
        arrays = make_fixture(nets, name, cfg, meta)
        path = out_dir / f"{name}.npz"
        np.savez_compressed(path, **arrays)
        print(f"{path}: {len(arrays)} arrays, {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
