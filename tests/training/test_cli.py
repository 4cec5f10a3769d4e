"""``stylegan train`` end to end, and its one-line errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from stylegan.cli import cli
from stylegan.io.checkpoint import load_checkpoint
from stylegan.training import find_latest_snapshot


def run_cli(*args: str):
    return CliRunner().invoke(cli, ["train", *args], catch_exceptions=False)


def test_train_then_resume_latest(shapes_dataset, tmp_path):
    out = tmp_path / "runs"
    result = run_cli(
        "--outdir",
        str(out),
        "--data",
        str(shapes_dataset),
        "--cfg",
        "tiny",
        "--kimg",
        "0.008",
        "--tick",
        "0.004",
        "--snap",
        "1",
        "--gamma",
        "0.5",
        "--mirror",
        "--seed",
        "3",
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    (run,) = out.iterdir()
    assert run.name == "00000-shapes-tiny-mirror-batch4-gamma0.5"
    for name in (
        "training_options.json",
        "log.txt",
        "stats.jsonl",
        "reals.png",
        "fakes_init.png",
        "fakes000000.png",
        "network-snapshot-000000",
    ):
        assert (run / name).exists(), name
    assert f"run folder: {run}" in result.output
    options = json.loads((run / "training_options.json").read_text())
    assert (options["r1_gamma"], options["mirror"], options["random_seed"]) == (0.5, True, 3)
    assert options["derived"]["dataset"]["num_images"] == 48  # mirrored copies

    # --resume latest keeps the run's options (data, gamma, seed, ...) and extends --kimg.
    result = run_cli("--outdir", str(out), "--resume", "latest", "--kimg", "0.016", "--no-progress")
    assert result.exit_code == 0, result.output
    assert list(out.iterdir()) == [run]
    state = load_checkpoint(find_latest_snapshot(out)).training_state
    assert state["cur_nimg"] == 16
    options = json.loads((run / "training_options.json").read_text())
    assert (options["r1_gamma"], options["total_kimg"]) == (0.5, 0.016)
    assert "Resuming" in (run / "log.txt").read_text()


@pytest.mark.parametrize(
    "flag,expected", [("--mirror", True), ("--mirror=1", True), ("--mirror=false", False)]
)
def test_bool_flags_accept_nvidia_spelling(flag, expected):
    result = run_cli("--cfg", "tiny", flag, "--dry-run")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["mirror"] is expected


def test_default_preset_on_cpu_is_small():
    result = run_cli("--device", "cpu", "--dry-run")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["preset"] == "small"


def test_auto_reads_the_resolution_from_the_data(shapes_dataset):
    result = run_cli("--cfg", "auto", "--data", str(shapes_dataset), "--dry-run")
    config = json.loads(result.output)
    assert (config["resolution"], config["batch_size"], config["map_depth"]) == (16, 32, 2)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--cfg", "tiny", "--cond"], "--cond needs class labels"),
        (["--cfg", "tiny", "--batch", "6", "--mbstd-group", "4"], "not divisible"),
        (["--resume", "nowhere/network-snapshot-000000"], "does not exist"),
        (["--cfg", "tiny", "--metrics", "fid9"], "unknown metric 'fid9'"),
    ],
)
def test_errors_are_one_line(unlabelled_dataset, tmp_path, args, message):
    args = ["--outdir", str(tmp_path), "--data", str(unlabelled_dataset), *args, "--no-progress"]
    result = CliRunner().invoke(cli, ["train", *args])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.output
    assert "Traceback" not in result.output


def test_every_preset_is_a_cfg_choice():
    from stylegan.training.presets import PRESETS

    option = next(p for p in cli.commands["train"].params if "--cfg" in p.opts)
    assert set(option.type.choices) == set(PRESETS)
