"""``stylegan edit``: move seeds or projected images along a latent direction, or toward a text
prompt with StyleCLIP's three methods (global directions, latent optimisation, a mapper)."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan.cli import options
from stylegan.cli.clip import CLIP_HELP
from stylegan.cli.options import FiniteFloat, generator_options, load_for_rendering


def split_direction_spec(spec: str) -> tuple[Path, str]:
    """``FILE[:K]`` -> ``(FILE, K)``, K an index or a name (default 0); a FILE that exists as
    given wins, so paths with colons still work."""
    if Path(spec).is_file() or ":" not in spec:
        return Path(spec), "0"
    path, key = spec.rsplit(":", 1)
    return Path(path), key or "0"


TEXT_METHODS = ("global", "optimize", "mapper")
DIRECTION_STRENGTHS, TEXT_STRENGTHS, OPTIMIZE_STRENGTHS = "-3:3:7", "0:2:5", "0,1,2"


@click.command("edit")
@generator_options
@options.seeds(required=False, default=None, help="Seeds of the rows, e.g. 0-3.")
@options.projected_w()
@click.option(
    "--direction",
    default=None,
    metavar="FILE[:K]",
    help="Direction file (ours, InterFaceGAN .npy, GANSpace .npz) and the direction in it: an "
    "index or a name (default 0).",
)
@click.option("--text", default=None, metavar="PROMPT", help="Edit toward a text (StyleCLIP).")
@options.choice(
    "--method",
    choices=TEXT_METHODS,
    default=None,
    help="--text: global (a style-space direction, instant once the network's channel relevance "
    "is cached; the default), optimize (300 steps per image) or mapper (give --mapper).",
)
@click.option(
    "--neutral",
    default=None,
    metavar="PROMPT",
    help="--method global: the text without the change, e.g. 'emoji' for 'red emoji'.",
)
@click.option("--clip", "clip_name", default="twemoji-clip", show_default=True, help=CLIP_HELP)
@options.shown(
    "--alpha", type=FiniteFloat(), default=4.1, help="--method global: the move of strength 1."
)
@options.shown(
    "--beta", type=FiniteFloat(min=0), default=0.15,
    help="--method global: channels less relevant than beta stay put (disentanglement).",
)  # fmt: skip
@click.option(
    "--mapper",
    "mapper_path",
    default=None,
    type=click.Path(),
    help="A mapper from `stylegan clip mapper` (OUT/mapper); implies --method mapper.",
)
@options.counted("--steps", default=300, help="--method optimize: Adam steps per image.")
@options.shown(
    "--l2", "l2_lambda", type=FiniteFloat(min=0), default=0.008,
    help="--method optimize: weight of ||w - w_source||^2 at strength 1 (divided by it).",
)  # fmt: skip
@options.counted(
    "--relevance-images", default=100, help="--method global: images per channel relevance."
)
@click.option(
    "--cache",
    default=None,
    type=click.Path(file_okay=False),
    help="--method global: folder of the channel relevance (default: the stylegan cache).",
)
@options.output_file(
    "--save-direction", required=False, help="--method global: also write the direction file."
)
@options.sweep(
    "--strength",
    "strengths",
    what="strength",
    default=None,
    help=f"Columns: START:STOP:COUNT (evenly spaced, both ends included) or a list like -2,0,2 "
    f"(default {DIRECTION_STRENGTHS}; for text {TEXT_STRENGTHS}, with optimize "
    f"{OPTIMIZE_STRENGTHS}: 1 is the method's edit).",
)
@options.layers(
    help="ws layers moved: all, coarse, middle, fine, 2-5 or 0,1,4 (default: the file's own)."
)
@options.choice(
    "--mode",
    choices=("shift", "project"),
    default="shift",
    help="shift adds strength x direction; project is InterFaceGAN's x + (d - x.n) n "
    "(strength = distance from the boundary).",
)
@options.noise_mode()
@options.outdir()
@options.save_cells()
@click.option("--video/--no-video", default=False, show_default=True, help="Also write edit.mp4.")
@options.counted("--frames", "num_frames", default=60, help="--video: frames in the sweep.")
@options.fps()
def edit_command(
    seeds, projected_w, direction, text, method, neutral, clip_name, alpha, beta, mapper_path,
    steps, l2_lambda, relevance_images, cache, output, strengths, layers, mode, noise_mode, outdir,
    save_cells, video, num_frames, fps, **generator,
):  # fmt: skip
    """Edit grid (edit.png): rows of seeds or projected ws, columns of strengths.

    \b
    stylegan edit --network NET --seeds 0-3 --direction sefa.npz:0 --strength=-3:3:7 --outdir out
    stylegan edit --network twemoji-32 --seeds 0-3 --text 'red heart' --neutral emoji --outdir o
    stylegan edit --network twemoji-32 --seeds 0-3 --mapper run/mapper --outdir out
    """
    from stylegan.errors import StyleGANError
    from stylegan.latents import parse_value_sweep

    if (seeds is None) == (projected_w is None):
        raise StyleGANError("give exactly one of --seeds and --projected-w (the rows to edit)")
    is_text = text is not None or method is not None or mapper_path is not None
    if (direction is None) == (not is_text):
        raise StyleGANError(
            "give --direction FILE, or --text PROMPT (or --mapper FILE) for a text edit"
        )
    if strengths is None:
        default = DIRECTION_STRENGTHS if direction is not None else TEXT_STRENGTHS
        default = OPTIMIZE_STRENGTHS if method == "optimize" else default
        strengths = parse_value_sweep(default, "strength", default)
    rows = dict(seeds=seeds, projected_w=projected_w, strengths=strengths, noise_mode=noise_mode)
    out = dict(outdir=outdir, save_cells=save_cells, video=video, num_frames=num_frames, fps=fps)
    if direction is not None:
        if output is not None:
            raise StyleGANError("--save-direction is for text edits; --direction is a file already")
        _edit_along_direction(direction, layers, mode, generator, rows, out)
        return
    method = method or ("mapper" if mapper_path is not None else "global")
    text_options = dict(
        text=text, method=method, neutral=neutral, clip_name=clip_name, alpha=alpha, beta=beta,
        mapper_path=mapper_path, steps=steps, l2_lambda=l2_lambda,
        relevance_images=relevance_images, cache=cache, save_direction=output, layers=layers,
    )  # fmt: skip
    _edit_toward_text(text_options, generator, rows, out)


def _rows(G, render, rows, space: str = "w"):
    """The latents of the rows (ws, or z for a z-space direction) and their names."""
    from stylegan.errors import StyleGANError
    from stylegan.latents import parse_seeds, z_from_seeds
    from stylegan.tools.generate import seeds_to_ws
    from stylegan.tools.projection import load_projected_w

    device, psi, cutoff = render["device"], render["truncation_psi"], render["truncation_cutoff"]
    if rows["projected_w"] is not None:
        if space == "z":
            raise StyleGANError(
                "this is a z-space direction, but projected ws have no z: use --seeds, or a w "
                "or s direction"
            )
        latents = load_projected_w(rows["projected_w"], G)
        click.echo(f"editing {len(latents)} projected w(s) from {rows['projected_w']}")
        return latents, None
    seed_list = parse_seeds(rows["seeds"])
    names = [f"seed{s:04d}" for s in seed_list]
    if space == "z":
        return z_from_seeds(seed_list, G.z_dim, device=device), names
    return seeds_to_ws(G, seed_list, psi, cutoff, render["class_idx"], device=device), names


def _write(images, frames, rows, out, names) -> None:
    """edit.png (and the cells, and edit.mp4 from ``frames()`` when asked)."""
    from stylegan.tools.editing import save_edit
    from stylegan.tools.video import write_video

    outdir = Path(out["outdir"])
    paths = save_edit(images, rows["strengths"], outdir, names, save_cells=out["save_cells"])
    click.echo(f"wrote {paths[0]}" + (f" and {len(paths) - 1} images" if out["save_cells"] else ""))
    if out["video"]:
        click.echo(f"wrote {write_video(frames(), outdir / 'edit.mp4', fps=out['fps'])}")


def _edit_along_direction(direction, layers, mode, generator, rows, out) -> None:
    from stylegan.latents import class_labels
    from stylegan.tools.direction_set import load_directions
    from stylegan.tools.editing import edit_images, edit_video_frames

    path, key = split_direction_spec(direction)
    directions = load_directions(path)
    directions.index(key)  # a bad index or name fails before the network loads
    G, render = load_for_rendering(**generator)
    directions.check_network(G)
    latents, names = _rows(G, render, rows, directions.space)
    c = None
    if directions.space == "z":
        c = class_labels(generator["class_idx"], G.c_dim, len(latents), device=render["device"])
    edit = dict(
        layers=layers, mode=mode, noise_mode=rows["noise_mode"],
        batch_size=render["batch_size"], truncation_psi=render["truncation_psi"],
        truncation_cutoff=render["truncation_cutoff"], c=c, device=render["device"],
    )  # fmt: skip
    strengths = rows["strengths"]
    images = edit_images(G, latents, directions, key, strengths, **edit)
    name = directions.names[directions.index(key)]
    click.echo(
        f"direction {name} ({directions.method}, space {directions.space}), strengths "
        f"{', '.join(f'{s:g}' for s in strengths)}"
    )
    frames = lambda: edit_video_frames(  # noqa: E731
        G, latents, directions, key, strengths, out["num_frames"], **edit
    )
    _write(images, frames, rows, out, names)


def _edit_toward_text(opts, generator, rows, out) -> None:
    """StyleCLIP's three methods, each ending in the same grid (and video) as a direction edit."""
    from stylegan.errors import StyleGANError

    method, text, strengths = opts["method"], opts["text"], rows["strengths"]
    if method != "mapper" and text is None:
        raise StyleGANError(f"--method {method} needs --text PROMPT")
    if method == "mapper" and opts["mapper_path"] is None:
        raise StyleGANError(
            "--method mapper needs --mapper FILE: train one with `stylegan clip mapper --text "
            "PROMPT --network NET --out DIR`, then pass --mapper DIR/mapper"
        )
    if method != "mapper" and opts["mapper_path"] is not None:
        raise StyleGANError(f"--mapper is for --method mapper, not {method}")
    if method == "global" and opts["neutral"] is None:
        raise StyleGANError(
            "--method global needs --neutral PROMPT, the text without the change (e.g. --text "
            "'red heart' --neutral heart); StyleCLIP edits along their difference"
        )
    if opts["save_direction"] is not None and method != "global":
        raise StyleGANError(
            "--save-direction needs --method global (optimisation and mapper edits are per image)"
        )
    if opts["layers"] is not None and method != "global":
        raise StyleGANError("--layers applies to --direction and --method global edits")
    G, render = load_for_rendering(**generator)
    latents, names = _rows(G, render, rows)
    mapper = None
    if method == "mapper":
        from stylegan.tools.clip_mapper import load_mapper

        mapper = load_mapper(opts["mapper_path"], G, device=render["device"])
        text = text or mapper.prompt
        click.echo(f"mapper {opts['mapper_path']}, trained for {mapper.prompt!r}")
    from stylegan.clip import load_clip

    clip = load_clip(opts["clip_name"], render["device"])
    opts = {**opts, "text": text}
    if method == "global":
        images, frames = _global_edit(G, clip, latents, opts, rows, out, render)
    else:
        images, frames = _ws_edit(G, clip, mapper, latents, opts, rows, out, render)
    from stylegan.tools.styleclip import image_similarity

    sims = image_similarity(clip, images.reshape(-1, *images.shape[2:]), text)
    by_strength = zip(strengths, sims.reshape(images.shape[:2]).mean(0))
    click.echo(
        f"{clip.name} similarity to {text!r} by strength (mean of rows): "
        + ", ".join(f"{s:g}: {v:.3f}" for s, v in by_strength)
    )
    _write(images, frames, rows, out, names)


def _global_edit(G, clip, latents, opts, rows, out, render):
    from stylegan.io.download import cache_dir
    from stylegan.tools.editing import edit_images, edit_video_frames
    from stylegan.tools.styleclip import text_global_direction

    cache = opts["cache"] or cache_dir() / "styleclip"
    direction = text_global_direction(
        G, clip, opts["text"], opts["neutral"], alpha=opts["alpha"], beta=opts["beta"],
        num_images=opts["relevance_images"], cache=cache, clip_name=opts["clip_name"],
    )  # fmt: skip
    info = direction.info
    click.echo(
        f"global direction {opts['text']!r} - {opts['neutral']!r}: {info['channels']} style "
        f"channels at beta {opts['beta']:g} (max relevance {info['max_relevance']:.3f}), "
        f"alpha {opts['alpha']:g}"
    )
    if opts["save_direction"] is not None:
        click.echo(f"wrote {direction.save(opts['save_direction'])}")
    edit = dict(
        layers=opts["layers"], noise_mode=rows["noise_mode"], batch_size=render["batch_size"],
        device=render["device"],
    )  # fmt: skip
    images = edit_images(G, latents, direction, 0, rows["strengths"], **edit)
    frames = lambda: edit_video_frames(  # noqa: E731
        G, latents, direction, 0, rows["strengths"], out["num_frames"], **edit
    )
    return images, frames


def _ws_edit(G, clip, mapper, latents, opts, rows, out, render):
    """Optimisation (its ws written as edited_w.npz) and mapper edits: ws moved per image."""
    import numpy as np
    import torch

    from stylegan.tools.projection import save_projected_w
    from stylegan.tools.styleclip import edited_frames, edited_images, optimized_edit

    if mapper is None:
        edit = optimized_edit(
            G, clip, opts["text"], latents, rows["strengths"], steps=opts["steps"],
            l2_lambda=opts["l2_lambda"], noise_mode=rows["noise_mode"],
        )  # fmt: skip
        strengths = sorted(edit.results)
        ws = torch.stack([edit.results[s] for s in strengths], dim=1).flatten(0, 1)
        path = save_projected_w(
            Path(out["outdir"]) / "edited_w.npz", ws, strengths=np.asarray(strengths)
        )
        click.echo(f"wrote {path} (the ws of every row and strength, as projected_w.npz)")
    else:
        edit = mapper.edit
    draw = dict(noise_mode=rows["noise_mode"], batch_size=render["batch_size"])
    images = edited_images(G, latents, edit, rows["strengths"], **draw)
    frames = lambda: edited_frames(  # noqa: E731
        G, latents, edit, rows["strengths"], out["num_frames"], **draw
    )
    return images, frames


COMMANDS = [edit_command]
