"""Training throughput with 1 process vs N processes (torchrun, gloo on CPU / NCCL on GPUs).

    python benchmarks/scaling.py --processes 2 --kimg 2 --repeats 2 --out scaling.json

Runs the ``small`` preset (32 px, the bundled emoji) for ``--kimg`` thousand images, first in
one process, then under ``torchrun --nproc_per_node=N``, interleaved ``--repeats`` times, with
the machine's cores split evenly between the processes. Throughput is read from the run's
``stats.jsonl`` (ticks after the first, so start-up is excluded); medians are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SCRIPT = """
import sys
from stylegan.training import make_config, train
out, kimg, device = sys.argv[1], float(sys.argv[2]), sys.argv[3]
config = make_config("small", total_kimg=kimg, kimg_per_tick=kimg / 4, snapshot_ticks=None,
                     image_snapshot_ticks=1000, device=device)
train(config, out, progress=False)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def images_per_second(run_root: Path) -> float:
    """Images/s over the ticks after the first (which includes start-up)."""
    (run,) = [p for p in run_root.iterdir() if p.is_dir()]
    ticks = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    sec_per_kimg = [t["Timing/sec_per_kimg"]["mean"] for t in ticks[2:]]
    return 1000 / statistics.median(sec_per_kimg)


def run_once(processes: int, kimg: float, threads: int, device: str, workdir: Path) -> float:
    script = workdir / "train_once.py"
    script.write_text(SCRIPT)
    out = Path(tempfile.mkdtemp(dir=workdir))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if processes == 1:
        command = [sys.executable, str(script), str(out), str(kimg), device]
    else:
        command = [sys.executable, "-m", "torch.distributed.run",
                   f"--nproc_per_node={processes}", f"--master_port={_free_port()}",
                   str(script), str(out), str(kimg), device]  # fmt: skip
    subprocess.run(command, env=env, check=True, capture_output=True)
    return images_per_second(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--kimg", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("scaling.json"))
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    n = args.processes
    results: dict[str, list[float]] = {"1": [], str(n): []}
    load: list[float] = []  # 1-minute load average before each run: other work on the machine
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):  # interleaved, so machine noise hits both alike
            for processes in (1, n):
                load.append(round(os.getloadavg()[0], 2))
                threads = max(cores // processes, 1)
                speed = run_once(processes, args.kimg, threads, args.device, Path(tmp))
                results[str(processes)].append(round(speed, 2))
                print(f"{processes} process(es): {speed:.1f} img/s", flush=True)
    medians = {k: statistics.median(v) for k, v in results.items()}
    report = {
        "cores": cores,
        "device": args.device,
        "kimg_per_run": args.kimg,
        "threads_per_process": {"1": cores, str(n): max(cores // n, 1)},
        "load_average_before_runs": load,
        "images_per_second": results,
        "median_images_per_second": medians,
        "speedup": round(medians[str(n)] / medians["1"], 3),
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
