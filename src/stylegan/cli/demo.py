"""``stylegan demo``: the README's one command, from nothing to samples, figures and a video."""

from __future__ import annotations

import click

from stylegan.cli import options
from stylegan.cli.options import FiniteFloat


@click.command("demo")
@options.outdir(
    required=False,
    default="stylegan-demo",
    show_default=True,
    help="Where the training run and the figures go.",
)
@click.option(
    "--minutes",
    default=5.0,
    show_default=True,
    type=FiniteFloat(min=0.1),
    help="Training time on the bundled sample.",
)
@options.device()
@click.option("--seed", default=0, show_default=True, type=int, help="Training random seed.")
@click.option("--preset", default="small", show_default=True, help="Training preset.")
@click.option(
    "--zoo/--no-zoo",
    default=True,
    show_default=True,
    help="First show the bundled twemoji-32 network (samples, mixing, an edit; seconds).",
)
def demo_command(
    outdir: str, minutes: float, device: str, seed: int, preset: str, zoo: bool
) -> None:
    """Show a trained network from the zoo, then train a small model on the bundled emoji
    sample and write samples, figures and a video."""
    from stylegan.demo import run_demo, show_zoo

    if zoo:
        shown = show_zoo(outdir, device="cpu" if device == "auto" else device)
        click.echo(f"A trained network ({shown.network}, bundled):")
        click.echo(f"  Samples (64 seeds): {shown.samples}")
        click.echo(f"  Style mixing:       {shown.mixing}")
        click.echo(f"  Edit (SeFa, dir 0): {shown.edit}")
        click.echo(f"Now training a network of your own for {minutes:g} minutes...")
    out = run_demo(outdir, minutes=minutes, device=device, seed=seed, preset=preset)
    click.echo("")
    click.echo(f"Training run:       {out.run_dir}")
    click.echo(f"Network snapshot:   {out.snapshot}")
    click.echo(f"Samples (64 seeds): {out.samples}")
    click.echo(f"Style mixing:       {out.mixing}")
    click.echo(f"Noise variation:    {out.noise}")
    click.echo(f"Interpolation:      {out.video}")


COMMANDS = [demo_command]
