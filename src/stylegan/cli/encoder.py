"""``stylegan encoder train`` and ``stylegan encoder invert``: fast inversion with a trained
image -> W+ encoder (pSp / e4e style)."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan.cli import options
from stylegan.cli.options import FiniteFloat, load_generator

PERCEPTUAL_HELP = (
    "Perceptual loss, as stylegan project --loss: effnet (LPIPS-style on EfficientNet-Lite0, "
    "offline; default), lpips (VGG16, needs its weights), auto, mse, or none (pixels only)."
)


def _perceptual(name: str, device):
    """The perceptual distance a command asked for (None for ``none``)."""
    if name == "none":
        return None
    from stylegan.metrics.perceptual import load_perceptual_distance

    return load_perceptual_distance(name, device)


PERCEPTUAL_OPTION = options.choice(
    "--perceptual", choices=("auto", "lpips", "effnet", "mse", "none"), default="effnet",
    help=PERCEPTUAL_HELP,
)  # fmt: skip


@click.group("encoder")
def encoder_group() -> None:
    """Train an image -> W+ encoder for a network, and invert images with it in one pass."""


@encoder_group.command("train")
@options.network()
@click.option(
    "--data",
    default=None,
    metavar="ZIP|DIR",
    help="Real images (a dataset zip or folder, any resolution) mixed into each batch; "
    "default: the network's own samples only.",
)
@options.counted("--steps", default=2000, help="Training steps (the total, also when resuming).")
@options.batch(default=8, help="Images per step.")
@options.shown("--lr", type=FiniteFloat(min=0, min_open=True), default=1e-3, help="Adam lr.")
@options.choice(
    "--preset", choices=("tiny", "small", "medium"), default="small", help="Encoder widths."
)
@PERCEPTUAL_OPTION
@options.counted(
    "--unlock-every",
    default=0,
    minimum=0,
    help="e4e's progressive training: unlock one more layer's delta every N steps (0: all).",
)
@options.counted("--snapshot-every", default=500, help="Write the checkpoint every N steps.")
@options.outdir()
@click.option(
    "--resume",
    default=None,
    metavar="PATH",
    help="Continue from an encoder checkpoint (OUTDIR/encoder) to --steps.",
)
@options.device()
def train_command(
    network, data, steps, batch_size, lr, preset, perceptual, unlock_every, snapshot_every,
    outdir, resume, device,
):  # fmt: skip
    """Train an encoder on the network's own samples (and --data): OUTDIR/encoder.

    Ctrl-C or SIGTERM writes the checkpoint first; --resume OUTDIR/encoder continues.
    """
    from stylegan.tools.encoder import train_encoder

    G, resolved = load_generator(network, device)
    result = train_encoder(
        G,
        real_images=data,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        preset=preset,
        perceptual=_perceptual(perceptual, resolved),
        unlock_every=unlock_every,
        snapshot_every=snapshot_every,
        outdir=outdir,
        resume=resume,
    )
    parts = ", ".join(f"{k} {v:.4g}" for k, v in result.losses.items())
    click.echo(
        f"encoder trained to step {result.step} in {result.seconds:.0f}s ({parts}): "
        f"{result.checkpoint}"
    )


@encoder_group.command("invert")
@click.option("--encoder", "encoder_path", required=True, metavar="PATH", help="Encoder.")
@options.network()
@options.target(help="Image file or folder (one sub-folder of --outdir per image).")
@options.outdir()
@options.counted(
    "--refine-steps",
    default=0,
    minimum=0,
    help="Then refine each inversion by N optimisation steps in W+ (e.g. 50).",
)
@PERCEPTUAL_OPTION
@options.device()
def invert_command(encoder_path, network, target, outdir, refine_steps, perceptual, device):
    """Invert images: target.png, proj.png and projected_w.npz (NVIDIA's projector layout) in
    OUTDIR, or in OUTDIR/<name>/ per image of a folder.

    The same inversion as `stylegan project --encoder` (which also writes projection.json).
    """
    from stylegan.tools.encoder import check_compatible, load_encoder
    from stylegan.tools.projection import list_targets, project_files

    list_targets(target)  # a missing target fails before the network loads
    G, resolved = load_generator(network, device)
    encoder = load_encoder(encoder_path, device=resolved)
    check_compatible(encoder, G)
    dist = _perceptual(perceptual, resolved) if refine_steps else None
    reports = project_files(
        G, target, outdir, loss=dist, encoder=encoder, refine_steps=refine_steps,
        save_video=False, write_summary=False, progress=False,
    )  # fmt: skip
    mean_psnr = sum(r.psnr for r in reports) / len(reports)
    seconds = sum(r.seconds for r in reports) / len(reports)
    click.echo(
        f"inverted {len(reports)} image(s) into {Path(outdir)} (PSNR {mean_psnr:.2f} dB, "
        f"{seconds:.3f}s per image)"
    )


COMMANDS = [encoder_group]
