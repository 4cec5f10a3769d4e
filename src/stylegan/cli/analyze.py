"""Measurements of a network: ``spectrum`` (power spectra) and ``metrics`` (FID, KID, ...)."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan.cli import options
from stylegan.cli.options import NameList, load_generator
from stylegan.errors import StyleGANError


@click.command("spectrum")
@options.network(
    "networks",
    required=False,
    multiple=True,
    help="Generator checkpoint (G_ema); repeat to compare several.",
)
@click.option("--data", metavar="ZIP|DIR", help="Real images (their mean/std whiten all spectra).")
@click.option("--num", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="First seed; real subset.")
@options.truncation_psi(default=1.0, show_default=True, help="Truncation psi of the generator.")
@options.counted(
    "--interp", default=4, help="Frequency-domain interpolation (zero-padding) factor."
)
@options.batch(default=16)
@options.device()
@options.output_file(help="PNG figure.")
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
        generators[name if name not in generators else f"{name}-{i}"] = load_generator(
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


@click.command("metrics")
@options.network(help="Any checkpoint or URL (G_ema).")
@click.option(
    "--data",
    metavar="ZIP|DIR",
    help="Real images. Default: the dataset the network was trained on, if the file records it.",
)
@click.option(
    "--metrics",
    "names",
    type=NameList(),
    default="fid50k_full",
    show_default=True,
    help="Comma-separated: fid50k_full, kid50k_full, pr50k3_full, is50k, ppl2_wend, "
    "ppl_zfull, eqt50k_int, eqt50k_frac, eqr50k, ..., or EfficientNet variants (offline) "
    "such as fid_effnet5k.",
)
@click.option("--num", type=click.IntRange(min=2), help="Generated images per metric (quick runs).")
@click.option("--mirror", is_flag=True, help="Include x-flipped reals, as training with --mirror.")
@options.outdir(required=False, help="Where metric-*.jsonl go.")
@options.batch(default=32, help="Images per forward pass.")
@click.option("--seed", type=int, default=0, show_default=True, help="Latents and labels seed.")
@click.option("--cache/--no-cache", default=True, show_default=True, help="Reuse dataset stats.")
@options.device()
def metrics_command(
    network, data, names, num, mirror, outdir, batch_size, seed, cache, device
) -> None:
    """Compute quality metrics of a network; results append to metric-<name>.jsonl."""
    from stylegan.devices import resolve_device
    from stylegan.io.formats import load_any
    from stylegan.metrics.runner import compute_metrics, parse_metric

    metric_names = list(names)  # at least one: NameList refuses an empty list
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
        batch_size=batch_size,
        seed=seed,
        cache=cache,
    )
    for result in results:
        values = "  ".join(f"{k} {v:.4g}" for k, v in result.results.items())
        click.echo(f"{values}  ({result.seconds:.1f} s)")
    written = sorted({str(Path(outdir) / f"metric-{r.spec.name}.jsonl") for r in results})
    click.echo(f"results appended to {', '.join(written)}")


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


COMMANDS = [spectrum_command, metrics_command]
