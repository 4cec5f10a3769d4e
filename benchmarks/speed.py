"""Generator and training throughput per preset on the current device.

    python benchmarks/speed.py                                  # tiny@16 and small@32, CPU
    python benchmarks/speed.py --presets small:32 paper256:256 --device cuda --out speed.json

For each ``preset:resolution`` it builds the preset's networks (random weights; speed does not
depend on them) and reports

* G inference images/s at batch 1 and batch 8 (eval, ``noise_mode='const'``, no grad);
* training images/s over whole lazy-regularisation cycles (16 steps: every phase at its official
  interval, G_ema update included), on random real images so that disk I/O is not measured.

Each figure is the median of ``--repeats`` timed runs after a warm-up, written as JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from stylegan.devices import resolve_device
from stylegan.training import training_step
from stylegan.training.presets import make_config
from stylegan.training.state import TrainingState, build_networks


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _median_seconds(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up (allocations, cuDNN autotuning)
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def generator_speed(G, batch: int, repeats: int, device: torch.device) -> float:
    """Images/s of ``G(z, c, noise_mode='const')`` at ``batch``."""
    z = torch.randn(batch, G.z_dim, device=device)
    c = torch.zeros(batch, G.c_dim, device=device)

    @torch.no_grad()
    def run():
        G(z, c, noise_mode="const")

    return batch / _median_seconds(run, repeats, device)


def training_speed(config, resolution: int, repeats: int, device: torch.device) -> float:
    """Training images/s over one full lazy-regularisation cycle of steps."""
    G, D = build_networks(config, resolution, 3, 0)
    state = TrainingState.create(config, G.to(device), D.to(device))
    batch = config.batch_size
    cycle = max(config.d_reg_interval or 1, config.g_reg_interval or 1)
    real = torch.rand(batch, 3, resolution, resolution, device=device) * 2 - 1
    real_c = torch.zeros(batch, 0, device=device)
    gen_z = torch.randn(4, batch, config.z_dim, device=device)
    gen_c = torch.zeros(4, batch, 0, device=device)

    def run():
        for _ in range(cycle):
            training_step(state, config, real, real_c, gen_z, gen_c)

    return cycle * batch / _median_seconds(run, repeats, device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["tiny:16", "small:32"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-training", action="store_true", help="Generator speed only.")
    parser.add_argument("--out", type=Path, default=None, help="Write the results as JSON here.")
    args = parser.parse_args()

    device = resolve_device(args.device)
    torch.manual_seed(0)
    results = []
    for spec in args.presets:
        preset, res = spec.split(":")
        resolution = int(res)
        config = make_config(preset, resolution=resolution, device=str(device))
        G, _ = build_networks(config, resolution, 3, 0)
        G = G.to(device).eval()
        row = {
            "preset": preset,
            "resolution": resolution,
            "g_params_m": round(sum(p.numel() for p in G.parameters()) / 1e6, 3),
            "g_img_per_s_batch1": generator_speed(G, 1, args.repeats, device),
            "g_img_per_s_batch8": generator_speed(G, 8, args.repeats, device),
        }
        if not args.no_training:
            row["batch"] = config.batch_size
            row["train_img_per_s"] = training_speed(config, resolution, args.repeats, device)
        results.append(row)
        print(
            f"{preset:>10}@{resolution:<4} G {row['g_params_m']:7.3f} M  "
            f"G img/s b1 {row['g_img_per_s_batch1']:8.2f}  b8 {row['g_img_per_s_batch8']:8.2f}"
            + (f"  train img/s {row['train_img_per_s']:8.2f}" if "train_img_per_s" in row else ""),
            flush=True,
        )

    report = {
        "device": str(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "repeats": args.repeats,
        "results": results,
    }
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
