"""``stylegan train``'s flags come from TrainingConfig's metadata and mean what
``resolve_run_config`` says they mean."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from stylegan.cli import cli
from stylegan.training import TrainingConfig, make_config, resolve_run_config
from stylegan.training.config import field_kinds

# A value for every field with a flag (the test below fails when a new flag has none), and
# extra args it needs to be valid; the preset is tiny unless an extra --cfg says otherwise.
SAMPLES = {
    "preset": ("tiny", ()),  # the default on a CPU is small
    "data": ("some/where.zip", ()),
    "cond": ("1", ()),
    "mirror": ("true", ()),
    "max_size": ("7", ()),
    "map_depth": ("3", ()),
    "channel_base": ("512", ()),
    "channel_max": ("64", ()),
    "mbstd_group_size": ("4", ()),
    "freezed": ("1", ()),
    "precision": ("bf16", ()),
    "batch_size": ("8", ()),
    "batch_gpu": ("2", ()),
    "g_lr": ("0.01", ()),
    "d_lr": ("0.02", ()),
    "r1_gamma": ("0.7", ()),
    "aug": ("diffaugment", ()),
    "augpipe": ("bg", ()),
    "ada_target": ("0.4", ("--aug", "ada")),
    "augment_p": ("0.3", ()),
    "diffaugment": ("color", ()),
    "loss": ("wgan-gp", ()),
    "lod_initial_resolution": ("16", ("--cfg", "stylegan1-small")),
    "lod_training_kimg": ("5", ()),
    "lod_transition_kimg": ("6", ()),
    "ema_kimg": ("3", ()),
    "total_kimg": ("3", ()),
    "max_minutes": ("2.5", ()),
    "kimg_per_tick": ("0.5", ()),
    "snapshot_ticks": ("3", ()),
    "image_snapshot_ticks": ("2", ()),
    "keep_snapshots": ("4", ()),
    "metrics": ("fid50k_full,kid50k_full", ()),
    "metrics_ticks": ("2", ()),
    "random_seed": ("7", ()),
    "device": ("cpu", ()),
    "num_workers": ("1", ()),
}
EXTRA_FIELDS = {"--aug": "aug", "--cfg": "preset"}
FLAGGED = {f.name: f.metadata["flags"] for f in dataclasses.fields(TrainingConfig) if f.metadata}


def dry_run(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["train", *args, "--dry-run"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def as_json(config: TrainingConfig) -> dict:
    return json.loads(json.dumps(config.to_dict()))


def test_every_field_with_a_flag_has_a_sample():
    assert set(SAMPLES) == set(FLAGGED)
    assert FLAGGED["map_depth"] == ("--map-depth", "--map")  # NVIDIA's alias kept


def test_every_flag_is_in_the_help():
    result = CliRunner().invoke(cli, ["train", "--help"])
    assert result.exit_code == 0
    for flags in FLAGGED.values():
        for flag in flags:
            assert f"{flag} " in result.output or f"{flag}," in result.output, flag
    for own in ("--outdir", "--resume", "--fp32", "--progress", "--dry-run"):
        assert own in result.output


def python_value(field: str, text: str):
    """What the sample means in Python (every bool sample says true)."""
    kind = field_kinds().get(field, (tuple, False))[0]
    if kind is bool:
        return True
    return tuple(text.split(",")) if kind is tuple else kind(text)


@pytest.mark.parametrize("field", sorted(SAMPLES))
def test_each_flag_sets_its_field(field):
    value, extra = SAMPLES[field]
    preset = [] if "--cfg" in extra or field == "preset" else ["--cfg", "tiny"]
    baseline = dry_run(*preset, *extra)
    overrides = {EXTRA_FIELDS[flag]: v for flag, v in zip(extra[::2], extra[1::2])}
    overrides.setdefault("preset", "tiny")
    overrides[field] = python_value(field, value)
    for flag in FLAGGED[field]:
        printed = dry_run(*preset, *extra, f"{flag}={value}")
        assert printed[field] != baseline[field], f"{flag}={value} changed nothing"
        assert printed[field] == as_json(resolve_run_config(overrides))[field]
        # The same choice through the Python API gives the same config.
        assert printed == as_json(resolve_run_config(overrides))


def test_fp32_turns_off_fp16_blocks_and_clamping():
    printed = dry_run("--cfg", "stylegan2", "--fp32")
    assert (printed["precision"], printed["num_fp16_res"], printed["conv_clamp"]) == (
        "fp32",
        0,
        None,
    )
    assert printed == as_json(resolve_run_config({"preset": "stylegan2"}, fp32=True))
    assert dry_run("--cfg", "stylegan2", "--fp32=false")["num_fp16_res"] == 4


def test_explicit_batch_or_lr_holds_at_every_resolution_of_stylegan1():
    grown = dry_run("--cfg", "stylegan1")
    assert grown["batch_per_resolution"] and grown["lr_per_resolution"]
    printed = dry_run("--cfg", "stylegan1", "--batch", "16")
    assert printed["batch_per_resolution"] is None and printed["lr_per_resolution"]
    assert printed == as_json(resolve_run_config({"preset": "stylegan1", "batch_size": 16}))
    printed = dry_run("--cfg", "stylegan1", "--glr", "0.003")
    assert printed["lr_per_resolution"] is None and printed["batch_per_resolution"]
    assert printed == as_json(resolve_run_config({"preset": "stylegan1", "g_lr": 0.003}))


def test_resume_of_a_run_folder_keeps_its_options(tmp_path):
    run = tmp_path / "00000-run"
    (run / "network-snapshot-000004").mkdir(parents=True)
    saved = make_config("tiny", r1_gamma=0.3, random_seed=5, data="d.zip")
    (run / "training_options.json").write_text(json.dumps(saved.to_dict()))
    printed = dry_run("--resume", str(run), "--kimg", "2")
    assert (printed["r1_gamma"], printed["random_seed"], printed["total_kimg"]) == (0.3, 5, 2)
    assert printed == as_json(resolve_run_config({"total_kimg": 2.0}, resume=str(run)))
    # Naming a preset starts from that preset instead of the saved options.
    fresh = dry_run("--resume", str(run), "--cfg", "tiny")
    assert fresh["r1_gamma"] == make_config("tiny").r1_gamma
