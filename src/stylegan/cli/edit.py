"""``stylegan edit``: move seeds or projected images along a latent direction."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan.cli import options
from stylegan.cli.options import generator_options, load_for_rendering


def split_direction_spec(spec: str) -> tuple[Path, str]:
    """``FILE[:K]`` -> ``(FILE, K)``, K an index or a name (default 0); a FILE that exists as
    given wins, so paths with colons still work."""
    if Path(spec).is_file() or ":" not in spec:
        return Path(spec), "0"
    path, key = spec.rsplit(":", 1)
    return Path(path), key or "0"


@click.command("edit")
@generator_options
@options.seeds(required=False, default=None, help="Seeds of the rows, e.g. 0-3.")
@options.projected_w()
@click.option(
    "--direction",
    required=True,
    metavar="FILE[:K]",
    help="Direction file (ours, InterFaceGAN .npy, GANSpace .npz) and the direction in it: an "
    "index or a name (default 0).",
)
@options.sweep(
    "--strength",
    "strengths",
    what="strength",
    default="-3:3:7",
    help="Columns: START:STOP:COUNT (evenly spaced, both ends included) or a list like -2,0,2.",
)
@options.layers(
    help="ws layers moved: all, coarse, middle, fine, 2-5 or 0,1,4 (default: the file's own)."
)
@options.choice(
    "--mode",
    choices=("shift", "project"),
    default="shift",
    help="shift adds strength x direction; project is InterFaceGAN's x + (d - x.n) n "
    "(strength = distance from the boundary).",
)
@options.noise_mode()
@options.outdir()
@options.save_cells()
@click.option("--video/--no-video", default=False, show_default=True, help="Also write edit.mp4.")
@options.counted("--frames", "num_frames", default=60, help="--video: frames in the sweep.")
@options.fps()
def edit_command(
    seeds, projected_w, direction, strengths, layers, mode, noise_mode, outdir, save_cells, video,
    num_frames, fps, **generator,
):  # fmt: skip
    """Edit grid (edit.png): rows of seeds or projected ws, columns of strengths.

    \b
    stylegan edit --network NET --seeds 0-3 --direction sefa.npz:0 --strength=-3:3:7 --outdir out
    """
    from stylegan.errors import StyleGANError
    from stylegan.latents import class_labels, parse_seeds, z_from_seeds
    from stylegan.tools.direction_set import load_directions
    from stylegan.tools.editing import (
        edit_images,
        edit_video_frames,
        save_edit,
    )
    from stylegan.tools.generate import seeds_to_ws
    from stylegan.tools.projection import load_projected_w
    from stylegan.tools.video import write_video

    if (seeds is None) == (projected_w is None):
        raise StyleGANError("give exactly one of --seeds and --projected-w (the rows to edit)")
    path, key = split_direction_spec(direction)
    directions = load_directions(path)
    directions.index(key)  # a bad index or name fails before the network loads
    G, render = load_for_rendering(**generator)
    directions.check_network(G)
    device, psi, cutoff = render["device"], render["truncation_psi"], render["truncation_cutoff"]
    if projected_w is not None:
        if directions.space == "z":
            raise StyleGANError(
                "this is a z-space direction, but projected ws have no z: use --seeds, or a w "
                "or s direction"
            )
        latents, names = load_projected_w(projected_w, G), None
        click.echo(f"editing {len(latents)} projected w(s) from {projected_w}")
    else:
        seed_list = parse_seeds(seeds)
        names = [f"seed{s:04d}" for s in seed_list]
        if directions.space == "z":
            latents = z_from_seeds(seed_list, G.z_dim, device=device)
        else:
            latents = seeds_to_ws(G, seed_list, psi, cutoff, generator["class_idx"], device=device)
    c = None
    if directions.space == "z":
        c = class_labels(generator["class_idx"], G.c_dim, len(latents), device=device)
    edit = dict(
        layers=layers, mode=mode, noise_mode=noise_mode, batch_size=render["batch_size"],
        truncation_psi=psi, truncation_cutoff=cutoff, c=c, device=device,
    )  # fmt: skip
    images = edit_images(G, latents, directions, key, strengths, **edit)
    paths = save_edit(images, strengths, outdir, names, save_cells=save_cells)
    name = directions.names[directions.index(key)]
    click.echo(
        f"direction {name} ({directions.method}, space {directions.space}), strengths "
        f"{', '.join(f'{s:g}' for s in strengths)}"
    )
    click.echo(f"wrote {paths[0]}" + (f" and {len(paths) - 1} images" if save_cells else ""))
    if video:
        frames = edit_video_frames(G, latents, directions, key, strengths, num_frames, **edit)
        click.echo(f"wrote {write_video(frames, Path(outdir) / 'edit.mp4', fps=fps)}")


COMMANDS = [edit_command]
