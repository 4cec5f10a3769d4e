"""The one-command demo: train briefly on the bundled emoji sample, then show what the model does.

``stylegan demo`` (and ``make demo``) trains the ``small`` preset on the bundled 32 px Twemoji
sample for a few minutes, then writes a grid of samples, the style-mixing figure, the
stochastic-variation figure and an interpolation video from the final ``G_ema``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stylegan.images import save_image
from stylegan.io.checkpoint import load_network
from stylegan.tools.generate import generate_images, save_images
from stylegan.tools.mixing import save_mixing, style_mixing_images
from stylegan.tools.noise import noise_variation_figure
from stylegan.tools.video import save_interpolation_video
from stylegan.training import find_latest_snapshot, make_config, train


@dataclass
class DemoOutputs:
    """Where the demo put its results."""

    run_dir: Path
    snapshot: Path
    samples: Path
    mixing: Path
    noise: Path
    video: Path


def run_demo(
    outdir: str | Path = "stylegan-demo",
    minutes: float = 5.0,
    device: str = "auto",
    seed: int = 0,
    progress: bool = True,
    preset: str = "small",
) -> DemoOutputs:
    """Train ``preset`` on the bundled sample for ``minutes``, then write the figures and video."""
    outdir = Path(outdir).expanduser()
    config = make_config(
        preset, total_kimg=100000, max_minutes=minutes, device=device, random_seed=seed
    )
    run_dir = train(config, outdir / "training-runs", progress=progress)
    snapshot = find_latest_snapshot(run_dir)
    G = load_network(snapshot, "G_ema")

    figures = outdir / "figures"
    images = generate_images(G, list(range(64)), truncation_psi=0.7, batch_size=16)
    save_images(images, list(range(64)), figures / "samples", grid=True)
    rows, cols = [1, 2, 3, 4], [10, 11, 12, 13, 14, 15]
    mixed = style_mixing_images(G, rows, cols, styles="coarse", truncation_psi=0.7)
    mixing = save_mixing(*mixed, rows, cols, figures)[0]
    noise = save_image(
        noise_variation_figure(G, [0, 1, 2, 3], num_samples=4, truncation_psi=0.7),
        figures / "noise.png",
    )
    video = save_interpolation_video(
        G,
        figures / "interpolation.mp4",
        seeds=list(range(16)),
        grid=(2, 2),
        frames_per_key=24,
        kind="cubic",
        space="w",
        truncation_psi=0.7,
        progress=progress,
    )
    return DemoOutputs(
        run_dir=run_dir,
        snapshot=snapshot,
        samples=figures / "samples" / "grid.png",
        mixing=mixing,
        noise=noise,
        video=video,
    )
