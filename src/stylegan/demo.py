"""The one-command demo: what a trained network does, then a network of your own.

``stylegan demo`` (and ``make demo``) first shows our bundled ``twemoji-32`` network (samples,
style mixing and a SeFa edit, in seconds, offline: :func:`show_zoo`), then trains the ``small``
preset on the bundled 32 px Twemoji sample for a few minutes and writes a grid of samples, the
style-mixing figure, the stochastic-variation figure and an interpolation video from the final
``G_ema`` (:func:`run_demo`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stylegan.images import save_image
from stylegan.io.formats import load_network
from stylegan.tools.directions import sefa
from stylegan.tools.editing import edit_images, save_edit
from stylegan.tools.generate import generate_images, save_images, seeds_to_ws
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


@dataclass
class ZooOutputs:
    """What :func:`show_zoo` wrote."""

    network: str
    samples: Path
    mixing: Path
    edit: Path


ZOO_EDIT_STRENGTHS = (-6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0)


def show_zoo(
    outdir: str | Path = "stylegan-demo", network: str = "twemoji-32", device: str = "cpu"
) -> ZooOutputs:
    """Samples, style mixing and an edit along SeFa's first direction from a trained network.

    Takes seconds on a CPU: nothing is trained, and SeFa reads its directions off the weights.
    """
    figures = Path(outdir).expanduser() / "zoo" / network
    G = load_network(network, device=device)
    seeds = list(range(64))
    images = generate_images(G, seeds, truncation_psi=0.7, batch_size=16)
    save_images(images, seeds, figures / "samples", grid=True)
    rows, cols = [1, 2, 3, 4], [10, 11, 12, 13, 14, 15]
    mixed = style_mixing_images(G, rows, cols, styles="coarse", truncation_psi=0.7)
    mixing = save_mixing(*mixed, rows, cols, figures)[0]
    directions = sefa(G, "all", num=1)
    ws = seeds_to_ws(G, [0, 1, 2, 3, 4, 5], truncation_psi=0.7)
    edited = edit_images(G, ws, directions, 0, ZOO_EDIT_STRENGTHS)
    edit = save_edit(edited, ZOO_EDIT_STRENGTHS, figures / "edit-sefa0")[0]
    return ZooOutputs(network, figures / "samples" / "grid.png", mixing, edit)


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
