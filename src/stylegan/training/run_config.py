"""The config a training run gets: a preset or a resumed run's options, with overrides.

This is what ``stylegan train`` does with its flags, so the Python API trains exactly as the
command does. ``stylegan train --data ffhq.zip --cfg paper256 --gamma 1 --fp32`` is::

    from stylegan.training import resolve_run_config, train

    config = resolve_run_config({"data": "ffhq.zip", "preset": "paper256", "r1_gamma": 1},
                                fp32=True)
    train(config, outdir="training-runs")

and ``stylegan train --outdir runs --resume latest --kimg 500`` is::

    config = resolve_run_config({"total_kimg": 500}, resume="latest", outdir="runs")
    train(config, outdir="runs", resume="latest")
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stylegan.training.config import TrainingConfig
from stylegan.training.data_stream import dataset_resolution
from stylegan.training.presets import make_config
from stylegan.training.run_folder import saved_config


def resolve_run_config(
    overrides: Mapping[str, Any],
    resume: str | Path | None = None,
    outdir: str | Path = "training-runs",
    fp32: bool = False,
) -> TrainingConfig:
    """The :class:`TrainingConfig` of a run with ``overrides`` (field -> value, only what the
    user chose), as ``stylegan train`` resolves it.

    - ``resume`` (``latest`` in ``outdir``, a run folder or a snapshot): the run keeps its saved
      options, changed only by ``overrides``, unless ``overrides`` names another ``preset``.
    - Otherwise ``overrides["preset"]`` (default: ``auto`` on CUDA, ``small`` elsewhere); ``auto``
      and the StyleGAN3 presets read the resolution from ``overrides["data"]``.
    - ``fp32``, as NVIDIA's ``--fp32``: precision fp32, no fp16 blocks, no clamping.
    - An explicit ``batch_size`` or learning rate holds at every resolution of a growing run
      (the per-resolution tables of stylegan1 are dropped), as ``--batch`` / ``--glr`` / ``--dlr``.
    """
    given = dict(overrides)
    if fp32:
        given.update(precision="fp32", num_fp16_res=0, conv_clamp=None)
    if "batch_size" in given:
        given.setdefault("batch_per_resolution", None)
    if "g_lr" in given or "d_lr" in given:
        given.setdefault("lr_per_resolution", None)
    previous = saved_config(resume, outdir) if resume else None
    if previous is not None and "preset" not in given:
        return previous.replace(**given)
    preset = given.pop("preset", None)
    if preset is None:
        from stylegan.devices import resolve_device

        on_gpu = resolve_device(given.get("device", "auto")).type == "cuda"
        preset = "auto" if on_gpu else "small"
    by_resolution = preset == "auto" or preset.startswith("stylegan3")
    resolution = dataset_resolution(given.get("data")) if by_resolution else None
    return make_config(preset, resolution=resolution, **given)
