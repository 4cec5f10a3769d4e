"""Does an InterFaceGAN edit along a probe's boundary raise the probe's score? (32 px emoji)

Usage::

    python benchmarks/editing.py --network RUN/network-snapshot-NNNNNN [--category Flags]
        [--probe probe.safetensors] [--out results.json]

1. An attribute probe is trained on the bundled emoji sample (``stylegan attributes train``), or
   read with ``--probe``; its validation accuracy is reported.
2. ``--fit-seeds`` seeds are rendered and scored for the category (log-odds); InterFaceGAN's
   boundary is fitted in W with :func:`stylegan.tools.interfacegan.interfacegan` (the top and
   bottom ``--ratio`` of the seeds by score, 70/30 split, linear SVM, unit normal).
3. ``--eval-seeds`` other seeds are edited with ``w + s n`` on every layer for s in
   ``--strengths`` (default -3..3, 7 values) and the fraction whose probe probability for the
   category rises monotonically (strictly, and non-strictly) is reported, with the mean
   probability at each strength.
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import numpy as np
import torch

import stylegan
from stylegan.data.dataset import sample_dataset_path
from stylegan.metrics.attributes import load_attribute_probe, train_attribute_probe
from stylegan.tools.editing import edit_images, parse_strengths
from stylegan.tools.generate import seeds_to_ws, synthesize_float
from stylegan.tools.interfacegan import interfacegan


def probe_probabilities(probe, images: np.ndarray, k: int, batch: int = 64) -> np.ndarray:
    """The probe's probability of class ``k`` for uint8 ``[N, H, W, C]`` images."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    return np.concatenate(
        [probe.probabilities(x[i : i + batch])[:, k].cpu().numpy() for i in range(0, len(x), batch)]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--network", required=True)
    parser.add_argument("--category", default="Flags")
    parser.add_argument("--probe", default=None, help="A trained probe (default: train one).")
    parser.add_argument("--probe-out", default="out/probe-twemoji.safetensors")
    parser.add_argument("--max-images", type=int, default=None, help="Probe: subset of sample.")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--fit-seeds", type=int, default=300)
    parser.add_argument("--ratio", type=float, default=0.2)
    parser.add_argument("--eval-seeds", type=int, default=64)
    parser.add_argument("--strengths", default="-3:3:7")
    parser.add_argument("--trunc", type=float, default=1.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    start = time.time()
    if args.probe:
        probe = load_attribute_probe(args.probe, device=args.device)
    else:
        probe = train_attribute_probe(
            sample_dataset_path(), epochs=args.epochs, max_images=args.max_images,
            device=args.device,
        )  # fmt: skip
        Path(args.probe_out).parent.mkdir(parents=True, exist_ok=True)
        probe.save(args.probe_out)
    k = probe.class_index(args.category)
    print(f"probe: validation accuracy {probe.info.accuracy:.3f} ({probe.info.num_val} images)")

    G = stylegan.load(args.network, device=args.device).eval()
    fit_ws = seeds_to_ws(G, range(args.fit_seeds), args.trunc)
    images = synthesize_float(G, fit_ws, batch_size=32)
    scores = torch.cat(
        [probe.scores(images[i : i + 64], k).cpu() for i in range(0, len(images), 64)]
    )
    directions = interfacegan(
        fit_ws[:, 0].cpu(), scores, confident_fraction=args.ratio, num_ws=G.num_ws,
        name=args.category,
    )  # fmt: skip

    strengths = parse_strengths(args.strengths)
    eval_seeds = range(100_000, 100_000 + args.eval_seeds)
    eval_ws = seeds_to_ws(G, eval_seeds, args.trunc)
    edited = edit_images(G, eval_ws, directions, 0, strengths, batch_size=32)
    rows, cols = edited.shape[:2]
    probs = probe_probabilities(probe, edited.reshape(rows * cols, *edited.shape[2:]), k)
    probs = probs.reshape(rows, cols)
    steps = np.diff(probs, axis=1)
    result = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "network": args.network,
        "category": args.category,
        "probe_val_accuracy": probe.info.accuracy,
        "probe_train_accuracy": probe.info.train_accuracy,
        "probe_images": probe.info.num_train + probe.info.num_val,
        "fit": "tools.interfacegan.interfacegan in W (linear SVM)",
        "boundary_info": directions.info,
        "fit_seeds": args.fit_seeds,
        "ratio": args.ratio,
        "strengths": strengths,
        "eval_seeds": args.eval_seeds,
        "fraction_strictly_rising": float((steps > 0).all(axis=1).mean()),
        "fraction_non_decreasing": float((steps >= -1e-6).all(axis=1).mean()),
        "mean_probability_per_strength": probs.mean(0).round(4).tolist(),
        "seconds": round(time.time() - start, 1),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
