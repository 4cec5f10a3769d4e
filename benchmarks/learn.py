"""Learning run: a CPU-scale preset trained for a fixed wall time on twemoji-64 at 32 px.

    python benchmarks/learn.py --minutes 30                       # unconditional, preset small
    python benchmarks/learn.py --minutes 30 --cond --outdir runs  # conditional on emoji category
    python benchmarks/learn.py --minutes 12 --set max_size=200 --set aug=noaug   # few-shot, no ADA

The dataset is made from ``../shared/datasets/twemoji-64`` with our dataset tool (box filter to
32 px; ``--cond`` takes labels from the category column of its ``manifest.csv``). Training writes
sample grids of fixed seeds and a snapshot after every tick; at the end this script picks the
grids nearest to evenly spaced times, tiles them into ``timeline.png`` (left to right = later),
scores the snapshots nearest to evenly spaced times (and the random initialisation) with the
offline FID over EfficientNet-Lite0 features (``fid_effnet<N>k`` against the whole dataset, so
no download is needed), draws ``fid.png`` and writes ``learn.json`` with kimg, images/s, losses
and the FID curve. Scoring happens after training, so it does not eat into the training time.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from stylegan.data.dataset_tool import convert_dataset
from stylegan.images import make_grid, save_image
from stylegan.io.checkpoint import load_checkpoint
from stylegan.training import make_config, train
from stylegan.training.run_folder import list_snapshots

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "twemoji-64"


def build_dataset(source: Path, dest: Path, cond: bool) -> Path:
    """twemoji-64 -> a 32 px zip in NVIDIA's layout (labels = emoji category with ``cond``)."""
    if dest.exists():
        return dest
    labels = None
    if cond:
        with open(source / "manifest.csv", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        labels_csv = Path(tempfile.mkdtemp()) / "labels.csv"
        with open(labels_csv, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([(r["file"], r["category"]) for r in rows])
        labels = str(labels_csv)
    convert_dataset(source, dest, resolution=32, resize_filter="box", labels=labels)
    return dest


def read_ticks(run_dir: Path) -> list[dict]:
    """One entry per tick: wall seconds since start, kimg and the mean losses."""
    ticks = []
    for line in (run_dir / "stats.jsonl").read_text().splitlines():
        stats = json.loads(line)

        def mean(name, stats=stats):
            return stats[name]["mean"] if name in stats else None

        ticks.append(
            {
                "seconds": mean("Timing/total_sec"),
                "kimg": mean("Progress/kimg"),
                "sec_per_kimg": mean("Timing/sec_per_kimg"),
                "loss_G": mean("Loss/G/loss"),
                "loss_D": mean("Loss/D/loss"),
                "scores_real": mean("Loss/scores/real"),
                "scores_fake": mean("Loss/scores/fake"),
            }
        )
    return ticks


def timeline(run_dir: Path, ticks: list[dict], points: int) -> tuple[np.ndarray, list[dict]]:
    """Sample grids at evenly spaced times, side by side, and which kimg each one shows."""
    grids = {}
    for path in run_dir.glob("fakes[0-9]*.png"):
        grids[int(re.findall(r"\d+", path.stem)[0])] = path
    kimg_seconds = [(t["kimg"], t["seconds"]) for t in ticks if t["seconds"] is not None]
    total = kimg_seconds[-1][1]
    chosen = []
    for i in range(1, points + 1):
        target = total * i / points
        kimg, seconds = min(kimg_seconds, key=lambda ks, target=target: abs(ks[1] - target))
        nearest = min(grids, key=lambda k, kimg=kimg: abs(k - kimg))
        if not chosen or chosen[-1]["grid_kimg"] != nearest:
            chosen.append({"minutes": round(seconds / 60, 1), "grid_kimg": nearest})
    images = [np.asarray(Image.open(grids[c["grid_kimg"]]).convert("RGB")) for c in chosen]
    height = min(img.shape[0] for img in images)
    strip = make_grid(np.stack([img[:height, :height] for img in images]), cols=len(images))
    return strip, chosen


def fid_curve(run_dir: Path, data: Path, ticks: list[dict], points: int, num: int, device: str):
    """Offline FID of the snapshots nearest to ``points`` evenly spaced times, plus kimg 0."""
    from stylegan.metrics.runner import compute_metrics

    snapshots = {int(p.name.rsplit("-", 1)[1]): p for p in list_snapshots(run_dir)}
    kimg_seconds = [(t["kimg"], t["seconds"]) for t in ticks if t["seconds"] is not None]
    total = kimg_seconds[-1][1]
    wanted = [0.0] + [total * i / points for i in range(1, points + 1)]
    chosen: dict[int, float] = {}
    for target in wanted:
        kimg, seconds = min(kimg_seconds, key=lambda ks, target=target: abs(ks[1] - target))
        nearest = min(snapshots, key=lambda k, kimg=kimg: abs(k - kimg))
        chosen.setdefault(nearest, 0.0 if target == 0 else seconds)
    name = f"fid_effnet{num // 1000}k_full"  # num generated images, the whole dataset as reals
    curve = []
    for kimg, seconds in sorted(chosen.items()):
        G = load_checkpoint(snapshots[kimg], nets=["G_ema"]).networks["G_ema"]
        (result,) = compute_metrics([name], G, data=data, num=num, device=device, progress=False)
        fid = result.results[name]
        curve.append({"minutes": round(seconds / 60, 1), "kimg": kimg, name: fid})
        print(f"  {seconds / 60:5.1f} min  kimg {kimg:4d}  {name} {fid:8.2f}", flush=True)
    return name, curve


def plot_curve(curve: list[dict], name: str, path: Path) -> None:
    """A small line chart (PIL only): FID against training minutes."""
    from PIL import ImageDraw

    w, h, pad = 480, 300, 48
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    xs = [c["minutes"] for c in curve]
    ys = [c[name] for c in curve]
    x_max, y_max = max(max(xs), 1e-6), max(ys) * 1.05

    def point(x, y):
        return pad + (w - 2 * pad) * x / x_max, h - pad - (h - 2 * pad) * y / y_max

    draw.line([point(0, 0), point(x_max, 0)], fill="black")
    draw.line([point(0, 0), point(0, y_max)], fill="black")
    draw.line([point(x, y) for x, y in zip(xs, ys, strict=True)], fill="blue", width=2)
    for x, y in zip(xs, ys, strict=True):
        px, py = point(x, y)
        draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill="blue")
        draw.text((px + 4, py - 12), f"{y:.0f}", fill="black")
    draw.text((pad, 8), f"{name} vs training minutes (0 = random init)", fill="black")
    draw.text((w - pad - 40, h - pad + 8), f"{x_max:.0f} min", fill="black")
    img.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--cond", action="store_true", help="Condition on the emoji category.")
    parser.add_argument("--outdir", type=Path, default=Path("benchmarks/runs"))
    parser.add_argument("--source", type=Path, default=SHARED, help="The twemoji-64 folder.")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--points", type=int, default=6, help="Grids in the timeline.")
    parser.add_argument("--fid-points", type=int, default=6, help="FID points after kimg 0.")
    parser.add_argument(
        "--fid-num", type=int, default=2000, help="Generated images per FID (multiple of 1000)."
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Override a training option, e.g. --set aug=noaug --set max_size=200 (JSON values).",
    )
    args = parser.parse_args()
    overrides = {}
    for item in args.overrides:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value  # a bare string such as noaug
    if args.fid_num < 1000 or args.fid_num % 1000:
        parser.error("--fid-num must be a multiple of 1000")

    args.outdir.mkdir(parents=True, exist_ok=True)
    name = "twemoji-32-cond.zip" if args.cond else "twemoji-32.zip"
    data = build_dataset(args.source, args.outdir / name, args.cond)
    config = make_config(
        args.preset,
        data=str(data),
        cond=args.cond,
        total_kimg=100000,
        max_minutes=args.minutes,
        image_snapshot_ticks=1,
        snapshot_ticks=1,
        keep_snapshots=100000,
        device=args.device,
        random_seed=args.seed,
        **overrides,
    )
    run_dir = train(config, args.outdir, progress=False)

    ticks = read_ticks(run_dir)
    strip, chosen = timeline(run_dir, ticks, args.points)
    save_image(strip, run_dir / "timeline.png")
    fid_name, curve = fid_curve(run_dir, data, ticks, args.fid_points, args.fid_num, args.device)
    plot_curve(curve, fid_name, run_dir / "fid.png")
    last = ticks[-1]
    report = {
        "preset": args.preset,
        "overrides": overrides,
        "cond": args.cond,
        "minutes": args.minutes,
        "kimg": last["kimg"],
        "images_per_second": last["kimg"] * 1000 / last["seconds"],
        "timeline": chosen,
        "fid_curve": curve,
        "ticks": ticks,
        "run_dir": str(run_dir),
    }
    (run_dir / "learn.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"{report['kimg']:.1f} kimg in {last['seconds'] / 60:.1f} min "
        f"({report['images_per_second']:.1f} img/s); timeline: {run_dir / 'timeline.png'}"
    )


if __name__ == "__main__":
    main()
