"""Fast inversion with a trained encoder vs optimisation: quality and seconds per image on CPU.

Usage (the run reported in docs/editing.md (Encoder))::

    OMP_NUM_THREADS=1 nice python benchmarks/encoder.py \\
        --network "$(ls -td /work/zoo/twemoji-32/*/network-snapshot-* | head -1)" \\
        --minutes 10 --real /work/shared/datasets/twemoji-64 --out encoder-bench.json

It trains an encoder for ``--network`` (its own samples mixed half and half with the bundled
twemoji-32 sample, the perceptual loss on EfficientNet-Lite0) for about ``--minutes`` of wall time
(5 steps time one step, then training resumes from that checkpoint up to the step count that
fits), then reports on 8 own samples (seeds 0-7, psi 0.7) and 8 real emoji from ``--real``
(every 200th file, centre-cropped and LANCZOS-resized to the network's resolution) the PSNR,
the perceptual distance and the seconds per image of the encoder alone and of the encoder plus
``--refine-steps`` (50) steps in W+, and how much faster the encoder is than a 1000-step
optimisation (10 timed optimisation steps of the same G on one image, times 100).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import stylegan
from stylegan.data.dataset import sample_dataset_path
from stylegan.images import psnr
from stylegan.metrics.perceptual import load_perceptual_distance
from stylegan.tools.encoder import as_float_images, invert, train_encoder
from stylegan.tools.generate import seeds_to_ws
from stylegan.tools.projection import list_targets, load_target


def evaluate(encoder, G, targets, refine_steps, dist) -> dict[str, dict[str, float]]:
    """PSNR, perceptual distance and seconds per image, encoder alone and refined."""
    out = {}
    for name, steps in (("encoder", 0), (f"encoder+refine{refine_steps}", refine_steps)):
        scores, dists, seconds = [], [], []
        for i in range(targets.shape[0]):
            t0 = time.perf_counter()
            ws = invert(encoder, G, targets[i : i + 1], steps, perceptual=dist)
            seconds.append(time.perf_counter() - t0)
            with torch.no_grad():
                img = G.synthesis(ws, noise_mode="const")
                scores.append(psnr(img, targets[i : i + 1]))
                dists.append(float(dist(img, targets[i : i + 1])[0]))
        out[name] = {
            "psnr_db": float(np.mean(scores)),
            "perceptual": float(np.mean(dists)),
            "seconds_per_image": float(np.mean(seconds)),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--network", required=True)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--real", default="/work/shared/datasets/twemoji-64")
    parser.add_argument("--refine-steps", type=int, default=50)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    torch.manual_seed(0)
    G = stylegan.load(args.network).eval()
    dist = load_perceptual_distance("effnet")
    train = dict(
        real_images=sample_dataset_path(),
        batch_size=args.batch,
        lr=args.lr,
        perceptual=dist,
        progress=sys.stderr.isatty(),
    )
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        first = train_encoder(G, steps=5, outdir=tmp, **train)
        per_step = first.seconds / 5
        steps = max(5, int(args.minutes * 60 / per_step))
        result = train_encoder(G, steps=steps, outdir=tmp, resume=first.checkpoint, **train)
        train_seconds = time.perf_counter() - t0
    encoder = result.encoder

    own = G.synthesis(seeds_to_ws(G, range(8), truncation_psi=0.7), noise_mode="const").detach()
    files = list_targets(args.real)[::200][:8]
    reals = np.stack([load_target(f, G.img_resolution) for f in files])
    reals = as_float_images(reals, G.img_resolution, G.img_channels)

    # One optimisation step of the same G on one image, timed over 10 steps.
    t0 = time.perf_counter()
    invert(encoder, G, own[:1], 10, perceptual=dist)
    t_encoder = time.perf_counter()
    invert(encoder, G, own[:1], 0)
    t_encoder = time.perf_counter() - t_encoder
    opt_1000 = (time.perf_counter() - t0 - t_encoder) / 10 * 1000

    report = {
        "network": args.network,
        "train_steps": result.step,
        "train_seconds": train_seconds,
        "train_losses": result.losses,
        "own_psi0.7": evaluate(encoder, G, own, args.refine_steps, dist),
        "real_twemoji64": evaluate(encoder, G, reals, args.refine_steps, dist),
        "optimisation_1000_steps_seconds_estimate": opt_1000,
    }
    enc_s = report["own_psi0.7"]["encoder"]["seconds_per_image"]
    report["speedup_encoder_vs_1000_step_optimisation"] = opt_1000 / enc_s
    print(json.dumps(report, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
