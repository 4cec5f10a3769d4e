"""``stylegan export``: generators as ONNX graphs for onnxruntime and other runtimes."""

from __future__ import annotations

import click

from stylegan.cli import options


@click.group("export")
def export_group() -> None:
    """Export networks for deployment."""


@export_group.command("onnx")
@options.network()
@options.output_file("--out", help="The .onnx file to write (FILE.json is written beside it).")
@click.option(
    "--synthesis-only", "part", flag_value="synthesis",
    help="Export G.synthesis: ws [batch, num_ws, w_dim] -> image.",
)  # fmt: skip
@click.option(
    "--mapping-only", "part", flag_value="mapping",
    help="Export G.mapping: z [, c], psi -> ws.",
)  # fmt: skip
@click.option(
    "--generator", "part", flag_value="generator", default=True,
    help="Export the whole generator: z [, c], psi -> image (the default).",
)  # fmt: skip
@options.choice(
    "--noise",
    choices=("const", "none", "input"),
    default="const",
    help="Per-layer noise: baked constants, off, or one input per layer (standard normal).",
)
@options.truncation_psi(
    help="Default of the psi input written to FILE.json (the graph takes any psi). Default: the "
    "network's own."
)
@options.counted("--opset", default=18, minimum=17, help="ONNX opset.")
@click.option(
    "--check-batches", default="1,2,5", show_default=True,
    help="Batch sizes checked against PyTorch in onnxruntime.",
)  # fmt: skip
@options.shown(
    "--tolerance", type=options.FiniteFloat(min=0), default=1e-4,
    help="Largest |ONNX - PyTorch| accepted.",
)  # fmt: skip
def onnx_command(
    network, output, part, noise, truncation_psi, opset, check_batches, tolerance
):  # fmt: skip
    """Export to ONNX (dynamic batch) and check it against PyTorch in onnxruntime.

    \b
    stylegan export onnx --network twemoji-32 --out twemoji-32.onnx
    stylegan export onnx --network NET.pkl --synthesis-only --noise input --out synthesis.onnx
    """
    import stylegan
    from stylegan.errors import StyleGANError
    from stylegan.io.onnx import export_onnx, require_onnx

    require_onnx()  # before the network loads
    try:
        batches = [int(b) for b in check_batches.split(",") if b.strip()]
    except ValueError:
        raise StyleGANError(f"--check-batches {check_batches!r}: give sizes like 1,2,5") from None
    G = stylegan.load(network, device="cpu")
    result = export_onnx(
        G, output, part=part, noise=noise, truncation_psi=truncation_psi, opset=opset,
        check_batches=batches, tolerance=tolerance, source=str(network),
    )  # fmt: skip
    parity = ", ".join(f"batch {b}: {d:.1e}" for b, d in result.parity.items())
    size = result.path.stat().st_size / 1e6
    click.echo(f"wrote {result.path} ({size:.1f} MB, opset {opset}) and {result.info_path}")
    click.echo(f"onnxruntime vs PyTorch, max |difference|: {parity} (tolerance {tolerance:g})")


COMMANDS = [export_group]
