"""``stylegan train``: its flags are made from :class:`TrainingConfig`'s field metadata.

A training option is one edit: a field declared with :func:`stylegan.training.config.flag`
becomes a flag here (names, help, metavar, range and choices from the metadata, the click type
from the field's annotation). What a flag set means is :func:`resolve_run_config`'s business.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import click

from stylegan.cli import options
from stylegan.cli.options import BOOL_VALUE, FiniteFloat, NameList, bool_value


def _flag_type(kind: type, spec: dict[str, Any]) -> click.ParamType | None:
    """The click type of an int, float or str field (bools and name lists are made apart)."""
    bounds = {key: spec[key] for key in ("min", "max", "min_open", "max_open") if key in spec}
    if kind is int:
        return click.IntRange(**bounds)
    if kind is float:
        return FiniteFloat(**bounds)
    choices = spec.get("choices")
    if choices is not None:
        return click.Choice(choices() if callable(choices) else choices)
    return None  # a free string


def training_flags() -> list[click.Option]:
    """One click option per :class:`TrainingConfig` field that declares flags, in field order;
    each stores its value under the field's name."""
    from stylegan.training.config import TrainingConfig, field_kinds

    kinds = field_kinds()  # the scalar fields; the rest with flags are tuples of names
    options = []
    for field in dataclasses.fields(TrainingConfig):
        spec = dict(field.metadata)
        if "flags" not in spec:
            continue
        decls = [*spec["flags"], field.name]
        help, metavar = spec["help"], spec.get("metavar")
        kind = kinds.get(field.name, (tuple, False))[0]
        if kind is bool:
            options.append(click.Option(decls, help=help, **BOOL_VALUE))
        elif kind is tuple:  # a tuple of names (the metrics)
            options.append(
                click.Option(decls, type=NameList(allow_none=True), metavar=metavar, help=help)
            )
        else:
            options.append(
                click.Option(decls, type=_flag_type(kind, spec), metavar=metavar, help=help)
            )
    return options


class _TrainCommand(click.Command):
    """``train``, with the config's flags added on first use: reading the config imports torch,
    which ``stylegan --help`` and the other commands should not wait for."""

    @property
    def params(self) -> list[click.Parameter]:  # type: ignore[override]
        if self._all_params is None:
            self._all_params = [*training_flags(), *self._own_params]
        return self._all_params

    @params.setter
    def params(self, value: list[click.Parameter]) -> None:
        self._own_params, self._all_params = list(value), None


@click.command("train", cls=_TrainCommand)
@options.outdir(
    required=False,
    default="training-runs",
    show_default=True,
    metavar="DIR",
    help="Where run folders go (or a run folder, with --resume latest).",
)
@click.option(
    "--resume",
    metavar="latest|PATH",
    help="Continue a run: 'latest' (in --outdir), a run folder or a snapshot (damaged "
    "snapshots are skipped for the newest intact one); or fine-tune any checkpoint.",
)
@click.option(
    "--networks-only",
    is_flag=True,
    help="Fine-tune from the networks of a --resume snapshot that cannot continue its run "
    "(no or damaged training state): kimg 0, fresh optimisers, a new run folder.",
)
@bool_value("--fp32", help="Train in fp32 everywhere: no fp16 blocks, no activation clamping.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.option("-n", "--dry-run", is_flag=True, help="Print the training options and exit.")
@click.pass_context
def train_command(ctx, outdir, resume, networks_only, fp32, progress, dry_run, **flags):
    """Train StyleGAN2 (NVIDIA's stylegan2 config and ADA presets, or CPU-sized tiny/small),
    StyleGAN3 (stylegan3-t/-r) or the original StyleGAN with progressive growing (stylegan1).

    \b
    stylegan train --kimg 20                      # bundled emoji, small preset on a CPU
    stylegan train --data ffhq-256.zip --cfg paper256 --mirror=1
    stylegan train --data ffhq-1024.zip --cfg stylegan1 --mirror=1
    stylegan train --outdir training-runs --resume latest

    \b
    Exit status: 0 when the run is done or --minutes ran out (a resumable snapshot is
    written), 1 on an error (one line), 130 after Ctrl-C (SIGINT) and 143 after SIGTERM
    (128 + the signal's number, as shells report it): the step finishes, a resumable snapshot
    is written, and --resume latest continues. Under torchrun every rank exits so.
    """
    import json

    from click.core import ParameterSource

    from stylegan.io.paths import check_writable_dir
    from stylegan.training import resolve_run_config, train

    if not dry_run:  # before any dataset is read for the preset
        check_writable_dir(outdir, what="--outdir")
    # Only what the user typed overrides the preset (or the resumed run's options).
    given = {
        name: value
        for name, value in flags.items()
        if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
    }
    config = resolve_run_config(given, resume=resume, outdir=outdir, fp32=fp32)
    if dry_run:
        click.echo(json.dumps(config.to_dict(), indent=2))
        return
    # A signal ends train() with TrainingInterrupted: the group prints it and exits 130/143.
    run_dir = train(
        config, outdir=outdir, resume=resume, progress=progress, networks_only=networks_only
    )
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, rank 0 speaks for the run
        click.echo(f"run folder: {run_dir}")


COMMANDS = [train_command]
