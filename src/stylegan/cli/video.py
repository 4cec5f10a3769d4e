"""``stylegan video``: latent interpolation or StyleGAN3 motion videos."""

from __future__ import annotations

import click

from stylegan.cli import options
from stylegan.cli.options import (
    FiniteFloat,
    generator_options,
    load_for_rendering,
    load_generator,
)


@click.command("video")
@generator_options
@options.seeds(help="Keyframe seeds, consecutive per grid cell, e.g. 0-7.")
@click.option("--grid", default="1x1", show_default=True, help="Cells as COLSxROWS, e.g. 2x2.")
@options.counted(
    "--num-keyframes",
    default=None,
    help="Keyframes per cell (seeds are reused); default: seeds / cells.",
)
@options.counted("--frames-per-key", default=60, help="Frames from one keyframe to the next.")
@options.choice(
    "--kind",
    choices=("linear", "slerp", "cubic"),
    default="cubic",
    help="Interpolation; slerp needs --space z.",
)
@options.choice("--space", choices=("z", "w"), default="w", help="Latent space to interpolate in.")
@options.fps()
@options.choice(
    "--format",
    "video_format",
    choices=("mp4", "gif"),
    default=None,
    help="Default: from the --output suffix; mp4 falls back to gif without ffmpeg.",
)
@options.output_file(help="Video file.")
@click.option(
    "--motion",
    default=None,
    metavar="pan|circle|rotate",
    help="Instead of interpolating latents, move the input of each seed's fixed latent: "
    "pan, circle, rotate, or a combination such as circle+rotate (StyleGAN3 motion videos).",
)
@options.counted("--frames", "num_frames", default=120, help="--motion: frames in the video.")
@options.shown("--speed", type=FiniteFloat(), default=1.0, help="--motion pan: pixels per frame.")
@click.option(
    "--radius",
    type=FiniteFloat(),
    default=None,
    help="--motion circle: pixels (default: size / 8).",
)
@options.shown(
    "--degrees",
    type=FiniteFloat(),
    default=360.0,
    help="--motion rotate: degrees over the whole video.",
)
@click.option(
    "--compare",
    "compare_network",
    metavar="PATH",
    default=None,
    help="--motion: a second network shown to the right, same seeds and motion "
    "(e.g. StyleGAN2 beside StyleGAN3 to show texture sticking).",
)
def video_command(
    seeds,
    grid,
    num_keyframes,
    frames_per_key,
    kind,
    space,
    fps,
    video_format,
    output,
    motion,
    num_frames,
    speed,
    radius,
    degrees,
    compare_network,
    **generator,
):
    """Looping latent interpolation video (noise held fixed), or with --motion a motion video
    of fixed latents, as an MP4 or GIF."""
    from stylegan.tools.video import interpolation_frames, keyframe_seeds, parse_grid, write_video

    # Check the request before loading the network.
    if motion is not None:
        from stylegan.tools.motion import motion_frames, parse_motion

        parse_motion(motion)
        cols, _ = parse_grid(grid)
    else:
        cells = keyframe_seeds(seeds, grid, num_keyframes)
        num_frames = len(cells[0]) * frames_per_key
    G, render = load_for_rendering(**generator)
    if motion is not None:
        other = load_generator(compare_network, generator["device"])[0] if compare_network else None
        frames = motion_frames(
            G,
            seeds,
            motion=motion,
            num_frames=num_frames,
            compare=other,
            speed=speed,
            radius=radius,
            degrees=degrees,
            grid_cols=None if grid == "1x1" else cols,
            **render,
        )
    else:
        frames = interpolation_frames(
            G,
            seeds,
            grid=grid,
            frames_per_key=frames_per_key,
            kind=kind,
            space=space,
            num_keyframes=num_keyframes,
            **render,
        )
    path = write_video(frames, output, fps=fps, format=video_format)
    click.echo(f"wrote {path} ({num_frames} frames, {num_frames / fps:.1f} s)")


COMMANDS = [video_command]
