"""Regenerate the reference outputs in ``tests/fixtures/official_sg3/`` from NVIDIA's code.

Usage::

    python scripts/make_official_sg3_fixtures.py --official /path/to/stylegan3 \
        --official-commit c233a919a6faee6e36a316ddd4eddababad1adf9 --out tests/fixtures/official_sg3

``--official`` is a checkout (or ``git archive`` extract) of https://github.com/NVlabs/stylegan3.
Its ``training/networks_stylegan3.py`` is imported from that path at run time (it needs scipy);
nothing of it is copied here. For each small configuration below the official Generator is built
under a fixed torch seed, perturbed so every path carries signal (random biases, a random
``w_avg``, random ``magnitude_ema`` values, a non-zero affine for the Fourier input), run on the
CPU in fp32 through the official reference ops, and its state dict, inputs and outputs are
written to one ``<name>.npz`` (arrays only: load with ``allow_pickle=False``).
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import math
import platform
import sys
import types
from pathlib import Path

import numpy as np
import torch

# Shared with the StyleGAN2 fixture script: import stand-ins, commit lookup, bias perturbation.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_official_fixtures import (  # noqa: E402
    _install_import_shims,
    as_numpy,
    official_commit,
    perturb_,
)

BATCH_SEEDS = [0, 1, 2, 3]  # one z per seed, batch 4, exactly as the official gen_images.py draws
TRUNCATION_PSI = 0.7
TRUNCATION_CUTOFF = 4
# A translate + rotate view for `img_user_transform` (gen_images.py's --translate / --rotate).
USER_TRANSLATE = (0.15, -0.1)  # in image widths
USER_ROTATE = 20.0  # degrees

# Official keyword arguments (the `init_kwargs` an official pickle would carry), fp32 everywhere.
CONFIGS: dict[str, dict] = {
    # (a) config T at 16 px, default schedule (14 layers), the kwargs train.py writes for T.
    "t16": {
        "init_seed": 11,
        "G": {
            "z_dim": 16,
            "c_dim": 0,
            "w_dim": 32,
            "img_resolution": 16,
            "img_channels": 3,
            "mapping_kwargs": {"num_layers": 2},
            "channel_base": 192,
            "channel_max": 48,
            "magnitude_ema_beta": 0.5 ** (32 / (20 * 1e3)),
            "num_fp16_res": 0,
            "conv_clamp": 256,
        },
    },
    # (b) config R at 16 px: 1x1 convs, radial downsampling filters, doubled channels.
    "r16": {
        "init_seed": 22,
        "G": {
            "z_dim": 16,
            "c_dim": 0,
            "w_dim": 32,
            "img_resolution": 16,
            "img_channels": 3,
            "mapping_kwargs": {"num_layers": 2},
            "channel_base": 384,
            "channel_max": 96,
            "magnitude_ema_beta": 0.5 ** (32 / (20 * 1e3)),
            "conv_kernel": 1,
            "use_radial_filters": True,
            "num_fp16_res": 0,
            "conv_clamp": 256,
        },
    },
    # (c) config T at 32 px, conditional, a non-default schedule (10 layers, 3 critical, margin
    # 6, other cutoff/stopbands, output scale), 3 mapping layers, a small conv_clamp that is
    # reached, and a translate + rotate user transform stored in the state dict.
    "t32_cond_transform": {
        "init_seed": 33,
        "state_transform": {"translate": (-0.05, 0.1), "rotate": -15.0},
        "G": {
            "z_dim": 12,
            "c_dim": 3,
            "w_dim": 24,
            "img_resolution": 32,
            "img_channels": 3,
            "mapping_kwargs": {"num_layers": 3, "lr_multiplier": 0.05},
            "channel_base": 256,
            "channel_max": 32,
            "num_layers": 10,
            "num_critical": 3,
            "first_cutoff": 3,
            "first_stopband": 2**2.3,
            "last_stopband_rel": 2**0.4,
            "margin_size": 6,
            "output_scale": 0.5,
            "magnitude_ema_beta": 0.99,
            "num_fp16_res": 0,
            "conv_clamp": 1.0,
        },
    },
}


def import_official_networks(official: str | Path) -> types.ModuleType:
    """Import ``training.networks_stylegan3`` from the official stylegan3 checkout at a path."""
    root = Path(official).expanduser().resolve()
    if not (root / "training" / "networks_stylegan3.py").is_file():
        sys.exit(
            f"error: {root} is not a checkout of NVlabs/stylegan3 "
            "(no training/networks_stylegan3.py); pass --official /path/to/stylegan3"
        )
    _install_import_shims()
    sys.path.insert(0, str(root))
    return importlib.import_module("training.networks_stylegan3")


def image_transform(translate: tuple[float, float], rotate: float) -> np.ndarray:
    """What ``synthesis.input.transform`` holds to show the image translated and rotated: the
    inverse of gen_images.py's ``make_transform(translate, rotate)``."""
    s, c = math.sin(math.radians(rotate)), math.cos(math.radians(rotate))
    m = np.array([[c, s, translate[0]], [-s, c, translate[1]], [0, 0, 1]])
    return np.linalg.inv(m).astype(np.float32)


@torch.no_grad()
def perturb_sg3_(G: torch.nn.Module, gen: torch.Generator) -> None:
    """Biases and ``w_avg`` as for StyleGAN2, plus what StyleGAN3 starts at a constant."""
    perturb_(G, gen)
    affine = G.synthesis.input.affine.weight  # zero at init: no per-sample rotation/translation
    affine.copy_(0.5 * torch.randn(affine.shape, generator=gen))
    for name, buf in G.named_buffers():
        if name.endswith("magnitude_ema"):
            buf.fill_(float(0.5 + 1.5 * torch.rand([], generator=gen)))


@torch.no_grad()
def make_fixture(nets, name: str, cfg: dict, meta: dict) -> dict[str, np.ndarray]:
    """Build, perturb and run one configuration; return the arrays for its npz."""
    torch.manual_seed(cfg["init_seed"])
    G = nets.Generator(**cfg["G"]).eval()
    perturb_sg3_(G, torch.Generator().manual_seed(cfg["init_seed"] + 1))
    if "state_transform" in cfg:
        t = cfg["state_transform"]
        G.synthesis.input.transform.copy_(
            torch.from_numpy(image_transform(t["translate"], t["rotate"]))
        )

    n = len(BATCH_SEEDS)
    z64 = np.stack([np.random.RandomState(s).randn(G.z_dim) for s in BATCH_SEEDS])
    z = torch.from_numpy(z64).to(torch.float32)  # the official mapping casts to fp32 as well
    c = torch.zeros([n, G.c_dim])
    if G.c_dim > 0:
        c[torch.arange(n), torch.arange(n) % G.c_dim] = 1  # one class per sample

    out: dict[str, torch.Tensor] = {}
    out["ws_psi1"] = G.mapping(z, c)
    out["ws_psi07"] = G.mapping(z, c, truncation_psi=TRUNCATION_PSI)
    out["ws_psi07_cutoff4"] = G.mapping(
        z, c, truncation_psi=TRUNCATION_PSI, truncation_cutoff=TRUNCATION_CUTOFF
    )
    out["img_psi1"] = G(z, c, noise_mode="const")
    out["img_psi07_cutoff4"] = G(
        z, c, truncation_psi=TRUNCATION_PSI, truncation_cutoff=TRUNCATION_CUTOFF, noise_mode="const"
    )

    # The same ws seen through a user transform (translate + rotate), as gen_images.py does.
    user_transform = image_transform(USER_TRANSLATE, USER_ROTATE)
    G_user = copy.deepcopy(G)
    G_user.synthesis.input.transform.copy_(torch.from_numpy(user_transform))
    out["img_user_transform"] = G_user.synthesis(out["ws_psi1"], noise_mode="const")

    # One training-mode call with update_emas=True: w_avg and every magnitude_ema move first,
    # and the image uses the updated magnitudes.
    G_train = copy.deepcopy(G).train()
    out["img_update_emas"] = G_train(z, c, update_emas=True)
    emas = {
        f"emas.{key}": value
        for key, value in G_train.state_dict().items()
        if key.endswith(("magnitude_ema", "w_avg"))
    }

    arrays: dict[str, np.ndarray] = {
        "meta": np.array(json.dumps({**meta, "config": name, "init_seed": cfg["init_seed"]})),
        "G_init_kwargs": np.array(json.dumps(cfg["G"], sort_keys=True)),
        "seeds": np.array(BATCH_SEEDS, dtype=np.int64),
        "z": as_numpy(z),
        "c": as_numpy(c),
        "user_transform": user_transform,
    }
    arrays.update({k: as_numpy(v) for k, v in out.items()})
    arrays.update({k: as_numpy(v) for k, v in emas.items()})
    for key, value in G.state_dict().items():
        arrays[f"G.{key}"] = as_numpy(value)
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--official", required=True, help="path to an NVlabs/stylegan3 checkout")
    parser.add_argument("--official-commit", default=None, help="commit of that checkout")
    parser.add_argument("--out", default="tests/fixtures/official_sg3", help="output folder")
    parser.add_argument("--only", nargs="*", default=None, help="configurations to make")
    args = parser.parse_args()

    import scipy  # the official module designs its filters with scipy

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    nets = import_official_networks(args.official)
    meta = {
        "official_repo": "NVlabs/stylegan3",
        "official_module": "training/networks_stylegan3.py",
        "official_commit": official_commit(Path(args.official), args.official_commit),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
        "device": "cpu",
        "dtype": "float32",
        "seeds": BATCH_SEEDS,
        "truncation_psi": TRUNCATION_PSI,
        "truncation_cutoff": TRUNCATION_CUTOFF,
        "user_translate": USER_TRANSLATE,
        "user_rotate": USER_ROTATE,
    }
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, cfg in CONFIGS.items():
        if args.only and name not in args.only:
            continue
        if "state_transform" in cfg:
            meta_cfg = {**meta, "state_transform": cfg["state_transform"]}
        else:
            meta_cfg = meta
        arrays = make_fixture(nets, name, cfg, meta_cfg)
        path = out_dir / f"{name}.npz"
        np.savez_compressed(path, **arrays)
        print(f"{path}: {len(arrays)} arrays, {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
