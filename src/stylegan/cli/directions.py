"""``stylegan directions``: find latent directions (SeFa, GANSpace, InterFaceGAN, StyleSpace)."""

from __future__ import annotations

import click

from stylegan.cli import options
from stylegan.cli.options import load_generator
from stylegan.errors import StyleGANError

METHODS = ("sefa", "ganspace", "interfacegan", "stylespace")
# --samples when not given: GANSpace and StyleSpace statistics as the papers, InterFaceGAN's own.
DEFAULT_SAMPLES = {"ganspace": 100_000, "interfacegan": 10_000, "stylespace": 100_000}


@click.command("directions")
@options.choice("--method", choices=METHODS, default=None, help="How to find them.")
@options.network()
@options.output_file("--out", help="Direction file to write (.npz).")
@options.layers(
    default="all",
    show_default=True,
    help="ws the directions move: all, coarse, middle, fine (SeFa's presets scaled to the "
    "network) or A-B. SeFa factorises these layers' weights.",
)
@options.counted(
    "--num",
    default=None,
    help="Directions to keep (default: SeFa all, GANSpace 80, StyleSpace 10).",
)
@options.counted(
    "--samples",
    default=None,
    help="Samples: GANSpace PCA (100,000), StyleSpace statistics (100,000), InterFaceGAN with "
    "--class (10,000); a --scores CSV uses its rows.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampling.")
@click.option(
    "--scores",
    type=click.Path(dir_okay=False),
    default=None,
    help="CSV with columns seed,score (one row per generated seed): InterFaceGAN's scores; "
    "StyleSpace's positives are the top --positives seeds.",
)
@options.class_idx(
    help="Instead of --scores, a conditional network's class: InterFaceGAN's positives (the "
    "others are negatives); StyleSpace's positives are samples of it. With --scores: the "
    "class of the seeds.",
)
@options.choice("--space", choices=("w", "z"), default="w", help="InterFaceGAN: latent space.")
@options.choice(
    "--classifier", choices=("svm", "logistic"), default="svm", help="InterFaceGAN's classifier."
)
@click.option(
    "--condition",
    "conditions",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="InterFaceGAN: a direction file to make the boundary orthogonal to (repeatable).",
)
@options.counted("--positives", default=10, help="StyleSpace: positive examples (num_pos).")
@options.batch(default=256, help="Samples per forward pass.")
@options.device()
def directions_command(
    method,
    network,
    output,
    layers,
    num,
    samples,
    seed,
    scores,
    class_idx,
    space,
    classifier,
    conditions,
    positives,
    batch_size,
    device,
):
    """Find latent directions of a generator and write them as one .npz (see docs/editing.md);
    `load_directions` and `stylegan edit` read it."""
    if method is None:
        raise StyleGANError(f"give --method: one of {', '.join(METHODS)}")
    needs_source = method in ("interfacegan", "stylespace")
    if needs_source and scores is None and class_idx is None:
        raise StyleGANError(f"--method {method} needs --scores FILE.csv or --class K")
    if not needs_source and (scores is not None or class_idx is not None):
        raise StyleGANError(f"--method {method} takes no --scores or --class")
    # With --scores, --class only labels the seeds (a conditional network's class).
    seeds_class = class_idx if scores is not None else None
    from stylegan.tools import directions as find
    from stylegan.tools import interfacegan as ifg
    from stylegan.tools.direction_set import load_directions

    loaded = [load_directions(path) for path in conditions]  # bad files fail before the network
    scores_of = ifg.read_seed_scores(scores) if scores is not None else None
    G, _ = load_generator(network, device)
    if class_idx is not None:
        ifg.check_class(G, class_idx)
    count = samples or DEFAULT_SAMPLES.get(method)
    if method == "sefa":
        made = find.sefa(G, layers, num)
        top = ", ".join(f"{v:.3g}" for v in made.eigenvalues[:3])
        summary = f"{len(made)} SeFa directions of ws {_span(made.layers)} (eigenvalues {top})"
    elif method == "ganspace":
        made = find.ganspace(
            G, count, num or 80, seed=seed, batch_size=batch_size, layers=layers, progress=True
        )
        explained = made.info["explained"]
        top = ", ".join(f"{e:.1%}" for e in explained[:3])
        summary = (
            f"{len(made)} GANSpace components of w from {count:,} samples, moving ws "
            f"{_span(made.layers)} (explained variance {top}; "
            f"all {len(made)}: {sum(explained):.1%})"
        )
    elif method == "interfacegan":
        made = ifg.interfacegan_boundary(
            G,
            scores if scores is not None else class_idx,
            samples,
            space,
            class_idx=seeds_class,
            layers=layers,
            seed=seed,
            batch_size=batch_size,
            classifier=classifier,
            conditions=loaded,
        )
        info = made.info
        summary = (
            f"InterFaceGAN boundary in {space} ({info['classifier']}, "
            f"{2 * info['train_per_side']} training samples, validation accuracy "
            f"{info['validation_accuracy']:.1%}"
            + (f", orthogonal to {info['conditions']} conditions" if loaded else "")
            + ")"
        )
    else:
        made = _stylespace(G, find, scores_of, class_idx, positives, count, num, seed, batch_size)
        summary = (
            f"{len(made)} StyleSpace channels of {made.dim} (top: "
            + ", ".join(f"{n} s2n {v:.2f}" for n, v in zip(made.names[:3], made.info["s2n"][:3]))
            + ")"
        )
    path = made.save(output)
    click.echo(f"wrote {path}: {summary}")


def _stylespace(G, find, scores_of, class_idx, positives, count, num, seed, batch_size):
    """StyleSpace's positives (the top-scoring seeds, or samples of a class), then its ranking."""
    from stylegan.tools import interfacegan as ifg

    if scores_of is not None:  # class_idx, if any, labels the seeds
        seeds, values = scores_of
        if len(seeds) < 2:
            raise StyleGANError("the scores CSV needs at least 2 rows for StyleSpace positives")
        top = [seeds[i] for i in (-values).argsort(kind="stable")[:positives]]
        ws = ifg.seeds_latents(G, top, "w", class_idx)
    else:
        ws = ifg.class_samples(G, class_idx, max(positives, 2), seed=seed)
    return find.stylespace_channels(
        G,
        ws,
        num_samples_for_stats=count,
        top=num or 10,
        seed=seed,
        batch_size=batch_size,
        progress=True,
    )


def _span(layers) -> str:
    if layers is None:
        return "all"
    layers = list(layers)
    if layers and layers == list(range(layers[0], layers[-1] + 1)):
        return f"{layers[0]}-{layers[-1]}" if len(layers) > 1 else str(layers[0])
    return ",".join(map(str, layers))


COMMANDS = [directions_command]
