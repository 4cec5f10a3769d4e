"""Images and figures from seeds: ``generate``, ``mix``, ``noise``, ``truncation``."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan.cli import options
from stylegan.cli.options import (
    FiniteFloat,
    FiniteNumbers,
    generator_options,
    load_for_rendering,
)


def _vec2(spec: str) -> tuple[float, float]:
    from stylegan.tools.motion import parse_vec2

    return parse_vec2(spec)


@click.command("generate")
@generator_options
@options.seeds(required=False, default=None, help="Seeds and ranges, e.g. 0-63,100.")
@options.projected_w(
    help="Render the ws of a projected_w.npz (from `stylegan project`) instead of seeds."
)
@options.noise_mode()
@options.outdir()
@click.option("--grid", is_flag=True, help="Also write all images tiled as grid.png.")
@options.shown(
    "--translate",
    type=FiniteNumbers(_vec2, "X,Y"),
    default="0,0",
    help="Move the image by X,Y image widths (StyleGAN3 input transform, as gen_images.py; "
    "StyleGAN2: its constant input resampled).",
)
@options.shown("--rotate", type=FiniteFloat(), default=0.0, metavar="DEG", help="Rotate by DEG.")
@options.yes()
def generate_command(
    seeds, projected_w, noise_mode, outdir, grid, translate, rotate, yes, **generator
):
    """Generate one image per seed (seed0000.png, ...), with the official seed protocol; or,
    with --projected-w, one per w of the file (proj00.png, ..., as NVIDIA's generate.py).

    Images are written batch by batch, so any number of seeds runs in flat memory and an
    interruption keeps what was written; more than 10,000 images asks first (--yes skips it).
    """
    import contextlib

    from stylegan.errors import StyleGANError
    from stylegan.latents import parse_seeds
    from stylegan.tools.generate import write_images
    from stylegan.tools.motion import set_user_transform

    if (seeds is None) == (projected_w is None):
        raise StyleGANError("give either --seeds or --projected-w (one of them, not both)")
    if projected_w is not None:
        _render_projected_w(projected_w, noise_mode, outdir, translate, rotate, generator)
        return
    seed_list = parse_seeds(seeds)
    options.confirm_large_count(len(seed_list), f"images into {outdir}", yes)
    G, render = load_for_rendering(**generator)
    moved = tuple(translate) != (0.0, 0.0) or rotate != 0
    with set_user_transform(G, translate, rotate) if moved else contextlib.nullcontext():
        written, grid_path = write_images(
            G, seed_list, outdir, noise_mode=noise_mode, grid=grid, **render
        )
    click.echo(f"wrote {written} images to {outdir}")
    if grid_path is not None:
        click.echo(f"grid: {grid_path}")


def _render_projected_w(path, noise_mode, outdir, translate, rotate, generator) -> None:
    """``proj00.png``, ... from the ws of ``path`` (truncation and class do not apply to ws)."""
    import contextlib

    from stylegan.images import save_image
    from stylegan.tools.generate import synthesize
    from stylegan.tools.motion import set_user_transform
    from stylegan.tools.projection import load_projected_w

    G, render = load_for_rendering(**generator)
    ws = load_projected_w(path, G).to(render["device"])
    moved = tuple(translate) != (0.0, 0.0) or rotate != 0
    with set_user_transform(G, translate, rotate) if moved else contextlib.nullcontext():
        images = synthesize(G, ws, noise_mode=noise_mode, batch_size=render["batch_size"])
    for i, image in enumerate(images):
        save_image(image, Path(outdir) / f"proj{i:02d}.png")
    click.echo(f"wrote {len(images)} images to {outdir}")


@click.command("mix")
@generator_options
@options.required("--rows", "row_seeds", help="Seeds of the rows (they give the base w).")
@options.required("--cols", "col_seeds", help="Seeds of the columns (styles copied in).")
@options.shown(
    "--styles",
    default="coarse",
    help="Layers taken from the column seed: coarse, middle, fine, or e.g. 0-6.",
)
@options.noise_mode()
@options.outdir()
@options.save_cells(help="Also write every image as ROW-COL.png.")
def mix_command(row_seeds, col_seeds, styles, noise_mode, outdir, save_cells, **generator):
    """Style-mixing figure (mixing.png): row seeds mixed with column seeds' styles."""
    from stylegan.latents import parse_seeds
    from stylegan.tools.mixing import parse_styles, save_mixing, style_mixing_images

    row_list, col_list = parse_seeds(row_seeds), parse_seeds(col_seeds)
    G, render = load_for_rendering(**generator)
    layers = parse_styles(styles, G.num_ws)
    rows, cols, cells = style_mixing_images(
        G, row_list, col_list, layers, noise_mode=noise_mode, **render
    )
    paths = save_mixing(rows, cols, cells, row_list, col_list, outdir, save_cells=save_cells)
    click.echo(f"style layers {','.join(map(str, layers))} of {G.num_ws} taken from the columns")
    click.echo(f"wrote {paths[0]}" + (f" and {len(paths) - 1} images" if save_cells else ""))


@click.command("noise")
@generator_options
@options.seeds(help="One figure row per seed, e.g. 0-3.")
@options.counted("--samples", "num_samples", default=4, help="Noise draws shown per seed.")
@options.counted(
    "--std-samples",
    "num_std",
    minimum=2,
    default=100,
    help="Noise draws behind the standard-deviation image.",
)
@options.shown(
    "--noise-seed",
    type=int,
    default=0,
    help="Seed of the noise draws (the figure is reproducible).",
)
@options.outdir()
def noise_command(seeds, num_samples, num_std, noise_seed, outdir, **generator):
    """Stochastic-variation figure (noise.png): fixed w, redrawn noise, per-pixel std."""
    from stylegan.images import save_image
    from stylegan.latents import parse_seeds
    from stylegan.tools.noise import noise_variation_figure

    seed_list = parse_seeds(seeds)
    G, render = load_for_rendering(**generator)
    figure = noise_variation_figure(
        G, seed_list, num_samples=num_samples, num_std=num_std, seed=noise_seed, **render
    )
    click.echo(f"wrote {save_image(figure, Path(outdir) / 'noise.png')}")


@click.command("truncation")
@options.network()
@options.seeds(required=False, default="0-3", show_default=True, help="One row per seed, e.g. 0-3.")
@options.sweep(
    "--psi",
    "psis",
    what="psi",
    default="-1:1:9",
    help="Columns: START:STOP:COUNT (evenly spaced) or a list such as 1,0.7,0.5,0,-0.5,-1.",
)
@options.truncation_cutoff(
    help="Truncate only the first K layers (default: the network's own; 8 for StyleGAN (v1), "
    "all for StyleGAN2/3)."
)
@options.class_idx()
@options.noise_mode()
@options.batch()
@options.device()
@options.outdir()
@click.option("--save-cells", is_flag=True, help="Also write every image on its own.")
def truncation_command(
    network, seeds, psis, truncation_cutoff, class_idx, noise_mode, batch_size, device, outdir,
    save_cells,
):  # fmt: skip
    """The truncation-trick figure (truncation.png): seeds in rows, psi in columns.

    \b
    stylegan truncation --network NET --seeds 0-3 --psi=-1:1:9 --outdir out
    """
    from stylegan.tools.truncation import save_truncation, truncation_images

    # psi varies over the columns; only the cutoff falls back to the network's own.
    G, render = load_for_rendering(network, device, None, truncation_cutoff, class_idx, batch_size)
    del render["truncation_psi"]
    images = truncation_images(G, seeds, psis, noise_mode=noise_mode, **render)
    paths = save_truncation(images, seeds, psis, outdir, save_cells=save_cells)
    click.echo(f"wrote {paths[0]}" + (f" and {len(paths) - 1} images" if save_cells else ""))


COMMANDS = [generate_command, mix_command, noise_command, truncation_command]
