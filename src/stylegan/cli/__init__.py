"""The ``stylegan`` command: a thin click layer over the Python API.

Each subcommand parses flags, calls one library function and prints where the results are.
User mistakes (:class:`StyleGANError`) print as one line and exit 1; a training stopped by a
signal (:class:`TrainingInterrupted`) says where its snapshot is and exits 128 + the signal's
number (130, 143) on every rank. Commands live in the
modules of :data:`COMMAND_MODULES`, each listing its own in ``COMMANDS``; a new command is a
new module added there. Shared options and parameter types are in :mod:`stylegan.cli.options`.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from stylegan.errors import StyleGANError, TrainingInterrupted

# One module per group of commands; each lists its click commands in ``COMMANDS``.
COMMAND_MODULES = (
    "data", "train", "generate", "video", "project", "encoder", "directions", "edit",
    "attributes", "clip", "analyze", "checkpoints", "export", "demo",
)  # fmt: skip


class _Group(click.Group):
    """Click group that turns :class:`StyleGANError` into a one-line message and exit status 1,
    :class:`TrainingInterrupted` (``train``, ``demo``) into its line and exit status, and
    Ctrl-C into exit status 130."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except StyleGANError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)
        except TrainingInterrupted as stopped:
            if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, rank 0 speaks
                click.echo(str(stopped), err=True)
            sys.exit(stopped.exit_code)  # every rank: job scripts may read any of them
        except KeyboardInterrupt:  # e.g. a second Ctrl-C in training: stop now, as shells say
            click.echo("interrupted (Ctrl-C); outputs already written are complete", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stylegan")
def cli() -> None:
    """StyleGAN family toolkit: prepare data, train, generate, mix styles, make videos."""


for _name in COMMAND_MODULES:
    for _command in importlib.import_module(f"{__name__}.{_name}").COMMANDS:
        cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    from stylegan.runtime import tune_cpu_allocator

    # The CLI owns its process, so it may keep freed large buffers for reuse (faster on CPU).
    tune_cpu_allocator()
    cli(prog_name="stylegan")
