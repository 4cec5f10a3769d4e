"""How well projection reconstructs images: W, W+ and W+ with PTI, on generated and real images.

    python benchmarks/projection.py --network CKPT [--images 8] [--steps 1000] [--tune-steps 350]
        [--loss auto|lpips|effnet|mse] [--real /work/shared/datasets/twemoji-64] [--json out.json]

(a) ``--images`` images the network generated itself (seeds 0.., psi 0.7), (b) as many real
images from ``--real`` (every k-th file, centre-cropped and LANCZOS-resized to the network's
resolution). Reports PSNR (dB) and the ``effnet`` distance of the rendered projection (always
effnet, whatever ``--loss`` optimised) and seconds per image, one row per (set, method).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import stylegan
from stylegan.images import psnr
from stylegan.metrics.perceptual import load_perceptual_distance
from stylegan.tools.generate import generate_images
from stylegan.tools.projection import list_targets, load_target, project, render, tune


def _measure(G, target, ws, effnet) -> tuple[float, float]:
    image = render(G, ws)[0]
    t = torch.from_numpy(target).permute(2, 0, 1)[None].float()
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        dist = float(effnet(x, t)[0])
    return psnr(torch.from_numpy(image), torch.from_numpy(target), drange=(0, 255)), dist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", required=True)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--tune-steps", type=int, default=350)
    parser.add_argument("--loss", default="auto")
    parser.add_argument("--real", default="/work/shared/datasets/twemoji-64")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    G = stylegan.load(args.network).eval()
    loss = load_perceptual_distance(args.loss)
    effnet = load_perceptual_distance("effnet")
    generated = list(generate_images(G, list(range(args.images)), truncation_psi=0.7))
    files = list_targets(args.real)
    files = files[:: max(1, len(files) // args.images)][: args.images]
    sets = {"generated": generated, "real": [load_target(f, G.img_resolution) for f in files]}
    rows = []
    for set_name, targets in sets.items():
        sums: dict[str, list[float]] = {}
        for target in targets:
            for space in ("w", "w+"):
                start = time.perf_counter()
                result = project(G, target, loss=loss, space=space, num_steps=args.steps,
                                 progress=False)  # fmt: skip
                seconds = time.perf_counter() - start
                sums.setdefault(space, []).append((*_measure(G, target, result.w, effnet), seconds))
                if space == "w+":
                    start = time.perf_counter()
                    tuned = tune(G, target, result.w, loss=loss, num_steps=args.tune_steps,
                                 progress=False)  # fmt: skip
                    extra = time.perf_counter() - start
                    measured = _measure(tuned.G, target, result.w, effnet)
                    sums.setdefault("w+ PTI", []).append((*measured, seconds + extra))
        for method, values in sums.items():
            a = np.array(values)
            rows.append(dict(set=set_name, method=method, psnr_db=float(a[:, 0].mean()),
                             effnet=float(a[:, 1].mean()), seconds_per_image=float(a[:, 2].mean()),
                             images=len(values)))  # fmt: skip
    print(f"network {args.network}, loss {loss.name}, {args.steps} steps, PTI {args.tune_steps}")
    print(f"{'set':10} {'method':8} {'PSNR dB':>8} {'effnet':>8} {'s/image':>8}")
    for r in rows:
        print(f"{r['set']:10} {r['method']:8} {r['psnr_db']:8.2f} {r['effnet']:8.4f} "
              f"{r['seconds_per_image']:8.1f}")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(dict(args=vars(args), rows=rows), indent=2) + "\n")


if __name__ == "__main__":
    main()
