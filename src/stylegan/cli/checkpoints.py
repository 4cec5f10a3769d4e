"""Checkpoint files: ``convert`` between formats, ``inspect`` one, list ``pretrained`` names."""

from __future__ import annotations

import sys

import click

from stylegan.errors import StyleGANError


@click.command("convert")
@click.argument("source", metavar="IN")
@click.argument("dest", metavar="OUT", type=click.Path())
@click.option(
    "--to",
    "to",
    type=click.Choice(["safetensors", "official", "rosinality", "nvidia-pickle"]),
    default="safetensors",
    show_default=True,
    help="safetensors: ours (folder, or a .safetensors file); official: state dicts and "
    "init_kwargs for NVIDIA's code (.pt); rosinality: g, d, g_ema, latent_avg (.pt); "
    "nvidia-pickle: a network .pkl for NVIDIA's legacy.load_network_pkl (needs --nvidia-src).",
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
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace OUT if it exists and is a checkpoint of the --to format (nothing else).",
)
@click.option(
    "--nvidia-src",
    default=None,
    metavar="PATH",
    help="For --to nvidia-pickle: a NVlabs/stylegan3 or stylegan2-ada-pytorch checkout, whose "
    "network source the pickle embeds.",
)
def convert_command(
    source: str,
    dest: str,
    to: str,
    nets: tuple[str, ...],
    force_fp16: bool,
    overwrite: bool,
    nvidia_src: str | None,
):
    """Convert a checkpoint (any format stylegan reads, or a URL) to another format."""
    import warnings

    from stylegan.io.formats import MEASURE_SEEDS, convert

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # printed below, as one line each
        result = convert(
            source,
            dest,
            to=to,
            nets=list(nets) or None,
            force_fp16=force_fp16,
            overwrite=overwrite,
            nvidia_src=nvidia_src,
        )
    for note in result.warnings:
        click.echo(f"warning: {note}", err=True)
    if result.max_abs_difference is not None:
        click.echo(
            f"max abs image difference, source vs written file, over {len(MEASURE_SEEDS)} "
            f"seeds (fp32, CPU): {result.max_abs_difference:.3g}"
        )
    click.echo(f"wrote {result.path} ({to})")


@click.command("inspect")
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
                f"      fp16 in the {fp16} highest resolutions (fp32 unless mixed precision "
                f"is set), conv_clamp {net.get('conv_clamp')}"
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


@click.command("pretrained")
def pretrained_command() -> None:
    """List network names usable wherever a network goes: our bundled zoo (offline) first,
    then NVIDIA's published networks (downloaded once, cached)."""
    from stylegan.io.pretrained import PRETRAINED
    from stylegan.io.zoo import ZOO

    width = max(len(name) for name in [*PRETRAINED, *ZOO])
    for entry in ZOO.values():
        where = "bundled, offline" if entry.available else "not in this installation"
        click.echo(f"{entry.name:<{width}}  {entry.description} ({where})")
    for name, url in PRETRAINED.items():
        click.echo(f"{name:<{width}}  {url}")


COMMANDS = [convert_command, inspect_command, pretrained_command]
