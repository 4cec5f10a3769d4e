"""``stylegan attributes``: train an attribute probe on a labelled dataset, score seeds with it."""

from __future__ import annotations

import click

from stylegan.cli import options
from stylegan.cli.options import generator_options, load_for_rendering


@click.group("attributes")
def attributes_group() -> None:
    """Attribute probes: a linear classifier on EfficientNet-Lite0 features of dataset classes."""


@attributes_group.command("train")
@click.option(
    "--data",
    default=None,
    metavar="DATASET",
    help="Dataset zip or folder, labelled. Default: the bundled emoji (their categories).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Probe file (.safetensors; its .json is written beside it).",
)
@options.counted("--epochs", default=300, help="Full-batch Adam steps.")
@options.shown("--lr", type=options.FiniteFloat(min=0, min_open=True), default=0.01, help="")
@options.shown(
    "--weight-decay",
    type=options.FiniteFloat(min=0),
    default=1e-3,
    help="L2 penalty on the weights.",
)
@click.option(
    "--names",
    "names_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Class names, one per line (default: dataset.json's, the sample's, or class_K).",
)
@options.shown("--seed", type=int, default=0, help="Seed of the split and the initialisation.")
@options.device()
def train_command(data, out, epochs, lr, weight_decay, names_file, seed, device):
    """Train a probe on the dataset's class labels; prints the held-out accuracy."""
    from stylegan.data.dataset import sample_dataset_path
    from stylegan.devices import resolve_device
    from stylegan.metrics.attributes import train_attribute_probe

    data = sample_dataset_path() if data is None else data
    probe = train_attribute_probe(
        data, epochs=epochs, lr=lr, weight_decay=weight_decay, seed=seed, names_file=names_file,
        device=resolve_device(device),
    )  # fmt: skip
    info = probe.info
    click.echo(
        f"{len(info.class_names)} classes, validation accuracy {info.accuracy:.3f} on "
        f"{info.num_val} images (train {info.train_accuracy:.3f} on {info.num_train})"
    )
    click.echo(f"wrote {probe.save(out)}")


@attributes_group.command("score")
@click.option("--probe", "probe_path", required=True, metavar="PATH", help="Probe .safetensors.")
@generator_options
@options.seeds()
@click.option(
    "--class-name",
    "class_name",
    required=True,
    help="The class scored: a name of the probe (e.g. Flags) or an index.",
)
@options.noise_mode()
@options.output_file(
    help="CSV of seed,score rows (what `stylegan directions --scores` reads); default: print.",
    required=False,
)
def score_command(probe_path, seeds, class_name, noise_mode, output, **generator):
    """Score seeds for one class: log-odds of the class (p against the rest), as seed,score CSV."""
    from stylegan.metrics.attributes import load_attribute_probe, score_seeds, write_scores_csv

    G, render = load_for_rendering(**generator)
    probe = load_attribute_probe(probe_path, device=render.pop("device"))
    rows = score_seeds(probe, G, seeds, class_name, noise_mode=noise_mode, **render)
    text = write_scores_csv(rows, output)
    if output is None:
        click.echo(text, nl=False)
    else:
        name = probe.class_names[probe.class_index(class_name)]
        click.echo(f"scored {len(rows)} seeds for {name}: wrote {output}")


COMMANDS = [attributes_group]
