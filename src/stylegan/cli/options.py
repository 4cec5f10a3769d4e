"""Options several commands share, each declared once, and the parameter types behind them.

Every float any command reads goes through :class:`FiniteFloat`: ``nan`` and ``inf`` are
refused where they are typed, not somewhere inside a run. Option factories take keyword
changes (``batch(default=16)``) for what differs between commands; the declaration stays here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click

# ---- parameter types ----------------------------------------------------------------------------


class FiniteFloat(click.FloatRange):
    """A finite float (no nan, no inf), optionally within a range like click's FloatRange."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)

    def _describe_range(self) -> str:
        # Unbounded: nothing to add to the help (click would print "x<=None").
        return "" if self.min is None and self.max is None else super()._describe_range()


class FiniteNumbers(click.ParamType):
    """Numbers in a library parser's own syntax (``X,Y``, ``START:STOP:COUNT``, ...), each of them
    finite. The parser's own errors (StyleGANError) stay one-line errors of the command."""

    name = "numbers"

    def __init__(self, parse: Callable[[str], Sequence[float]], metavar: str):
        self.parse, self.metavar = parse, metavar

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return self.metavar

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if not isinstance(value, str):
            return value  # a default given as numbers already
        numbers = self.parse(value)
        if not all(math.isfinite(v) for v in numbers):
            self.fail(f"{value!r} holds a number that is not finite.", param, ctx)
        return numbers


class NameList(click.ParamType):
    """Comma-separated names (``fid50k_full,kid50k_full``) as a tuple: at least one, or with
    ``allow_none`` the word ``none`` for no names at all."""

    name = "list"

    def __init__(self, allow_none: bool = False):
        self.allow_none = allow_none

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, tuple):
            return value
        names = [name.strip() for name in str(value).split(",") if name.strip()]
        if self.allow_none and "none" in names:
            names = [name for name in names if name != "none"]
        elif not names:
            hint = " (or none)" if self.allow_none else ""
            self.fail(f"{value!r} names nothing: give names separated by commas{hint}.", param, ctx)
        return tuple(names)


class LazyChoice(click.Choice):
    """A Choice whose choices come from the library on first use (its modules import torch,
    which ``stylegan --help`` should not wait for)."""

    def __init__(self, load: Callable[[], Iterable[str]]):
        self._load, self._choices = load, None
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        if self._choices is None:
            self._choices = tuple(self._load())
        return self._choices


# NVIDIA's boolean options: ``--mirror`` alone, or ``--mirror=1`` / ``--mirror=false``.
BOOL_VALUE = dict(type=bool, default=False, is_flag=False, flag_value=True, metavar="BOOL")


def bool_value(*decls: str, help: str) -> Callable:
    """A boolean option spelt as NVIDIA's (see :data:`BOOL_VALUE`)."""
    return click.option(*decls, help=help, **BOOL_VALUE)


def required(*decls: str, help: str, **settings: Any) -> Callable:
    """An option the command cannot run without (``metavar=``, ``type=`` ... pass through)."""
    return click.option(*decls, required=True, help=help, **settings)


def shown(*decls: str, default: Any, help: str, **settings: Any) -> Callable:
    """An option whose default the help shows (``type=``, ``metavar=`` ... pass through)."""
    return click.option(*decls, default=default, show_default=True, help=help, **settings)


def counted(*decls: str, default: int | None, help: str, minimum: int = 1) -> Callable:
    """A whole number of at least ``minimum`` (frames, samples, draws); a default is shown."""
    return click.option(
        *decls,
        type=click.IntRange(min=minimum),
        default=default,
        show_default=default is not None,
        help=help,
    )


def choice(*decls: str, choices: Sequence[str], default: str | None, help: str) -> Callable:
    """One of fixed ``choices``; a default is shown."""
    return click.option(
        *decls,
        type=click.Choice(list(choices)),
        default=default,
        show_default=default is not None,
        help=help,
    )


def sweep(*decls: str, what: str, default: str, help: str) -> Callable:
    """The columns of a figure that sweeps a value (``what``: ``"psi"``, ``"strength"``):
    ``START:STOP:COUNT`` or a list (:func:`stylegan.latents.parse_value_sweep`), each finite."""

    def parse(spec: str) -> list[float]:
        from stylegan.latents import parse_value_sweep

        return parse_value_sweep(spec, what, default or "-2:2:5")

    metavar = "LIST|START:STOP:COUNT"
    return shown(*decls, type=FiniteNumbers(parse, metavar), default=default, help=help)


# ---- shared options -----------------------------------------------------------------------------


def _shared(*decls: str, **settings: Any) -> Callable[..., Callable]:
    """An option declared once; ``make(name=..., **changes)`` gives it to one command, with its
    own parameter name or keyword changes (default, help, required)."""

    def make(name: str | None = None, **changes: Any) -> Callable:
        return click.option(*decls, *([name] if name else []), **{**settings, **changes})

    return make


def _noise_modes() -> tuple[str, ...]:
    from stylegan.networks.layers import NOISE_MODES

    return NOISE_MODES


NETWORK_HELP = "Checkpoint (ours, NVIDIA .pkl, rosinality .pt, or a URL); its G_ema is used."
network = _shared("--network", required=True, metavar="PATH", help=NETWORK_HELP)
device = _shared(
    "--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps."
)
seeds = _shared("--seeds", required=True, help="Seeds and ranges, e.g. 0-63,100.")
truncation_psi = _shared(
    "--trunc",
    "truncation_psi",
    type=FiniteFloat(),
    default=None,
    help="Truncation psi: 1 = none, 0 = the average image. Default: the network's own "
    "(none for StyleGAN2/3; 0.7 on the first 8 layers for StyleGAN (v1), as the original).",
)
truncation_cutoff = _shared(
    "--trunc-cutoff",
    "truncation_cutoff",
    type=click.IntRange(min=0),
    default=None,
    help="Truncate only the first K style layers (default: all, or the network's own).",
)
noise_mode = _shared(
    "--noise-mode",
    type=LazyChoice(_noise_modes),
    default="const",
    show_default=True,
    help="Per-layer noise: the stored constant, fresh random, or off.",
)
class_idx = _shared(
    "--class",
    "class_idx",
    type=int,
    default=None,
    help="Class index, for conditional networks only.",
)
batch = _shared(
    "--batch",
    "batch_size",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Images rendered per forward pass.",
)


projected_w = _shared(
    "--projected-w",
    "projected_w",
    type=click.Path(),  # a folder or a bad file is refused by the loader, as one line
    default=None,
    help="Rows from a projected_w.npz (key w, [N, num_ws, w_dim], from `stylegan project`) "
    "instead of seeds.",
)
layers = _shared(
    "--layers",
    default=None,
    help="ws layers: all, coarse, middle, fine (SeFa's presets scaled to the network), 2-5 or "
    "0,1,4.",
)
target = _shared(
    "--target",
    required=True,
    type=click.Path(),  # a missing one is refused by the loader, as one line
    metavar="FILE|DIR",
    help="Image file to project, or a folder of them (one sub-folder of --outdir each).",
)
fps = _shared(
    "--fps",
    type=FiniteFloat(min=0, min_open=True),
    default=30,
    show_default=True,
    help="Frames per second.",
)
save_cells = _shared("--cells", "save_cells", is_flag=True, help="Also write every cell as a PNG.")


def _writable_outdir(ctx: click.Context, param: click.Parameter, value: str | None):
    """Check the output folder while parsing, before anything is loaded or rendered (a
    StyleGANError: one ``error:`` line, exit status 1, like every other user mistake)."""
    from stylegan.io.paths import check_writable_dir

    if value is not None:
        check_writable_dir(value, what="--outdir")
    return value


def _writable_parent(ctx: click.Context, param: click.Parameter, value: str | None):
    """Check, while parsing, that an output file's folder can be written (or made)."""
    from pathlib import Path

    from stylegan.io.paths import check_writable_dir

    if value is not None:
        flag = param.opts[0] if param is not None else "--output"
        check_writable_dir(Path(value).expanduser().parent, what=f"the folder of {flag} {value}:")
    return value


def output_file(*decls: str, help: str, required: bool = True) -> Callable:
    """``--output FILE`` (or the names in ``decls``; the value is still the ``output``
    parameter): its folder is checked before any work, like ``--outdir``."""
    return click.option(
        *(decls or ("--output",)),
        "output",
        required=required,
        default=None,
        type=click.Path(dir_okay=False),
        callback=_writable_parent,
        help=help,
    )


outdir = _shared(
    "--outdir",
    required=True,
    type=click.Path(),  # a file, or a folder that cannot be made, is refused by the callback
    callback=_writable_outdir,
    help="Output folder.",
)
yes = _shared(
    "--yes",
    "-y",
    is_flag=True,
    help="Do not ask before writing more than 10,000 images.",
)


def generator_options(func: Callable) -> Callable:
    """What every generation command shares: the network, truncation, class, batch, device."""
    for option in reversed(
        [network(), truncation_psi(), truncation_cutoff(), class_idx(), batch(), device()]
    ):
        func = option(func)
    return func


def load_generator(path: str, device_name: str):
    """Resolve the device and load the checkpoint's G_ema onto it: ``(G, device)``."""
    import stylegan
    from stylegan.devices import resolve_device

    resolved = resolve_device(device_name)
    return stylegan.load(path, device=resolved), resolved


def load_for_rendering(
    network: str,
    device: str,
    truncation_psi: float | None,
    truncation_cutoff: int | None,
    class_idx: int | None,
    batch_size: int,
) -> tuple[Any, dict[str, Any]]:
    """``(G, render)``: the generator of :func:`generator_options`' values and the keywords every
    rendering tool takes (truncation, class, batch, device, progress). The truncation is what the
    user gave, else the network's own (:func:`stylegan.tools.generate.resolve_truncation`)."""
    from stylegan.tools.generate import resolve_truncation

    G, resolved = load_generator(network, device)
    psi, cutoff = resolve_truncation(G, truncation_psi, truncation_cutoff)
    render = dict(
        truncation_psi=psi,
        truncation_cutoff=cutoff,
        class_idx=class_idx,
        batch_size=batch_size,
        device=resolved,
        progress=True,
    )
    return G, render


LARGE_IMAGE_COUNT = 10_000  # above this, a command asks before it starts writing


def confirm_large_count(count: int, what: str, yes: bool) -> None:
    """Ask before writing ``count`` images when it is large (``--yes`` skips the question);
    without a terminal to ask on, refuse with what to pass."""
    import sys

    from stylegan.errors import StyleGANError

    if yes or count <= LARGE_IMAGE_COUNT:
        return
    if not sys.stdin.isatty():
        raise StyleGANError(
            f"this would write {count:,} {what}; pass --yes to confirm, or give fewer seeds"
        )
    if not click.confirm(f"Write {count:,} {what}?", default=False):
        raise StyleGANError("cancelled; nothing was written")
