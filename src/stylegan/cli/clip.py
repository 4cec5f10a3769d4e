"""``stylegan clip``: make captions, train our own domain CLIP, export it, measure retrieval."""

from __future__ import annotations

import click

from stylegan.cli import options

CLIP_HELP = (
    "CLIP: twemoji-clip (bundled, offline), a checkpoint of `stylegan clip train`, a Hugging "
    "Face CLIP folder, or ViT-B/32 (needs stylegan[clip] and a one-time download)."
)


@click.group("clip")
def clip_group() -> None:
    """CLIP models for text-driven editing: our own domain CLIP, or a real one."""


@clip_group.command("captions")
@options.required("--manifest", type=click.Path(dir_okay=False), help="Twemoji manifest.csv.")
@options.output_file("--out", help="Captions CSV to write (image, caption, category).")
def captions_command(manifest, output):
    """Make a captions CSV from a Twemoji manifest (zip entry, name, category per emoji)."""
    from stylegan.clip.captions import captions_from_manifest, read_captions

    path = captions_from_manifest(manifest, output)
    click.echo(f"{len(read_captions(path))} captions: {path}")


@clip_group.command("train")
@click.option(
    "--data", default=None, metavar="DATASET",
    help="Dataset zip or folder (RGB). Default: the bundled 32 px emoji.",
)  # fmt: skip
@click.option(
    "--captions", default=None, type=click.Path(dir_okay=False),
    help="Captions CSV (image, caption[, category]). Default: the bundled emoji captions.",
)  # fmt: skip
@options.required("--out", "outdir", type=click.Path(file_okay=False), help="Output folder.")
@options.counted("--steps", default=2000, help="Training steps (the total, also when resuming).")
@options.counted("--batch", "batch_size", default=256, minimum=2, help="Image-text pairs per step.")
@options.shown(
    "--lr", type=options.FiniteFloat(min=0, min_open=True), default=2e-3, help="AdamW lr."
)
@options.counted("--views", default=4, help="Views per image: itself plus jittered copies.")
@options.shown(
    "--holdout", type=options.FiniteFloat(min=0, max=1, max_open=True), default=0.12,
    help="Share of the images held out (never trained on) for the retrieval figures.",
)  # fmt: skip
@options.shown("--seed", type=int, default=0, help="Seed of the split, views and weights.")
@options.counted("--image-size", default=128, help="Side images are resized to for the backbone.")
@click.option("--no-colours", is_flag=True, help="No colour captions measured from the pixels.")
@options.counted("--snapshot-every", default=500, help="Write the checkpoint every N steps.")
@click.option("--resume", is_flag=True, help="Continue OUT/clip to --steps.")
@options.device()
def train_command(
    data, captions, outdir, steps, batch_size, lr, views, holdout, seed, image_size, no_colours,
    snapshot_every, resume, device,
):  # fmt: skip
    """Train a domain CLIP: OUT/clip (resumable checkpoint), OUT/features.safetensors (cache).

    Ctrl-C or SIGTERM writes the checkpoint first; --resume continues it.
    """
    from stylegan.clip.captions import default_captions
    from stylegan.clip.train import CLIPTrainingConfig, train_clip
    from stylegan.data.dataset import sample_dataset_path
    from stylegan.devices import resolve_device

    if data is None:
        data = sample_dataset_path()
        captions = default_captions() if captions is None else captions
    elif captions is None:
        raise click.UsageError("--captions is needed with --data (the bundled ones fit the sample)")
    config = CLIPTrainingConfig(
        steps=steps, batch_size=batch_size, lr=lr, views=views, holdout=holdout, seed=seed,
        image_size=image_size, colour_captions=not no_colours, snapshot_every=snapshot_every,
    )  # fmt: skip
    result = train_clip(
        data, captions, outdir, config=config, resume=resume, device=resolve_device(device)
    )
    click.echo(f"trained to step {result.step} in {result.seconds:.0f}s, loss {result.loss:.3f}")
    if result.heldout is not None:
        click.echo(f"held-out retrieval: {result.heldout}")
    click.echo(f"training retrieval: {result.train}")
    click.echo(f"checkpoint: {result.checkpoint}")


@clip_group.command("export")
@options.required("--checkpoint", type=click.Path(), help="OUT/clip of `stylegan clip train`.")
@options.output_file("--out", help="The .safetensors file to write (fp16, no training state).")
@click.option("--name", default=None, help="The model's name (default: the file's stem).")
def export_command(checkpoint, output, name):
    """Write a trained domain CLIP as one small fp16 file (loadable by its path)."""
    from pathlib import Path

    from stylegan.clip.domain import load_domain_clip, save_domain_clip

    model, _ = load_domain_clip(checkpoint)
    model.name = name or Path(output).stem
    path = save_domain_clip(model, Path(output).with_suffix(".safetensors"), half=True)
    click.echo(f"{model.name}: {path} ({path.stat().st_size / 1e6:.1f} MB)")


@clip_group.command("retrieval")
@click.option("--clip", "clip_name", default="twemoji-clip", show_default=True, help=CLIP_HELP)
@click.option("--data", default=None, metavar="DATASET", help="Dataset (default: the sample).")
@click.option(
    "--captions", default=None, type=click.Path(dir_okay=False),
    help="Evaluate on every captioned image of --data (default: the CLIP's held-out split).",
)  # fmt: skip
@options.device()
def retrieval_command(clip_name, data, captions, device):
    """Text-to-image retrieval: each image's caption should rank it first among the images."""
    from stylegan.clip import load_clip
    from stylegan.clip.evaluate import caption_pairs, dataset_retrieval, heldout_pairs
    from stylegan.data.dataset import sample_dataset_path
    from stylegan.devices import resolve_device

    model = load_clip(clip_name, resolve_device(device))
    data = sample_dataset_path() if data is None else data
    pairs = caption_pairs(data, captions) if captions else heldout_pairs(model)
    what = "captioned images" if captions else "held-out images"
    click.echo(f"{model.name}, {len(pairs)} {what}: {dataset_retrieval(model, data, pairs)}")


@clip_group.command("mapper")
@options.required("--text", metavar="PROMPT", help="The prompt the mapper edits toward.")
@options.network()
@options.required("--out", "outdir", type=click.Path(file_okay=False), help="Output folder.")
@click.option("--clip", "clip_name", default="twemoji-clip", show_default=True, help=CLIP_HELP)
@options.counted("--steps", default=5000, help="Training steps (the total, also when resuming).")
@options.counted("--batch", "batch_size", default=2, help="Sampled ws per step.")
@options.shown("--lr", type=options.FiniteFloat(min=0, min_open=True), default=0.5, help="lr.")
@options.shown(
    "--l2", "l2_lambda", type=options.FiniteFloat(min=0), default=0.8,
    help="Weight of the MSE between edited and source ws.",
)  # fmt: skip
@options.shown(
    "--trunc", "truncation_psi", type=options.FiniteFloat(), default=0.7,
    help="Truncation of the sampled training ws.",
)  # fmt: skip
@options.shown(
    "--groups", default="coarse,medium,fine",
    help="ws groups the mapper moves (StyleCLIP leaves out fine for shape edits).",
)  # fmt: skip
@options.shown("--seed", type=int, default=0, help="Seed of the weights and the sampled ws.")
@options.counted("--snapshot-every", default=1000, help="Write the checkpoint every N steps.")
@click.option(
    "--resume", default=None, type=click.Path(),
    help="Continue a mapper checkpoint (OUT/mapper) to --steps.",
)  # fmt: skip
@options.device()
def mapper_command(
    text, network, outdir, clip_name, steps, batch_size, lr, l2_lambda, truncation_psi, groups,
    seed, snapshot_every, resume, device,
):  # fmt: skip
    """Train StyleCLIP's latent mapper for one prompt: OUT/mapper (resumable checkpoint).

    \b
    stylegan clip mapper --text 'red heart' --network twemoji-32 --out runs/red-heart
    stylegan edit --network twemoji-32 --seeds 0-7 --mapper runs/red-heart/mapper --outdir out

    Ctrl-C or SIGTERM writes the checkpoint first; --resume OUT/mapper continues.
    """
    from stylegan.cli.options import load_generator
    from stylegan.clip import load_clip
    from stylegan.tools.clip_mapper import train_mapper

    G, resolved = load_generator(network, device)
    model = load_clip(clip_name, resolved)
    result = train_mapper(
        G, model, text, steps=steps, batch_size=batch_size, lr=lr, l2_lambda=l2_lambda,
        truncation_psi=truncation_psi, groups=[g.strip() for g in groups.split(",") if g.strip()],
        outdir=outdir, resume=resume, snapshot_every=snapshot_every, seed=seed,
    )  # fmt: skip
    losses = ", ".join(f"{k} {v:.4f}" for k, v in result.losses.items())
    click.echo(f"trained to step {result.step} in {result.seconds:.0f}s ({losses})")
    click.echo(f"mapper: {result.checkpoint}")


COMMANDS = [clip_group]
