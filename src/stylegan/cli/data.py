"""``stylegan dataset``: images to a training dataset in NVIDIA's layout."""

from __future__ import annotations

import click

from stylegan.cli import options


@click.command("dataset")
@options.required(
    "--source", metavar="PATH", help="Folder (searched recursively) or .zip of images."
)
@options.required("--dest", metavar="PATH", help="Output: a .zip (recommended) or a folder.")
@options.required(
    "--resolution",
    metavar="N|WxH",
    help="Output size, a power of two (e.g. 256); WxH only with center-crop-wide.",
)
@options.choice(
    "--transform",
    choices=("center-crop", "center-crop-wide", "pad"),
    default=None,
    help="How to make non-square images square.",
)
@options.choice(
    "--resize-filter",
    choices=("box", "lanczos"),
    default="lanczos",
    help="Resampling filter (box matches the papers' FFHQ-256).",
)
@click.option(
    "--labels",
    metavar="CSV|folders",
    help="Class labels: a CSV of file,label rows or 'folders' (sub-folder = class).",
)
@options.shown(
    "--background",
    default="#ffffff",
    help="Colour behind transparency and for --transform pad.",
)
@options.shown(
    "--png-compression",
    type=click.IntRange(0, 9),
    default=0,
    help="PNG zlib level (0 decodes fastest, 9 is smallest).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing destination.")
def dataset_command(
    source,
    dest,
    resolution,
    transform,
    resize_filter,
    labels,
    background,
    png_compression,
    overwrite,
):
    """Convert a folder or zip of images into a training dataset (NVIDIA's layout).

    Output images are RGB PNGs of one square size; labels go to dataset.json.
    Unreadable files are skipped and listed.
    """
    from stylegan.data.dataset_tool import convert_dataset

    report = convert_dataset(
        source,
        dest,
        resolution,
        transform=transform,
        resize_filter=resize_filter,
        labels=labels,
        background=background,
        overwrite=overwrite,
        png_compression=png_compression,
    )
    click.echo(report.summary())


COMMANDS = [dataset_command]
