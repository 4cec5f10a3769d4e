"""Regenerate the reference outputs in ``tests/fixtures/rosinality/`` from rosinality's code.

Usage::

    python scripts/make_rosinality_fixtures.py --rosinality /path/to/stylegan2-pytorch \
        --rosinality-commit bef283a1c24087da704d16c30abc8e36e63efa0e --out tests/fixtures/rosinality

``--rosinality`` is a checkout (or ``git archive`` extract) of
https://github.com/rosinality/stylegan2-pytorch. Its ``model.py`` is imported from there at run
time (nothing of it is copied here); ``torch.utils.cpp_extension.load`` is replaced by a stand-in
that fails on any use, so the CUDA ops are never built and their CPU fallbacks
(``upfirdn2d_native``, ``F.leaky_relu``, ``F.conv2d``) are provably the ones that ran.

Their channel widths are hard-coded (512 up to 32 px), so even a 16 px model has ~30M
parameters. Instead of storing them, every parameter and noise buffer is drawn from
``np.random.RandomState(seed)`` (uniform, unit variance; a stream numpy guarantees never to
change) in the order of their ``state_dict()``; the fixture stores the seed, the key list and a
SHA-256 of the drawn tensors, so a test redraws exactly the weights used here. The blur kernels
(fixed, not random) are stored verbatim.

The script also checks our conversion against their outputs (max abs diff printed) and that our
export loads strictly into their classes and their train.py optimizers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

CONFIGS: dict[str, dict] = {
    # 16 px at their defaults (channel_multiplier 2): every width 512; batch 3 for G (D sees a
    # group of 3 on G's output) and batch 8 of random images for D (two mbstd groups of 4).
    "size16_cm2": dict(
        size=16, style_dim=32, n_mlp=2, channel_multiplier=2, seed=1, psi=0.7, n_z=3, n_d=8
    ),
    # 64 px with channel_multiplier 1: the only size range where the multiplier matters
    # (256 channels at 64 px), i.e. our channel_base 16384.
    "size64_cm1": dict(
        size=64, style_dim=64, n_mlp=3, channel_multiplier=1, seed=2, psi=0.5, n_z=2, n_d=4
    ),
}
LATENT_AVG_SAMPLES = 4096  # their generate.py's default --truncation_mean


def weight_scale(key: str) -> tuple[float, float]:
    """(scale, offset) of the unit-variance draw for one of their keys, chosen so every path
    carries signal at a realistic size (their init leaves biases and noise strengths at 0)."""
    if key.startswith("style."):  # mapping: stored / lr_mul (0.01), so scale the draw back up
        return (100.0, 0.0) if key.endswith("weight") else (10.0, 0.0)
    if key.endswith("modulation.bias"):
        return 0.5, 1.0  # styles around 1, like their bias_init=1
    if key.endswith("bias") or key.endswith("noise.weight"):
        return 0.5, 0.0
    return 1.0, 0.0


def draw_state(keys_shapes: list, rs: np.random.RandomState, kernels: dict) -> dict:
    """The fixture weights: kernels verbatim, everything else from ``rs`` in key order."""
    out = {}
    for key, shape in keys_shapes:
        if key.endswith(".kernel"):
            out[key] = kernels[key]
            continue
        scale, offset = weight_scale(key)
        u = (rs.random_sample(shape) * 2.0 - 1.0) * np.sqrt(3.0)
        out[key] = (u * scale + offset).astype(np.float32)
    return out


def digest(state: dict) -> str:
    h = hashlib.sha256()
    for key, value in state.items():
        h.update(key.encode())
        h.update(np.ascontiguousarray(value, dtype="<f4").tobytes())
    return h.hexdigest()


def import_rosinality_model(root: Path) -> types.ModuleType:
    """Their ``model.py`` with the CUDA extension loader stubbed out (and proven unused)."""

    class NoCompiledOps:
        def __getattr__(self, name):
            raise RuntimeError(f"rosinality's compiled op {name!r} was used; expected CPU path")

    import torch.utils.cpp_extension as cpp_extension

    cpp_extension.load = lambda *args, **kwargs: NoCompiledOps()
    sys.path.insert(0, str(root))
    import model  # their model.py, from --rosinality

    return model


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()


@torch.no_grad()
def make_fixture(model, name: str, cfg: dict, commit: str) -> dict[str, np.ndarray]:
    from stylegan.io.rosinality import (
        discriminator_table,
        generator_table,
        networks_from_rosinality,
        rosinality_from_networks,
    )

    size, style_dim = cfg["size"], cfg["style_dim"]
    g = model.Generator(size, style_dim, cfg["n_mlp"], channel_multiplier=cfg["channel_multiplier"])
    d = model.Discriminator(size, channel_multiplier=cfg["channel_multiplier"])
    g.eval()
    d.eval()

    shapes = {
        "g_ema": [(k, tuple(v.shape)) for k, v in g.state_dict().items()],
        "d": [(k, tuple(v.shape)) for k, v in d.state_dict().items()],
    }
    # Our name tables list their keys in their state_dict order (= their parameter order).
    assert [r[1] for r in generator_table(size, cfg["n_mlp"])] == [k for k, _ in shapes["g_ema"]]
    assert [r[1] for r in discriminator_table(size)] == [k for k, _ in shapes["d"]]

    rs = np.random.RandomState(cfg["seed"])
    states, kernels = {}, {}
    for prefix, net in (("g_ema", g), ("d", d)):
        theirs = {k: v.numpy().copy() for k, v in net.state_dict().items() if k.endswith("kernel")}
        kernels.update({f"{prefix}.{k}": v for k, v in theirs.items()})
        states[prefix] = draw_state(shapes[prefix], rs, theirs)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in states[prefix].items()})

    torch.manual_seed(cfg["seed"])
    latent_avg = g.mean_latent(LATENT_AVG_SAMPLES)[0]  # [style_dim], like convert_weight.py
    z = torch.from_numpy(np.random.RandomState(cfg["seed"] + 100).randn(cfg["n_z"], style_dim))
    z = z.float()
    d_images = np.random.RandomState(cfg["seed"] + 200).randn(cfg["n_d"], 3, size, size)
    d_images = torch.from_numpy(d_images.astype(np.float32))

    psi = cfg["psi"]
    img_psi, _ = g([z], truncation=psi, truncation_latent=latent_avg, randomize_noise=False)
    img_psi1, _ = g([z], randomize_noise=False)
    logits_random = d(d_images)
    logits_fake = d(img_psi)

    # Our conversion, against their outputs.
    ckpt = {"g_ema": g.state_dict(), "d": d.state_dict(), "latent_avg": latent_avg}
    nets, meta = networks_from_rosinality(ckpt)
    G, D = nets["G_ema"], nets["D"]
    diffs = {
        "img_psi": max_diff(G(z, truncation_psi=psi, noise_mode="const"), img_psi),
        "img_psi1": max_diff(G(z, noise_mode="const"), img_psi1),
        "logits_random": max_diff(D(d_images), logits_random),
        "logits_fake": max_diff(D(img_psi), logits_fake),
    }
    print(f"{name}: max abs diff ours vs rosinality: {diffs}")
    assert max(diffs.values()) <= 1e-4, diffs

    # Our export loads strictly into their classes (and their train.py optimizers).
    exported = rosinality_from_networks({"G_ema": G, "G": G, "D": D})
    g2 = model.Generator(
        size, style_dim, cfg["n_mlp"], channel_multiplier=cfg["channel_multiplier"]
    )
    d2 = model.Discriminator(size, channel_multiplier=cfg["channel_multiplier"])
    g2.load_state_dict(exported["g_ema"], strict=True)
    g2.load_state_dict(exported["g"], strict=True)
    d2.load_state_dict(exported["d"], strict=True)
    assert list(exported["g_ema"]) == list(g.state_dict()), "key order differs from theirs"
    for key, net, interval in (("g_optim", g2, 4), ("d_optim", d2, 16)):
        c = interval / (interval + 1)  # as their train.py
        opt = torch.optim.Adam(net.parameters(), lr=0.002 * c, betas=(0**c, 0.99**c))
        opt.load_state_dict(exported[key])
    img2, _ = g2.eval()(
        [z], truncation=psi, truncation_latent=exported["latent_avg"], randomize_noise=False
    )
    assert torch.equal(img2, img_psi), "their G on our export differs from their G"
    assert torch.equal(d2.eval()(d_images), logits_random)

    info = {
        "rosinality_repo": "https://github.com/rosinality/stylegan2-pytorch",
        "rosinality_commit": commit,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        **cfg,
        "weights": (
            "np.random.RandomState(seed): for each key of g_ema then d in state_dict order, "
            "kernels kept, else (random_sample(shape)*2-1)*sqrt(3)*scale+offset as float32 "
            "(scale 100/10 for style.* weight/bias, 0.5 with offset 1 for modulation.bias, "
            "0.5 for other biases and noise.weight, else 1)"
        ),
        "latent_avg": f"their g_ema.mean_latent({LATENT_AVG_SAMPLES})[0] after "
        "torch.manual_seed(seed)",
        "z": "np.random.RandomState(seed + 100).randn(n_z, style_dim) as float32",
        "d_images": "np.random.RandomState(seed + 200).randn(n_d, 3, size, size) as float32",
        "keys": {p: [[k, list(s)] for k, s in v] for p, v in shapes.items()},
        "sha256": {p: digest(v) for p, v in states.items()},
        "max_abs_diff_ours": diffs,
        "our_metadata": meta,
    }
    arrays = {
        "meta": np.array(json.dumps(info)),
        "z": z.numpy(),
        "latent_avg": latent_avg.numpy(),
        "img_psi": img_psi.numpy(),
        "img_psi1": img_psi1.numpy(),
        "d_images": d_images.numpy(),
        "logits_random": logits_random.numpy(),
        "logits_fake": logits_fake.numpy(),
    }
    arrays.update(kernels)
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rosinality", required=True, help="path to a stylegan2-pytorch checkout")
    parser.add_argument("--rosinality-commit", default="unknown", help="commit of that checkout")
    parser.add_argument("--out", default="tests/fixtures/rosinality", help="output folder")
    parser.add_argument("--only", default=None, help="make just this configuration")
    args = parser.parse_args()

    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    model = import_rosinality_model(Path(args.rosinality).resolve())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, cfg in CONFIGS.items():
        if args.only and name != args.only:
            continue
        t0 = time.time()
        arrays = make_fixture(model, name, cfg, args.rosinality_commit)
        path = out / f"{name}.npz"
        np.savez_compressed(path, **arrays)
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB, {time.time() - t0:.1f} s)")


if __name__ == "__main__":
    main()
