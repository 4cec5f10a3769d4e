"""Projecting real images into a network's latent space: ``project`` (NVIDIA's projector, W/W+,
or one pass of a trained encoder with ``--encoder``; optional PTI fine-tuning)."""

from __future__ import annotations

import click

from stylegan.cli import options


def _losses() -> tuple[str, ...]:
    from stylegan.metrics.perceptual import PERCEPTUAL_DISTANCES

    return PERCEPTUAL_DISTANCES


# What only the optimisation reads: refused beside --encoder rather than silently ignored.
OPTIMISATION_FLAGS = {
    "space": "--space", "num_steps": "--steps", "seed": "--seed", "class_idx": "--class"
}  # fmt: skip


@click.command("project")
@options.network()
@options.target()
@options.outdir()
@options.choice("--space", choices=["w", "w+"], default="w", help="One w, or one per layer.")
@options.counted("--steps", "num_steps", default=1000, help="Optimisation steps.")
@options.shown("--seed", type=int, default=303, help="Seed of the initial noise and w noise.")
@options.shown(
    "--loss",
    type=options.LazyChoice(_losses),
    default="auto",
    help="Perceptual loss: lpips (NVIDIA's; needs its weights), effnet (offline), mse, or auto "
    "(lpips when its weights are found locally, else effnet).",
)
@click.option("--lpips-weights", type=click.Path(), default=None, help="LPIPS v0.1 vgg.pth.")
@click.option(
    "--vgg-weights", type=click.Path(), default=None, help="torchvision vgg16-397923af.pth."
)
@click.option(
    "--save-video/--no-save-video",
    default=True,
    show_default=True,
    help="Write proj.mp4 (target beside the synthesis at every step).",
)
@click.option("--tune", is_flag=True, help="Then fine-tune G at the pivot (PTI); saves tuned/.")
@options.counted("--tune-steps", default=350, help="Most PTI steps.")
@click.option(
    "--encoder",
    "encoder_path",
    default=None,
    metavar="PATH",
    help="Invert with this encoder (`stylegan encoder train`) in one pass instead of optimising.",
)
@options.counted(
    "--refine-steps",
    default=None,
    minimum=0,
    help="--encoder: then refine each inversion by N optimisation steps in W+ (default 0).",
)
@options.class_idx()
@options.device()
@click.pass_context
def project_command(
    ctx, network, target, outdir, space, num_steps, seed, loss, lpips_weights, vgg_weights,
    save_video, tune, tune_steps, encoder_path, refine_steps, class_idx, device,
):  # fmt: skip
    """Project an image into the network (target.png, proj.png, projected_w.npz, proj.mp4).

    With --encoder, each target is inverted by the encoder (and --refine-steps steps) instead:
    the same files but the video, projection.json saying method "encoder".

    \b
    stylegan project --network NET --target face.png --outdir out --space w+ --tune
    stylegan project --network NET --target faces/ --outdir out --encoder enc/encoder
    stylegan generate --network NET --projected-w out/projected_w.npz --outdir out
    """
    from stylegan.errors import StyleGANError
    from stylegan.metrics.perceptual import load_perceptual_distance
    from stylegan.tools.projection import list_targets, project_files

    given = [
        flag
        for name, flag in OPTIMISATION_FLAGS.items()
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    ]
    if encoder_path is not None and given:
        raise StyleGANError(
            f"{', '.join(given)} set the optimisation, which --encoder replaces; drop them "
            "(--refine-steps refines the inversion)"
        )
    if encoder_path is None and refine_steps is not None:
        raise StyleGANError("--refine-steps refines an encoder's inversion; give --encoder too")
    list_targets(target)  # a missing target fails before the network loads
    G, resolved = options.load_generator(network, device)
    method: dict = dict(space=space, num_steps=num_steps, seed=seed, class_idx=class_idx)
    if encoder_path is not None:
        from stylegan.tools.encoder import check_compatible, load_encoder

        encoder = load_encoder(encoder_path, device=resolved)
        check_compatible(encoder, G)  # before any perceptual weights load
        method = dict(encoder=encoder, refine_steps=refine_steps or 0)
    distance = load_perceptual_distance(
        loss, resolved, lpips_weights=lpips_weights, vgg_weights=vgg_weights
    )
    click.echo(f"loss: {distance.name}")
    reports = project_files(
        G, target, outdir, loss=distance, save_video=save_video, tune_generator=tune,
        tune_steps=tune_steps, **method,
    )  # fmt: skip
    for report in reports:
        line = (
            f"{report.target}: PSNR {report.psnr:.2f} dB, {report.loss_name} {report.distance:.4f}"
        )
        if report.tuned_psnr is not None:
            line += f"; tuned PSNR {report.tuned_psnr:.2f} dB"
        click.echo(f"{line} -> {report.outdir}")


COMMANDS = [project_command]
