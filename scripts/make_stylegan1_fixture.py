"""Train the tiny original-StyleGAN generator used by tests/tools/test_stylegan1_mixing.py.

    python scripts/make_stylegan1_fixture.py --minutes 12 --out tests/fixtures/stylegan1_tiny

Progressive growing from 8 px to the bundled 32 px emoji with our own training loop; the
G_ema of the last snapshot is written as one .safetensors file (networks only).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stylegan.io.checkpoint import load_checkpoint, save_checkpoint
from stylegan.training import find_latest_snapshot, make_config, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=12)
    parser.add_argument("--kimg", type=float, default=200)
    parser.add_argument("--runs", default="/tmp/stylegan1-fixture-runs")
    parser.add_argument("--out", default="tests/fixtures/stylegan1_tiny")
    args = parser.parse_args()
    config = make_config(
        "stylegan1-small",
        total_kimg=args.kimg,
        max_minutes=args.minutes,
        channel_base=1024,
        channel_max=48,
        z_dim=48,
        w_dim=48,
        map_depth=4,
        lod_training_kimg=10,
        lod_transition_kimg=10,
        batch_per_resolution={},
        batch_size=32,
        snapshot_ticks=5,
        device="cpu",
    )
    run = train(config, outdir=args.runs, progress=False)
    G_ema = load_checkpoint(find_latest_snapshot(run)).networks["G_ema"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out / "G_ema.safetensors", {"G_ema": G_ema}, metadata={"trained": run.name})
    print(f"wrote {out / 'G_ema.safetensors'} from {run}")


if __name__ == "__main__":
    main()
