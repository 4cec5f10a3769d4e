"""Text edits (StyleCLIP's three methods) on a zoo network: CLIP score, distance, an outside check.

Usage (the run reported in docs/text-editing.md)::

    OMP_NUM_THREADS=1 python benchmarks/text_editing.py --network twemoji-32 \\
        --clip twemoji-clip --seeds 8 --out text-editing.json

For every prompt and method (``optimize``: 300 steps from each seed's w, one optimisation
per strength with the L2 weight 0.008 / strength, ``global``: StyleCLIP's
global direction with alpha 4.1 / beta ``--beta``, from a channel relevance over
``--relevance-images`` images, ``mapper``: a mapper trained ``--mapper-steps`` steps), seeds
``0..--seeds-1`` at psi 0.7 are edited at strengths 0, 1 and 2 (1 = the method's default edit).
Reported per row: the steering CLIP's similarity to the prompt at each strength (mean) and the
fraction of seeds whose similarity rises over 0 < 1 < 2; the pixel distance (mean |difference|,
0..255) and the EfficientNet-Lite0 perceptual distance to the source at 1 and 2; seconds per
edited image (training a mapper or computing the relevance counted apart); and a check that
does not use the steering CLIP: the share of pixels of the prompt's colour for colour prompts,
the attribute probe's probability of the emoji category for category prompts.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import stylegan
from stylegan.clip import load_clip
from stylegan.data.dataset import sample_dataset_path
from stylegan.images import save_image
from stylegan.metrics.attributes import load_attribute_probe, train_attribute_probe
from stylegan.metrics.perceptual import load_perceptual_distance
from stylegan.tools.clip_mapper import train_mapper
from stylegan.tools.directions import stylespace_stats
from stylegan.tools.editing import edit_grid, edit_images
from stylegan.tools.generate import seeds_to_ws
from stylegan.tools.styleclip import (
    channel_relevance,
    edited_images,
    global_direction,
    image_similarity,
    optimized_edit,
    text_direction,
)

# prompt, neutral prompt (global directions), outside check: ("colour", name) or ("probe", class)
PROMPTS = [
    ("red", "emoji", ("colour", "red")),
    ("blue", "emoji", ("colour", "blue")),
    ("green", "emoji", ("colour", "green")),
    ("yellow", "emoji", ("colour", "yellow")),
    ("red heart", "emoji", ("colour", "red")),
    ("flag", "emoji", ("probe", "Flags")),
    ("smiling face", "emoji", ("probe", "Smileys & Emotion")),
    ("animal", "emoji", ("probe", "Animals & Nature")),
    ("food", "emoji", ("probe", "Food & Drink")),
]
STRENGTHS = (0.0, 1.0, 2.0)


def colour_share(images: np.ndarray, colour: str) -> np.ndarray:
    """Share of each image's pixels (uint8 ``[N, H, W, 3]``) clearly of ``colour``."""
    x = images.astype(np.int32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    masks = {
        "red": (r - np.maximum(g, b) > 60),
        "green": (g - np.maximum(r, b) > 40),
        "blue": (b - np.maximum(r, g) > 40),
        "yellow": (np.minimum(r, g) - b > 80),
    }
    return masks[colour].mean(axis=(1, 2))


def _float(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="twemoji-32")
    parser.add_argument("--clip", default="twemoji-clip")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--mapper-steps", type=int, default=1000)
    parser.add_argument("--relevance-images", type=int, default=32)
    parser.add_argument("--beta", type=float, default=0.15)
    parser.add_argument("--methods", default="optimize,global,mapper")
    parser.add_argument("--prompts", type=int, default=len(PROMPTS), help="How many prompts.")
    parser.add_argument("--first", type=int, default=0, help="Index of the first prompt.")
    parser.add_argument("--probe", default=None, help="A trained probe (default: train one).")
    parser.add_argument("--figures", default=None, help="Folder for each row's edit grid.")
    parser.add_argument("--figure-seeds", type=int, default=4)
    parser.add_argument("--out", default=None)
    parser.add_argument("--table", nargs="+", default=None, help="Print reports as Markdown.")
    parser.add_argument(
        "--compose", nargs=2, metavar=("PROMPT", "OUT"), default=None,
        help="Write one figure of --figures' grids for PROMPT: the methods side by side.",
    )  # fmt: skip
    args = parser.parse_args()
    if args.table:
        print_table(args.table)
        return
    if args.compose:
        compose_figure(Path(args.figures), *args.compose, args.methods.split(","))
        return

    torch.manual_seed(0)
    G = stylegan.load(args.network).eval()
    clip = load_clip(args.clip)
    effnet = load_perceptual_distance("effnet")
    probe = (
        load_attribute_probe(args.probe)
        if args.probe
        else train_attribute_probe(sample_dataset_path(), epochs=300, progress=False)
    )
    ws = seeds_to_ws(G, range(args.seeds), truncation_psi=0.7)
    report: dict = {"network": args.network, "clip": args.clip, "seeds": args.seeds, "rows": []}
    methods = args.methods.split(",")

    if "global" in methods:
        t0 = time.perf_counter()
        stats = stylespace_stats(G, 10_000, progress=False)
        relevance = channel_relevance(
            G, clip, num_images=args.relevance_images, stats=stats, progress=False
        )
        report["relevance_seconds"] = time.perf_counter() - t0
        report["relevance_images"] = args.relevance_images

    def outside(images: np.ndarray, check) -> np.ndarray:
        kind, what = check
        if kind == "colour":
            return colour_share(images, what)
        uint8 = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
        return probe.probabilities(uint8)[:, probe.class_index(what)].cpu().numpy()

    for prompt, neutral, check in PROMPTS[args.first : args.first + args.prompts]:
        for method in methods:
            t0, extra = time.perf_counter(), 0.0
            if method == "optimize":
                edit = optimized_edit(
                    G, clip, prompt, ws, STRENGTHS, steps=args.steps, progress=False
                )
                grid = edited_images(G, ws, edit, STRENGTHS)
            elif method == "global":
                delta = text_direction(clip, prompt, neutral)
                try:
                    direction = global_direction(G, relevance, stats[1], delta, beta=args.beta)
                except stylegan.StyleGANError as err:
                    report["rows"].append({"method": method, "prompt": prompt, "error": str(err)})
                    continue
                grid = edit_images(G, ws, direction, 0, STRENGTHS)
            else:
                t1 = time.perf_counter()
                trained = train_mapper(G, clip, prompt, steps=args.mapper_steps, progress=False)
                extra = time.perf_counter() - t1
                grid = edited_images(G, ws, lambda w, s, m=trained.mapper: m.edit(w, s), STRENGTHS)
            seconds = (time.perf_counter() - t0 - extra) / (len(ws) * (len(STRENGTHS) - 1))
            rows, cols = grid.shape[:2]
            flat = grid.reshape(rows * cols, *grid.shape[2:])
            sims = image_similarity(clip, flat, prompt)
            with torch.no_grad():
                source = _float(np.repeat(grid[:, :1], cols, axis=1).reshape(flat.shape))
                percep = effnet(_float(flat), source).numpy().reshape(rows, cols)
            sims = sims.reshape(rows, cols)
            pixel = np.abs(grid.astype(float) - grid[:, :1].astype(float)).mean(axis=(2, 3, 4))
            check_values = outside(flat, check).reshape(rows, cols)
            row = {
                "method": method,
                "prompt": prompt,
                "clip": sims.mean(0).round(4).tolist(),
                "clip_rising_fraction": float((np.diff(sims, axis=1) > 0).all(axis=1).mean()),
                "pixel_distance": pixel.mean(0)[1:].round(2).tolist(),
                "perceptual_distance": percep.mean(0)[1:].round(4).tolist(),
                "check": f"{check[0]}:{check[1]}",
                "check_values": check_values.mean(0).round(4).tolist(),
                "check_rising_fraction": float((check_values[:, 2] > check_values[:, 0]).mean()),
                "seconds_per_edit": round(seconds, 4),
            }
            if method == "mapper":
                row["mapper_training_seconds"] = round(extra, 1)
            if method == "global":
                row["channels"] = direction.info["channels"]
            report["rows"].append(row)
            print(json.dumps(row), flush=True)
            if args.figures:
                name = f"{method}-{prompt.replace(' ', '-')}.png"
                save_image(edit_grid(grid[: args.figure_seeds]), Path(args.figures) / name)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


def compose_figure(figures: Path, prompt: str, out: str, methods: list[str]) -> None:
    """The methods' grids for one prompt side by side, 3x enlarged, 8 px white between."""
    from PIL import Image

    grids = [
        np.asarray(Image.open(figures / f"{m}-{prompt.replace(' ', '-')}.png")) for m in methods
    ]
    gap = np.full((grids[0].shape[0], 8, 3), 255, np.uint8)
    parts = [p for g in grids for p in (g, gap)][:-1]
    image = Image.fromarray(np.concatenate(parts, axis=1))
    image.resize((image.width * 3, image.height * 3), Image.NEAREST).save(out)


def print_table(paths: list[str]) -> None:
    """The docs table: one line per method and prompt, from one or more ``--out`` reports."""
    print("| method | prompt | CLIP 0 / 1 / 2 | rising | pixel 1 / 2 | perceptual 1 / 2 | "
          "outside check 0 / 1 / 2 | check up | s / edit |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        for row in json.loads(Path(path).read_text())["rows"]:
            if "error" in row:
                print(f"| {row['method']} | {row['prompt']} | {row['error']} |||||||")
                continue
            fmt = lambda v, d=3: " / ".join(f"{x:.{d}f}" for x in v)  # noqa: E731
            print(
                f"| {row['method']} | {row['prompt']} | {fmt(row['clip'])} | "
                f"{row['clip_rising_fraction']:.0%} | {fmt(row['pixel_distance'], 1)} | "
                f"{fmt(row['perceptual_distance'])} | {row['check']}: {fmt(row['check_values'])} "
                f"| {row['check_rising_fraction']:.0%} | {row['seconds_per_edit']:.3f} |"
            )


if __name__ == "__main__":
    main()
