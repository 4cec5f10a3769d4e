"""The ``stylegan`` command: a thin click layer over the Python API.

Each subcommand parses flags, calls one library function and prints where the results are.
User mistakes (:class:`StyleGANError`) print as one line and exit 1.
"""

from __future__ import annotations

import sys

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

# ---- section: train -----------------------------------------------------------------------------

# ---- section: tools (generate, mix, noise, video) -----------------------------------------------

# ---- section: demo ------------------------------------------------------------------------------


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="stylegan")


if __name__ == "__main__":
    main()
