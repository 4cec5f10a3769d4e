"""The ``stylegan`` command: a thin click layer over the Python API.

Each subcommand parses flags, calls one library function and prints where the results are.
User mistakes (:class:`StyleGANError`) print as one line and exit 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from stylegan.errors import StyleGANError


class _Group(click.Group):
    """Click group that turns :class:`StyleGANError` into a one-line message and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except StyleGANError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stylegan")
def cli() -> None:
    """StyleGAN family toolkit: prepare data, train, generate, mix styles, make videos."""


# ---- section: dataset ---------------------------------------------------------------------------


@cli.command("dataset")
@click.option(
    "--source",
    required=True,
    metavar="PATH",
    help="Folder (searched recursively) or .zip of images.",
)
@click.option(
    "--dest", required=True, metavar="PATH", help="Output: a .zip (recommended) or a folder."
)
@click.option(
    "--resolution",
    required=True,
    metavar="N|WxH",
    help="Output size, a power of two (e.g. 256); WxH only with center-crop-wide.",
)
@click.option(
    "--transform",
    type=click.Choice(["center-crop", "center-crop-wide", "pad"]),
    help="How to make non-square images square.",
)
@click.option(
    "--resize-filter",
    type=click.Choice(["box", "lanczos"]),
    default="lanczos",
    show_default=True,
    help="Resampling filter (box matches the papers' FFHQ-256).",
)
@click.option(
    "--labels",
    metavar="CSV|folders",
    help="Class labels: a CSV of file,label rows or 'folders' (sub-folder = class).",
)
@click.option(
    "--background",
    default="#ffffff",
    show_default=True,
    help="Colour behind transparency and for --transform pad.",
)
@click.option(
    "--png-compression",
    type=click.IntRange(0, 9),
    default=0,
    show_default=True,
    help="PNG zlib level (0 decodes fastest, 9 is smallest).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing destination.")
def dataset_command(
    source,
    dest,
    resolution,
    transform,
    resize_filter,
    labels,
    background,
    png_compression,
    overwrite,
):
    """Convert a folder or zip of images into a training dataset (NVIDIA's layout).

    Output images are RGB PNGs of one square size; labels go to dataset.json.
    Unreadable files are skipped and listed.
    """
    from stylegan.data.dataset_tool import convert_dataset

    report = convert_dataset(
        source,
        dest,
        resolution,
        transform=transform,
        resize_filter=resize_filter,
        labels=labels,
        background=background,
        overwrite=overwrite,
        png_compression=png_compression,
    )
    click.echo(report.summary())


# ---- section: train -----------------------------------------------------------------------------

# Flag name (click's) -> TrainingConfig field. Flags follow NVIDIA's train.py where they overlap.
_TRAIN_FLAGS = {
    "data": "data",
    "cfg": "preset",
    "kimg": "total_kimg",
    "minutes": "max_minutes",
    "tick": "kimg_per_tick",
    "snap": "snapshot_ticks",
    "img_snap": "image_snapshot_ticks",
    "batch": "batch_size",
    "gamma": "r1_gamma",
    "mirror": "mirror",
    "cond": "cond",
    "subset": "max_size",
    "seed": "random_seed",
    "device": "device",
    "glr": "g_lr",
    "dlr": "d_lr",
    "map_depth": "map_depth",
    "cbase": "channel_base",
    "cmax": "channel_max",
    "mbstd_group": "mbstd_group_size",
    "ema_kimg": "ema_kimg",
    "keep": "keep_snapshots",
    "workers": "num_workers",
    "metrics": "metrics",
    "metrics_every": "metrics_ticks",
    "loss": "loss",
    "aug": "aug",
    "augpipe": "augpipe",
    "target": "ada_target",
    "p": "augment_p",
    "diffaugment": "diffaugment",
    "freezed": "freezed",
    "batch_gpu": "batch_gpu",
    "lod_initial": "lod_initial_resolution",
    "lod_training_kimg": "lod_training_kimg",
    "lod_transition_kimg": "lod_transition_kimg",
    "precision": "precision",
    "fp32": "precision",  # --fp32 also turns off fp16 blocks and clamping (see train_command)
}


def _bool_flag(name: str, help: str):
    """``--mirror`` alone, or ``--mirror=1`` / ``--mirror=false`` as NVIDIA writes it."""
    return click.option(
        name, type=bool, default=False, is_flag=False, flag_value=True, metavar="BOOL", help=help
    )


@cli.command("train")
@click.option(
    "--outdir",
    default="training-runs",
    show_default=True,
    metavar="DIR",
    help="Where run folders go (or a run folder, with --resume latest).",
)
@click.option("--data", metavar="ZIP|DIR", help="Training images. Default: the bundled emoji.")
@click.option(
    "--cfg",
    type=click.Choice(
        ["auto", "stylegan2", "paper256", "paper512", "paper1024", "cifar"]
        + ["stylegan3-t", "stylegan3-r", "stylegan1", "stylegan1-small", "tiny", "small"]
    ),
    help="Preset. Default: auto on a GPU, small on a CPU.",
)
@click.option(
    "--kimg",
    type=click.FloatRange(min=0, min_open=True),
    metavar="KIMG",
    help="Training length in thousands of real images.",
)
@click.option(
    "--minutes",
    type=click.FloatRange(min=0, min_open=True),
    metavar="MIN",
    help="Also stop after this many minutes (a resumable snapshot is written).",
)
@click.option(
    "--tick",
    type=click.FloatRange(min=0, min_open=True),
    metavar="KIMG",
    help="Log a progress line every KIMG.",
)
@click.option(
    "--snap",
    type=click.IntRange(min=1),
    metavar="TICKS",
    help="Network snapshot (and sample grid) every TICKS ticks.",
)
@click.option(
    "--img-snap",
    type=click.IntRange(min=1),
    metavar="TICKS",
    help="Sample grid every TICKS ticks. Default: with --snap.",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    metavar="INT",
    help="Total batch size (at every resolution, for stylegan1's growing too).",
)
@click.option("--gamma", type=click.FloatRange(min=0), metavar="FLOAT", help="R1 weight.")
@_bool_flag("--mirror", "Add x-flipped copies of the images.")
@_bool_flag("--cond", "Train on the dataset's class labels.")
@click.option(
    "--resume",
    metavar="latest|PATH",
    help="Continue a run: 'latest' (in --outdir), a run folder or a snapshot.",
)
@click.option(
    "--subset",
    type=click.IntRange(min=1),
    metavar="INT",
    help="Train on a random subset of INT images.",
)
@click.option("--seed", type=click.IntRange(min=0), metavar="INT", help="Random seed.")
@click.option(
    "--device",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "cpu", "cuda", "mps"]),
    help="Where to train.",
)
@click.option("--glr", type=click.FloatRange(min=0), metavar="FLOAT", help="G learning rate.")
@click.option("--dlr", type=click.FloatRange(min=0), metavar="FLOAT", help="D learning rate.")
@click.option(
    "--map-depth",
    "--map",
    "map_depth",
    type=click.IntRange(min=1),
    metavar="INT",
    help="Mapping network depth.",
)
@click.option("--cbase", type=click.IntRange(min=1), metavar="INT", help="Capacity multiplier.")
@click.option("--cmax", type=click.IntRange(min=1), metavar="INT", help="Max. feature maps.")
@click.option(
    "--mbstd-group", type=click.IntRange(min=1), metavar="INT", help="Minibatch-std group size."
)
@click.option("--ema-kimg", type=click.FloatRange(min=0), metavar="KIMG", help="G_ema half-life.")
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    metavar="N",
    help="Network snapshots to keep (the newest always stays).",
)
@click.option(
    "--workers", type=click.IntRange(min=0), metavar="INT", help="DataLoader worker processes."
)
@click.option(
    "--metrics",
    default="none",
    show_default=True,
    metavar="LIST",
    help="Metrics during training, e.g. fid50k_full, or fid_effnet5k offline (none = off).",
)
@click.option(
    "--metrics-every",
    type=click.IntRange(min=1),
    metavar="TICKS",
    help="Compute the metrics every N ticks (default: with each network snapshot).",
)
@click.option(
    "--aug",
    type=click.Choice(["noaug", "ada", "fixed", "diffaugment"]),
    help="Augment what D sees: adaptively (ADA, default for StyleGAN2/3), at a fixed --p, with "
    "DiffAugment, or not at all.",
)
@click.option(
    "--augpipe",
    type=click.Choice(
        ["blit", "geom", "color", "filter", "noise", "cutout"]
        + ["bg", "bgc", "bgcf", "bgcfn", "bgcfnc"]
    ),
    help="ADA augmentations (default bgc).",
)
@click.option(
    "--target",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    metavar="FLOAT",
    help="ADA target for E[sign(D(real))] (default 0.6).",
)
@click.option(
    "--p",
    type=click.FloatRange(0, 1),
    metavar="FLOAT",
    help="Augmentation probability: fixed with --aug=fixed, the starting value with ada.",
)
@click.option(
    "--diffaugment", metavar="POLICY", help="DiffAugment policy (default color,translation,cutout)."
)
@click.option(
    "--batch-gpu",
    type=click.IntRange(min=1),
    metavar="INT",
    help="Images per forward pass and process; smaller than batch / processes accumulates "
    "gradients over several passes (default: batch / processes).",
)
@click.option(
    "--freezed",
    type=click.IntRange(min=0),
    metavar="INT",
    help="Freeze-D: keep the first INT discriminator layers fixed (transfer learning).",
)
@click.option(
    "--loss",
    type=click.Choice(["logistic", "wgan-gp"]),
    help="Non-saturating logistic loss with R1 (default), or WGAN-GP (StyleGAN 1 / ProGAN).",
)
@click.option(
    "--lod-initial",
    type=click.IntRange(min=4),
    metavar="RES",
    help="Progressive growing (stylegan1): start at this resolution.",
)
@click.option(
    "--lod-training-kimg",
    type=click.FloatRange(min=0),
    metavar="KIMG",
    help="Progressive growing: kimg at each resolution once faded in.",
)
@click.option(
    "--lod-transition-kimg",
    type=click.FloatRange(min=0),
    metavar="KIMG",
    help="Progressive growing: kimg to fade in each new resolution.",
)
@click.option(
    "--precision",
    type=click.Choice(["fp16", "bf16", "fp32"]),
    help="Mixed precision of the highest-resolution blocks on CUDA (default fp16; CPU: fp32).",
)
@_bool_flag("--fp32", "Train in fp32 everywhere: no fp16 blocks, no activation clamping.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.option("-n", "--dry-run", is_flag=True, help="Print the training options and exit.")
@click.pass_context
def train_command(ctx, outdir, resume, progress, dry_run, **flags):
    """Train StyleGAN2 (NVIDIA's stylegan2 config and ADA presets, or CPU-sized tiny/small),
    StyleGAN3 (stylegan3-t/-r) or the original StyleGAN with progressive growing (stylegan1).

    \b
    stylegan train --kimg 20                      # bundled emoji, small preset on a CPU
    stylegan train --data ffhq-256.zip --cfg paper256 --mirror=1
    stylegan train --data ffhq-1024.zip --cfg stylegan1 --mirror=1
    stylegan train --outdir training-runs --resume latest

    Ctrl-C finishes the step, writes a resumable snapshot and exits.
    """
    import json as _json

    from click.core import ParameterSource

    from stylegan.devices import resolve_device
    from stylegan.training import make_config, train
    from stylegan.training.loop import dataset_resolution, saved_config

    metrics = [m for m in flags["metrics"].split(",") if m and m != "none"]
    flags["metrics"] = tuple(metrics)
    fp32 = flags.pop("fp32")
    given = {
        _TRAIN_FLAGS[name]: value
        for name, value in flags.items()
        if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
    }
    if fp32:  # as NVIDIA's --fp32: no fp16 blocks and no clamping in new networks
        given.update(precision="fp32", num_fp16_res=0, conv_clamp=None)
    # An explicit batch or learning rate holds at every resolution of a growing run.
    if "batch_size" in given:
        given["batch_per_resolution"] = None
    if "g_lr" in given or "d_lr" in given:
        given["lr_per_resolution"] = None
    previous = saved_config(resume, outdir) if resume else None
    if previous is not None and "preset" not in given:
        config = previous.replace(**given)  # a resumed run keeps its options unless overridden
    else:
        preset = given.pop("preset", None)
        if preset is None:
            on_gpu = resolve_device(flags["device"]).type == "cuda"
            preset = "auto" if on_gpu else "small"
        by_resolution = preset == "auto" or preset.startswith("stylegan3")
        resolution = dataset_resolution(given.get("data")) if by_resolution else None
        config = make_config(preset, resolution=resolution, **given)
    if dry_run:
        click.echo(_json.dumps(config.to_dict(), indent=2))
        return
    run_dir = train(config, outdir=outdir, resume=resume, progress=progress)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, rank 0 speaks for the run
        click.echo(f"run folder: {run_dir}")


# ---- section: tools (generate, mix, noise, video) -----------------------------------------------


def _generator_options(func):
    """Flags every generation command shares: the network, where to run, truncation, class."""
    options = [
        click.option(
            "--network",
            required=True,
            metavar="PATH",
            help="Checkpoint (ours, NVIDIA .pkl, rosinality .pt, or a URL); its G_ema is used.",
        ),
        click.option(
            "--trunc",
            "truncation_psi",
            type=float,
            default=None,
            help="Truncation psi: 1 = none, 0 = the average image. Default: the network's own "
            "(none for StyleGAN2/3; 0.7 on the first 8 layers for StyleGAN (v1), as the original).",
        ),
        click.option(
            "--trunc-cutoff",
            "truncation_cutoff",
            type=click.IntRange(min=0),
            default=None,
            help="Truncate only the first K style layers (default: all, or the network's own).",
        ),
        click.option(
            "--class",
            "class_idx",
            type=int,
            default=None,
            help="Class index, for conditional networks only.",
        ),
        click.option(
            "--batch",
            "batch_size",
            type=click.IntRange(min=1),
            default=8,
            show_default=True,
            help="Images rendered per forward pass.",
        ),
        click.option(
            "--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


_noise_mode_option = click.option(
    "--noise-mode",
    type=click.Choice(["const", "random", "none"]),
    default="const",
    show_default=True,
    help="Per-layer noise: the stored constant, fresh random, or off.",
)


def resolve_truncation(G, psi: float | None, cutoff: int | None) -> tuple[float, int | None]:
    """The truncation to use: what the user gave, else the network's default (see
    :func:`stylegan.tools.generate.resolve_truncation`)."""
    from stylegan.tools.generate import resolve_truncation as resolve

    return resolve(G, psi, cutoff)


def _load_generator(network: str, device: str):
    """Resolve the device and load the checkpoint's G_ema onto it."""
    import stylegan
    from stylegan.devices import resolve_device

    resolved = resolve_device(device)
    return stylegan.load(network, device=resolved), resolved


@cli.command("generate")
@_generator_options
@click.option("--seeds", required=True, help="Seeds and ranges, e.g. 0-63,100.")
@_noise_mode_option
@click.option("--outdir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--grid", is_flag=True, help="Also write all images tiled as grid.png.")
@click.option(
    "--translate",
    default="0,0",
    show_default=True,
    metavar="X,Y",
    help="Move the image by X,Y image widths (StyleGAN3 input transform, as gen_images.py; "
    "StyleGAN2: its constant input resampled).",
)
@click.option(
    "--rotate", type=float, default=0.0, show_default=True, metavar="DEG", help="Rotate by DEG."
)
def generate_command(
    network,
    truncation_psi,
    truncation_cutoff,
    class_idx,
    batch_size,
    device,
    seeds,
    noise_mode,
    outdir,
    grid,
    translate,
    rotate,
):
    """Generate one image per seed (seed0000.png, ...), with the official seed protocol."""
    import contextlib

    from stylegan.latents import parse_seeds
    from stylegan.tools.generate import generate_images, save_images
    from stylegan.tools.motion import parse_vec2, set_user_transform

    seed_list = parse_seeds(seeds)
    translate_xy = parse_vec2(translate)
    G, resolved = _load_generator(network, device)
    truncation_psi, truncation_cutoff = resolve_truncation(G, truncation_psi, truncation_cutoff)
    moved = translate_xy != (0.0, 0.0) or rotate != 0
    with set_user_transform(G, translate_xy, rotate) if moved else contextlib.nullcontext():
        images = generate_images(
            G,
            seed_list,
            truncation_psi=truncation_psi,
            truncation_cutoff=truncation_cutoff,
            class_idx=class_idx,
            noise_mode=noise_mode,
            batch_size=batch_size,
            device=resolved,
            progress=True,
        )
    paths = save_images(images, seed_list, outdir, grid=grid)
    click.echo(f"wrote {len(seed_list)} images to {outdir}")
    if grid:
        click.echo(f"grid: {paths[-1]}")


@cli.command("mix")
@_generator_options
@click.option(
    "--rows", "row_seeds", required=True, help="Seeds of the rows (they give the base w)."
)
@click.option("--cols", "col_seeds", required=True, help="Seeds of the columns (styles copied in).")
@click.option(
    "--styles",
    default="coarse",
    show_default=True,
    help="Layers taken from the column seed: coarse, middle, fine, or e.g. 0-6.",
)
@_noise_mode_option
@click.option("--outdir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--cells", "save_cells", is_flag=True, help="Also write every image as ROW-COL.png.")
def mix_command(
    network,
    truncation_psi,
    truncation_cutoff,
    class_idx,
    batch_size,
    device,
    row_seeds,
    col_seeds,
    styles,
    noise_mode,
    outdir,
    save_cells,
):
    """Style-mixing figure (mixing.png): row seeds mixed with column seeds' styles."""
    from stylegan.latents import parse_seeds
    from stylegan.tools.mixing import parse_styles, save_mixing, style_mixing_images

    row_list, col_list = parse_seeds(row_seeds), parse_seeds(col_seeds)
    G, resolved = _load_generator(network, device)
    truncation_psi, truncation_cutoff = resolve_truncation(G, truncation_psi, truncation_cutoff)
    layers = parse_styles(styles, G.num_ws)
    rows, cols, cells = style_mixing_images(
        G,
        row_list,
        col_list,
        layers,
        truncation_psi=truncation_psi,
        truncation_cutoff=truncation_cutoff,
        class_idx=class_idx,
        noise_mode=noise_mode,
        batch_size=batch_size,
        device=resolved,
        progress=True,
    )
    paths = save_mixing(rows, cols, cells, row_list, col_list, outdir, save_cells=save_cells)
    click.echo(f"style layers {','.join(map(str, layers))} of {G.num_ws} taken from the columns")
    click.echo(f"wrote {paths[0]}" + (f" and {len(paths) - 1} images" if save_cells else ""))


@cli.command("noise")
@_generator_options
@click.option("--seeds", required=True, help="One figure row per seed, e.g. 0-3.")
@click.option(
    "--samples",
    "num_samples",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Noise draws shown per seed.",
)
@click.option(
    "--std-samples",
    "num_std",
    type=click.IntRange(min=2),
    default=100,
    show_default=True,
    help="Noise draws behind the standard-deviation image.",
)
@click.option(
    "--noise-seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the noise draws (the figure is reproducible).",
)
@click.option("--outdir", required=True, type=click.Path(file_okay=False), help="Output folder.")
def noise_command(
    network,
    truncation_psi,
    truncation_cutoff,
    class_idx,
    batch_size,
    device,
    seeds,
    num_samples,
    num_std,
    noise_seed,
    outdir,
):
    """Stochastic-variation figure (noise.png): fixed w, redrawn noise, per-pixel std."""
    from stylegan.images import save_image
    from stylegan.latents import parse_seeds
    from stylegan.tools.noise import noise_variation_figure

    seed_list = parse_seeds(seeds)
    G, resolved = _load_generator(network, device)
    truncation_psi, truncation_cutoff = resolve_truncation(G, truncation_psi, truncation_cutoff)
    figure = noise_variation_figure(
        G,
        seed_list,
        num_samples=num_samples,
        num_std=num_std,
        truncation_psi=truncation_psi,
        truncation_cutoff=truncation_cutoff,
        class_idx=class_idx,
        seed=noise_seed,
        batch_size=batch_size,
        device=resolved,
        progress=True,
    )
    click.echo(f"wrote {save_image(figure, Path(outdir) / 'noise.png')}")


@cli.command("truncation")
@click.option(
    "--network",
    required=True,
    metavar="PATH",
    help="Checkpoint (ours, NVIDIA .pkl, rosinality .pt, or a URL); its G_ema is used.",
)
@click.option("--seeds", default="0-3", show_default=True, help="One row per seed, e.g. 0-3.")
@click.option(
    "--psi",
    "psis",
    default="-1:1:9",
    show_default=True,
    help="Columns: START:STOP:COUNT (evenly spaced) or a list such as 1,0.7,0.5,0,-0.5,-1.",
)
@click.option(
    "--trunc-cutoff",
    "truncation_cutoff",
    type=click.IntRange(min=0),
    default=None,
    help="Truncate only the first K layers (default: the network's own; 8 for StyleGAN (v1), "
    "all for StyleGAN2/3).",
)
@click.option("--class", "class_idx", type=int, default=None, help="Class, conditional nets only.")
@_noise_mode_option
@click.option("--batch", "batch_size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--outdir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--save-cells", is_flag=True, help="Also write every image on its own.")
def truncation_command(
    network, seeds, psis, truncation_cutoff, class_idx, noise_mode, batch_size, device, outdir,
    save_cells,
):  # fmt: skip
    """The truncation-trick figure (truncation.png): seeds in rows, psi in columns.

    \b
    stylegan truncation --network NET --seeds 0-3 --psi=-1:1:9 --outdir out
    """
    from stylegan.tools.truncation import parse_psi, save_truncation, truncation_images

    psi_values = parse_psi(psis)
    G, resolved = _load_generator(network, device)
    if truncation_cutoff is None:
        truncation_cutoff = getattr(G, "default_truncation", (1.0, None))[1]
    images = truncation_images(
        G,
        seeds,
        psi_values,
        truncation_cutoff=truncation_cutoff,
        class_idx=class_idx,
        noise_mode=noise_mode,
        batch_size=batch_size,
        device=resolved,
        progress=True,
    )
    paths = save_truncation(images, seeds, psi_values, outdir, save_cells=save_cells)
    click.echo(f"wrote {paths[0]}" + (f" and {len(paths) - 1} images" if save_cells else ""))


@cli.command("video")
@_generator_options
@click.option("--seeds", required=True, help="Keyframe seeds, consecutive per grid cell, e.g. 0-7.")
@click.option("--grid", default="1x1", show_default=True, help="Cells as COLSxROWS, e.g. 2x2.")
@click.option(
    "--num-keyframes",
    type=click.IntRange(min=1),
    default=None,
    help="Keyframes per cell (seeds are reused); default: seeds / cells.",
)
@click.option(
    "--frames-per-key",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Frames from one keyframe to the next.",
)
@click.option(
    "--kind",
    type=click.Choice(["linear", "slerp", "cubic"]),
    default="cubic",
    show_default=True,
    help="Interpolation; slerp needs --space z.",
)
@click.option(
    "--space",
    type=click.Choice(["z", "w"]),
    default="w",
    show_default=True,
    help="Latent space to interpolate in.",
)
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), default=30, show_default=True)
@click.option(
    "--format",
    "video_format",
    type=click.Choice(["mp4", "gif"]),
    default=None,
    help="Default: from the --output suffix; mp4 falls back to gif without ffmpeg.",
)
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="Video file.")
@click.option(
    "--motion",
    default=None,
    metavar="pan|circle|rotate",
    help="Instead of interpolating latents, move the input of each seed's fixed latent: "
    "pan, circle, rotate, or a combination such as circle+rotate (StyleGAN3 motion videos).",
)
@click.option(
    "--frames",
    "num_frames",
    type=click.IntRange(min=1),
    default=120,
    show_default=True,
    help="--motion: frames in the video.",
)
@click.option(
    "--speed", type=float, default=1.0, show_default=True, help="--motion pan: pixels per frame."
)
@click.option(
    "--radius", type=float, default=None, help="--motion circle: pixels (default: size / 8)."
)
@click.option(
    "--degrees",
    type=float,
    default=360.0,
    show_default=True,
    help="--motion rotate: degrees over the whole video.",
)
@click.option(
    "--compare",
    "compare_network",
    metavar="PATH",
    default=None,
    help="--motion: a second network shown to the right, same seeds and motion "
    "(e.g. StyleGAN2 beside StyleGAN3 to show texture sticking).",
)
def video_command(
    network,
    truncation_psi,
    truncation_cutoff,
    class_idx,
    batch_size,
    device,
    seeds,
    grid,
    num_keyframes,
    frames_per_key,
    kind,
    space,
    fps,
    video_format,
    output,
    motion,
    num_frames,
    speed,
    radius,
    degrees,
    compare_network,
):
    """Looping latent interpolation video (noise held fixed), or with --motion a motion video
    of fixed latents, as an MP4 or GIF."""
    from stylegan.tools.video import interpolation_frames, keyframe_seeds, parse_grid, write_video

    if motion is not None:
        from stylegan.tools.motion import motion_frames, parse_motion

        parse_motion(motion)  # check before loading
        cols, _ = parse_grid(grid)
        G, resolved = _load_generator(network, device)
        truncation_psi, truncation_cutoff = resolve_truncation(G, truncation_psi, truncation_cutoff)
        other = _load_generator(compare_network, device)[0] if compare_network else None
        frames = motion_frames(
            G,
            seeds,
            motion=motion,
            num_frames=num_frames,
            compare=other,
            speed=speed,
            radius=radius,
            degrees=degrees,
            truncation_psi=truncation_psi,
            truncation_cutoff=truncation_cutoff,
            class_idx=class_idx,
            batch_size=batch_size,
            grid_cols=None if grid == "1x1" else cols,
            device=resolved,
            progress=True,
        )
        path = write_video(frames, output, fps=fps, format=video_format)
        click.echo(f"wrote {path} ({num_frames} frames, {num_frames / fps:.1f} s)")
        return

    cells = keyframe_seeds(seeds, grid, num_keyframes)  # check the grid before loading
    G, resolved = _load_generator(network, device)
    truncation_psi, truncation_cutoff = resolve_truncation(G, truncation_psi, truncation_cutoff)
    frames = interpolation_frames(
        G,
        seeds,
        grid=grid,
        frames_per_key=frames_per_key,
        kind=kind,
        space=space,
        truncation_psi=truncation_psi,
        truncation_cutoff=truncation_cutoff,
        class_idx=class_idx,
        num_keyframes=num_keyframes,
        batch_size=batch_size,
        device=resolved,
        progress=True,
    )
    path = write_video(frames, output, fps=fps, format=video_format)
    num_frames = len(cells[0]) * frames_per_key
    click.echo(f"wrote {path} ({num_frames} frames, {num_frames / fps:.1f} s)")


@cli.command("spectrum")
@click.option(
    "--network",
    "networks",
    multiple=True,
    metavar="PATH",
    help="Generator checkpoint (G_ema); repeat to compare several.",
)
@click.option("--data", metavar="ZIP|DIR", help="Real images (their mean/std whiten all spectra).")
@click.option("--num", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="First seed; real subset.")
@click.option("--trunc", "truncation_psi", type=float, default=1.0, show_default=True)
@click.option(
    "--interp",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Frequency-domain interpolation (zero-padding) factor.",
)
@click.option("--batch", "batch_size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or mps.")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="PNG figure.")
@click.option(
    "--save-npz",
    type=click.Path(file_okay=False),
    default=None,
    help="Also store each spectrum as NAME.npz (avg_spectra.py's format).",
)
def spectrum_command(
    networks, data, num, seed, truncation_psi, interp, batch_size, device, output, save_npz
):
    """Average power spectra of real and generated images (StyleGAN3 paper, Figure 2)."""
    from stylegan.devices import resolve_device
    from stylegan.tools.spectrum import compare_spectra

    if not networks and data is None:
        raise StyleGANError("give --data and/or at least one --network")
    resolved = resolve_device(device)
    generators = {}
    for i, path in enumerate(networks):
        name = Path(path).stem
        generators[name if name not in generators else f"{name}-{i}"] = _load_generator(
            path, device
        )[0]
    spectra = compare_spectra(
        generators,
        data,
        num=num,
        path=output,
        seed=seed,
        batch_size=batch_size,
        device=resolved,
        truncation_psi=truncation_psi,
        interp=interp,
    )
    if save_npz:
        for name, spectrum in spectra.items():
            spectrum.save(Path(save_npz) / f"{name}.npz")
    click.echo(f"wrote {output} ({', '.join(spectra)})")


# ---- section: metrics ---------------------------------------------------------------------------


@cli.command("metrics")
@click.option("--network", required=True, metavar="PATH", help="Any checkpoint or URL (G_ema).")
@click.option(
    "--data",
    metavar="ZIP|DIR",
    help="Real images. Default: the dataset the network was trained on, if the file records it.",
)
@click.option(
    "--metrics",
    "names",
    default="fid50k_full",
    show_default=True,
    help="Comma-separated: fid50k_full, kid50k_full, pr50k3_full, is50k, ppl2_wend, "
    "ppl_zfull, eqt50k_int, eqt50k_frac, eqr50k, ..., or EfficientNet variants (offline) "
    "such as fid_effnet5k.",
)
@click.option("--num", type=click.IntRange(min=2), help="Generated images per metric (quick runs).")
@click.option("--mirror", is_flag=True, help="Include x-flipped reals, as training with --mirror.")
@click.option("--outdir", type=click.Path(file_okay=False), help="Where metric-*.jsonl go.")
@click.option("--batch", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Latents and labels seed.")
@click.option("--cache/--no-cache", default=True, show_default=True, help="Reuse dataset stats.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or mps.")
def metrics_command(network, data, names, num, mirror, outdir, batch, seed, cache, device) -> None:
    """Compute quality metrics of a network; results append to metric-<name>.jsonl."""
    from stylegan.devices import resolve_device
    from stylegan.io.formats import load_any
    from stylegan.metrics.runner import compute_metrics, parse_metric

    metric_names = [n.strip() for n in names.split(",") if n.strip()]
    specs = [parse_metric(n, num) for n in metric_names]  # bad names fail before any loading
    resolved = resolve_device(device)
    ckpt = load_any(network, device=resolved, nets=["G_ema"], training_state=False)
    if data is None and any(spec.needs_data for spec in specs):
        data = _recorded_dataset(ckpt.metadata)
        if data is None:
            raise StyleGANError(f"{network} does not record its dataset; pass --data")
    if outdir is None:  # beside the network (its run folder), else here
        local = Path(network).expanduser()
        outdir = local.parent if local.exists() else Path.cwd()
    results = compute_metrics(
        metric_names,
        ckpt.networks["G_ema"],
        data=data,
        num=num,
        mirror=mirror,
        device=resolved,
        outdir=outdir,
        snapshot=str(network),
        batch_size=batch,
        seed=seed,
        cache=cache,
    )
    for result in results:
        values = "  ".join(f"{k} {v:.4g}" for k, v in result.results.items())
        click.echo(f"{values}  ({result.seconds:.1f} s)")
    click.echo(f"results appended to {Path(outdir) / 'metric-<name>.jsonl'}")


def _recorded_dataset(metadata: dict) -> str | None:
    """The training data path an NVIDIA pickle or one of our snapshots records, if it exists."""
    candidates = [
        (metadata.get("training_set_kwargs") or {}).get("path"),
        (metadata.get("training_options") or {}).get("data"),
    ]
    for path in candidates:
        if path and Path(path).expanduser().exists():
            return str(Path(path).expanduser())
    return None


# ---- section: checkpoints (convert, inspect) ----------------------------------------------------


@cli.command("convert")
@click.argument("source", metavar="IN")
@click.argument("dest", metavar="OUT", type=click.Path())
@click.option(
    "--to",
    "to",
    type=click.Choice(["safetensors", "official", "rosinality"]),
    default="safetensors",
    show_default=True,
    help="safetensors: ours (folder, or a .safetensors file); official: state dicts and "
    "init_kwargs for NVIDIA's code (.pt); rosinality: g, d, g_ema, latent_avg (.pt).",
)
@click.option(
    "--net",
    "nets",
    multiple=True,
    type=click.Choice(["G", "D", "G_ema"]),
    help="Convert only these networks (repeatable). Default: all.",
)
@click.option(
    "--force-fp16",
    is_flag=True,
    help="As NVIDIA's legacy.py: fp16 in the 4 highest resolutions, conv_clamp 256.",
)
def convert_command(source: str, dest: str, to: str, nets: tuple[str, ...], force_fp16: bool):
    """Convert a checkpoint (any format stylegan reads, or a URL) to another format."""
    from stylegan.io.formats import convert

    path = convert(source, dest, to=to, nets=list(nets) or None, force_fp16=force_fp16)
    click.echo(f"wrote {path} ({to})")


@cli.command("inspect")
@click.argument("path", metavar="PATH")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def inspect_command(path: str, as_json: bool) -> None:
    """Show what a checkpoint holds: format, networks, resolution, parameters, labels."""
    import json

    from stylegan.io.formats import inspect

    info = inspect(path)
    damaged = info.get("damaged")
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        if damaged:
            sys.exit(1)
        return
    size = f", {info['bytes'] / 2**20:.1f} MiB" if "bytes" in info else ""
    click.echo(f"{info['path']}: {info['format']}{size}")
    source = info["metadata"].get("source", {})
    if source.get("repository"):
        click.echo(f"  written by: {source['repository']} ({source.get('architecture')})")
    for key, net in info["networks"].items():
        res = net.get("img_resolution")
        click.echo(f"  {key}: {net['class']}, {res}x{res}, {net['params'] / 1e6:.2f} M parameters")
        fields = ("z_dim", "w_dim", "c_dim", "num_ws", "img_channels", "architecture")
        details = ", ".join(f"{k} {net[k]}" for k in fields if k in net)
        click.echo(f"      {details}")
        fp16 = net.get("num_fp16_res")
        if fp16:
            click.echo(
                f"      fp16 in the {fp16} highest resolutions (runs in fp32 here), "
                f"conv_clamp {net.get('conv_clamp')}"
            )
    if info.get("training_state"):
        click.echo("  training state: yes (resumable)")
    for problem in damaged or ():
        click.echo(f"  damaged: {problem}")
    augment = info["metadata"].get("augment_pipe")
    if augment:
        click.echo(f"  augment_pipe: {augment['class']}, p = {augment['p']}")
    data = info["metadata"].get("training_set_kwargs")
    if data:
        click.echo(f"  training set: {data.get('path')} ({data.get('resolution')} px)")
    if damaged:
        raise StyleGANError(f"{info['path']} is damaged ({len(damaged)} problem(s) above)")


@cli.command("pretrained")
def pretrained_command() -> None:
    """List short names of NVIDIA's published networks (usable wherever a network goes)."""
    from stylegan.io.pretrained import PRETRAINED

    width = max(len(name) for name in PRETRAINED)
    for name, url in PRETRAINED.items():
        click.echo(f"{name:<{width}}  {url}")


# ---- section: demo ------------------------------------------------------------------------------


@cli.command("demo")
@click.option(
    "--outdir",
    default="stylegan-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the training run and the figures go.",
)
@click.option(
    "--minutes",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Training time on the bundled sample.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or mps.")
@click.option("--seed", default=0, show_default=True, type=int, help="Training random seed.")
@click.option("--preset", default="small", show_default=True, help="Training preset.")
def demo_command(outdir: str, minutes: float, device: str, seed: int, preset: str) -> None:
    """Train a small model on the bundled emoji sample, then write samples, figures and a video."""
    from stylegan.demo import run_demo

    out = run_demo(outdir, minutes=minutes, device=device, seed=seed, preset=preset)
    click.echo("")
    click.echo(f"Training run:       {out.run_dir}")
    click.echo(f"Network snapshot:   {out.snapshot}")
    click.echo(f"Samples (64 seeds): {out.samples}")
    click.echo(f"Style mixing:       {out.mixing}")
    click.echo(f"Noise variation:    {out.noise}")
    click.echo(f"Interpolation:      {out.video}")


def main() -> None:
    """Console-script entry point."""
    from stylegan.ops.allocator import tune_cpu_allocator

    # The CLI owns its process, so it may keep freed large buffers for reuse (faster on CPU).
    tune_cpu_allocator()
    cli(prog_name="stylegan")


if __name__ == "__main__":
    main()
