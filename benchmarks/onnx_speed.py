"""Images per second of a generator in PyTorch and in onnxruntime (its `stylegan export onnx`).

Usage (the run reported in docs/distillation.md)::

    python benchmarks/onnx_speed.py --network twemoji-32 --threads 2 --repeats 15

Both run in this process on ``--threads`` threads, interleaved (PyTorch, onnxruntime, PyTorch,
...), onnxruntime with spinning off so that its idle threads do not take the cores from PyTorch;
the figures are medians over ``--repeats`` timed calls per batch size, after two warm-up calls.
Same inputs (z, psi 1, constant noise), so the outputs are also compared.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import stylegan
from stylegan.io.onnx import export_onnx, onnx_session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="twemoji-32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    G = stylegan.load(args.network).eval()
    with tempfile.TemporaryDirectory() as tmp:
        exported = export_onnx(G, Path(tmp) / "g.onnx", check_batches=(1,))
        session = onnx_session(exported.path, threads=args.threads)
        report = {"network": args.network, "threads": args.threads, "rows": []}
        for batch in (int(b) for b in args.batches.split(",")):
            z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(batch))
            feeds = {"z": z.numpy(), "psi": np.ones(1, np.float32)}

            def run_torch(z=z):
                with torch.no_grad():
                    return G.synthesis(G.mapping(z, None), noise_mode="const").numpy()

            def run_onnx(feeds=feeds):
                return session.run(None, feeds)[0]

            times = {"pytorch": [], "onnxruntime": []}
            for _ in range(2):
                run_torch(), run_onnx()
            for _ in range(args.repeats):
                for name, fn in (("pytorch", run_torch), ("onnxruntime", run_onnx)):
                    start = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - start)
            medians = {k: statistics.median(v) for k, v in times.items()}
            row = {
                "batch": batch,
                "pytorch_images_per_s": round(batch / medians["pytorch"], 1),
                "onnxruntime_images_per_s": round(batch / medians["onnxruntime"], 1),
                "onnx_speedup": round(medians["pytorch"] / medians["onnxruntime"], 2),
                "max_abs_difference": float(np.abs(run_torch() - run_onnx()).max()),
            }
            report["rows"].append(row)
            print(json.dumps(row), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
