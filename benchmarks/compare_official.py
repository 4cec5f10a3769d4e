"""CPU generator throughput: ours vs NVIDIA's official StyleGAN2 code, same network and weights.

Usage::

    python benchmarks/compare_official.py --official /path/to/stylegan3 [--out results.json]

``--official`` is a checkout (or ``git archive`` extract) of https://github.com/NVlabs/stylegan3;
its ``training/networks_stylegan2.py`` is imported from there at run time. For each resolution an
official Generator (channel_base 16384, channel_max 512, 8 mapping layers, fp32) is built, its
state dict loaded into ours (strict), and ``G(z, c, noise_mode="const")`` under
``torch.no_grad()`` is timed at each batch size, alternating ours and theirs, with the default
number of torch threads. Reports median seconds per call, images/s, our speed-up, and the max
abs difference between the two outputs.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from stylegan.latents import z_from_seeds
from stylegan.networks.stylegan2 import Generator

REQUIRED_SPEEDUP = 2.0  # project requirement at batch 8 on the CPU
_HELPER = Path(__file__).resolve().parents[1] / "scripts" / "make_official_fixtures.py"


def load_official(path: str):
    """The official ``training.networks_stylegan2`` module, or exit with a clear message."""
    root = Path(path).expanduser()
    if not (root / "training" / "networks_stylegan2.py").is_file():
        sys.exit(
            f"error: no official StyleGAN code at {root} "
            "(expected training/networks_stylegan2.py there).\n"
            "Get it with: git clone https://github.com/NVlabs/stylegan3 /path/to/stylegan3\n"
            "then run:    python benchmarks/compare_official.py --official /path/to/stylegan3"
        )
    spec = importlib.util.spec_from_file_location("make_official_fixtures", _HELPER)
    helper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helper)
    return helper.import_official_networks(root)


def generator_kwargs(resolution: int) -> dict:
    """Official keyword arguments of the benchmarked generator (config-f widths, fp32)."""
    return {
        "z_dim": 512,
        "c_dim": 0,
        "w_dim": 512,
        "img_resolution": resolution,
        "img_channels": 3,
        "mapping_kwargs": {"num_layers": 8},
        "channel_base": 16384,
        "channel_max": 512,
        "num_fp16_res": 0,
        "conv_clamp": 256,
    }


@torch.no_grad()
def build_pair(official_nets, resolution: int, seed: int = 0):
    """An official generator with nonzero noise strengths and biases, and ours with its weights."""
    kwargs = generator_kwargs(resolution)
    torch.manual_seed(seed)
    theirs = official_nets.Generator(**kwargs).eval()
    gen = torch.Generator().manual_seed(seed + 1)
    for name, param in theirs.named_parameters():
        if name.endswith("noise_strength"):
            param.fill_(0.1 + 0.2 * torch.rand([], generator=gen).item())
        elif name.endswith(".bias") and "mapping" not in name:
            param.add_(0.1 * torch.randn(param.shape, generator=gen))
    theirs.mapping.w_avg.copy_(0.5 * torch.randn(theirs.mapping.w_avg.shape, generator=gen))
    ours = Generator(**kwargs).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours.requires_grad_(False), theirs.requires_grad_(False)


def time_call(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_case(ours, theirs, batch: int, repeats: int, warmup: int) -> dict:
    """Interleaved timing (ours, theirs, ours, ...) of one batch size, plus an output check."""
    z = z_from_seeds(list(range(batch)), ours.z_dim)
    c = torch.zeros([batch, 0])
    calls = {
        "ours": lambda: ours(z, c, noise_mode="const"),
        "official": lambda: theirs(z, c, noise_mode="const"),
    }
    with torch.no_grad():
        diff = (calls["ours"]() - calls["official"]()).abs().max().item()
        for _ in range(warmup):
            for fn in calls.values():
                fn()
        times: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(repeats):
            for name, fn in calls.items():
                times[name].append(time_call(fn))
    result = {"batch": batch, "max_abs_diff": diff}
    for name, ts in times.items():
        median = statistics.median(ts)
        result[name] = {"seconds": ts, "median_s": median, "images_per_s": batch / median}
    result["speedup"] = result["ours"]["images_per_s"] / result["official"]["images_per_s"]
    return result


def profile_ours(ours, batch: int, rows: int = 25) -> str:
    """torch.profiler table of one of our forward passes, ops sorted by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    z = z_from_seeds(list(range(batch)), ours.z_dim)
    c = torch.zeros([batch, 0])
    with torch.no_grad():
        ours(z, c, noise_mode="const")
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            ours(z, c, noise_mode="const")
    return prof.key_averages(group_by_input_shape=True).table(
        sort_by="self_cpu_time_total", row_limit=rows
    )


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--official", required=True, help="path to an NVlabs/stylegan3 checkout")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per implementation")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls per implementation")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--profile", action="store_true", help="also profile ours (largest batch)")
    args = parser.parse_args()

    if args.threads is not None:
        torch.set_num_threads(args.threads)

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    official_nets = load_official(args.official)
    results = {
        "benchmark": "compare_official",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpu": cpu_name(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "load_average_at_start": list(os.getloadavg()),
        },
        "settings": {
            "device": "cpu",
            "dtype": "float32",
            "noise_mode": "const",
            "repeats": args.repeats,
            "warmup": args.warmup,
            "order": "interleaved: ours, official, ours, official, ...",
        },
        "cases": [],
    }
    profiles = []
    for resolution in args.resolutions:
        ours, theirs = build_pair(official_nets, resolution)
        for batch in args.batches:
            case = bench_case(ours, theirs, batch, args.repeats, args.warmup)
            case = {
                "resolution": resolution,
                **case,
                "generator_kwargs": generator_kwargs(resolution),
            }
            results["cases"].append(case)
            print(
                f"{resolution:>4} px  batch {batch}:"
                f"  ours {case['ours']['images_per_s']:7.2f} img/s"
                f"  official {case['official']['images_per_s']:7.2f} img/s"
                f"  x{case['speedup']:.2f}  max|diff| {case['max_abs_diff']:.2e}",
                flush=True,
            )
        if args.profile:
            profiles.append((resolution, profile_ours(ours, max(args.batches))))

    print()
    print("| res | batch | ours img/s | official img/s | speed-up | max abs diff |")
    print("|---:|---:|---:|---:|---:|---:|")
    for case in results["cases"]:
        print(
            f"| {case['resolution']} | {case['batch']} | {case['ours']['images_per_s']:.2f} "
            f"| {case['official']['images_per_s']:.2f} | {case['speedup']:.2f}x "
            f"| {case['max_abs_diff']:.1e} |"
        )
    short = [
        f"{c['resolution']} px ({c['speedup']:.2f}x)"
        for c in results["cases"]
        if c["batch"] == 8 and c["speedup"] < REQUIRED_SPEEDUP
    ]
    results["machine"]["load_average_at_end"] = list(os.getloadavg())
    results["requirement"] = {
        "speedup_at_batch_8": REQUIRED_SPEEDUP,
        "met": not short,
        "short": short,
    }
    if short:
        print(f"\nbelow the required {REQUIRED_SPEEDUP}x at batch 8: {', '.join(short)}")
    for resolution, table in profiles:
        print(f"\nprofile of ours, {resolution} px, batch {max(args.batches)}:\n{table}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
