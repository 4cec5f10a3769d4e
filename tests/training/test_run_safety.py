"""Training never loses a run and says how it ended: damaged or half-swapped snapshots on
resume, snapshots without their training state, exit statuses of interrupted runs, output
locations checked first, and a full disk while training."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from signalled import signal_after_tick

from stylegan.cli import cli
from stylegan.errors import StyleGANError
from stylegan.io import checkpoint as ckpt
from stylegan.io.checkpoint import load_checkpoint, verify_checkpoint
from stylegan.training import TrainingInterrupted, find_latest_snapshot, loop, train
from stylegan.training.run_folder import list_snapshots
from stylegan.training.stats import RunLog


def dead_pid() -> int:
    """The id of a process that has exited (as a killed run's would be)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def truncate(file: Path, keep: int = 100) -> None:
    file.write_bytes(file.read_bytes()[:keep])


@pytest.fixture
def trained(tiny_config, tmp_path):
    """A run of 2 steps: one snapshot (network-snapshot-000000, 8 images) with its state."""
    run = train(tiny_config(steps=2), tmp_path / "out", progress=False)
    return run, find_latest_snapshot(run)


def cur_nimg(snapshot: Path) -> int:
    return load_checkpoint(snapshot).training_state["cur_nimg"]


def test_damaged_newest_snapshot_falls_back_to_the_newest_intact_one(trained, tiny_config, capsys):
    run, good = trained
    bad = run / "network-snapshot-000005"  # newer by name, its model file cut short
    shutil.copytree(good, bad)
    truncate(bad / "model.safetensors")
    capsys.readouterr()
    resumed = train(tiny_config(steps=4), run.parent, resume="latest", progress=False)
    assert resumed == run
    skipped = "Skipped:     network-snapshot-000005: "
    log = (run / "log.txt").read_text().split("Run folder:")[-1]
    assert skipped in log and "model.safetensors is truncated" in log
    assert skipped in capsys.readouterr().out  # the console says so too
    assert f"Resuming:    {good} at kimg 0.0 (full training state" in log
    assert cur_nimg(good) == 16  # continued from the intact one (8 images) to 16
    # Kept, under a name the run's own snapshots never take (nor --resume latest picks).
    assert "(kept as network-snapshot-000005.damaged)" in log
    assert not bad.exists() and (run / "network-snapshot-000005.damaged").is_dir()
    assert list_snapshots(run) == [good]


def test_a_run_folder_with_no_intact_snapshot_is_one_line(trained, tiny_config):
    run, good = trained
    shutil.copytree(good, run / "network-snapshot-000003")
    truncate(good / "model.safetensors")
    (run / "network-snapshot-000003" / "config.json").write_text("{not json")
    for resume in ("latest", run):
        with pytest.raises(StyleGANError) as caught:
            train(tiny_config(steps=4), run.parent, resume=resume, progress=False)
        message = str(caught.value)
        assert "\n" not in message and "no snapshot in" in message
        assert "network-snapshot-000003: " in message and "network-snapshot-000000: " in message


def test_a_snapshot_moved_aside_by_a_crashed_swap_is_found(trained, tiny_config):
    run, good = trained
    aside = run / f".network-snapshot-000000.old-{dead_pid()}"
    good.rename(aside)  # the process died between the two renames of a swap
    assert list_snapshots(run) == [good] and not aside.exists()
    good.rename(aside)
    resumed = train(tiny_config(steps=4), run.parent, resume="latest", progress=False)
    assert resumed == run and cur_nimg(good) == 16


def test_stale_temporaries_of_dead_processes_are_removed_at_start(trained, tiny_config):
    run, good = trained
    orphan = run / f".network-snapshot-000001.tmp-{dead_pid()}"
    shutil.copytree(good, orphan)  # what kill -9 during a snapshot leaves
    # Already trained: no snapshot is written, so only the start cleans up.
    train(tiny_config(steps=2), run.parent, resume="latest", progress=False)
    assert "Already trained" in (run / "log.txt").read_text()
    assert not orphan.exists() and cur_nimg(good) == 8


def test_a_snapshot_without_training_state_needs_networks_only(trained, tiny_config, tmp_path):
    run, good = trained
    for name in ("training_state.json", "training_state.safetensors"):
        (good / name).unlink()
    for resume in (good, "latest"):
        with pytest.raises(StyleGANError, match="no training state.*--networks-only") as caught:
            train(tiny_config(steps=4), run.parent, resume=resume, progress=False)
        assert "\n" not in str(caught.value)
    fine_tuned = train(
        tiny_config(steps=3), run.parent, resume="latest", progress=False, networks_only=True
    )
    assert fine_tuned != run and fine_tuned.parent == run.parent  # a new run folder
    log = (fine_tuned / "log.txt").read_text()
    assert "networks only, as --networks-only asks: kimg 0, fresh optimisers" in log
    assert cur_nimg(find_latest_snapshot(fine_tuned)) == 12  # counted from 0, not from 8
    # --outdir the run folder itself: the new run goes beside it, never inside it
    beside = train(tiny_config(steps=3), run, resume="latest", progress=False, networks_only=True)
    assert beside.parent == run.parent and not any(
        p.is_dir() and p.name[:1].isdigit() for p in run.iterdir()
    )


def test_a_damaged_training_state_is_refused_or_skipped(trained, tiny_config):
    run, good = trained
    truncate(good / "training_state.safetensors")
    with pytest.raises(StyleGANError, match="training_state.safetensors.*--networks-only"):
        train(tiny_config(steps=4), run.parent, resume=good, progress=False)
    fine_tuned = train(tiny_config(steps=3), run.parent, resume=good, networks_only=True,
                       progress=False)  # fmt: skip
    assert cur_nimg(find_latest_snapshot(fine_tuned)) == 12


def test_networks_only_needs_resume(tiny_config, tmp_path):
    with pytest.raises(StyleGANError, match="--networks-only.*give --resume"):
        train(tiny_config(), tmp_path, networks_only=True, progress=False)


def test_sigterm_exits_143_from_the_cli_with_a_resumable_snapshot(shapes_dataset, tmp_path):
    out = tmp_path / "runs"
    command = [sys.executable, "-m", "stylegan", "train", "--outdir", str(out), "--data",
               str(shapes_dataset), "--cfg", "tiny", "--kimg", "1000", "--tick", "0.008",
               "--no-progress"]  # fmt: skip
    returncode, stdout, stderr = signal_after_tick(command, out, 1, signal.SIGTERM)
    assert returncode == 143, stdout + stderr
    snapshot = find_latest_snapshot(out)
    assert verify_checkpoint(snapshot) == [] and cur_nimg(snapshot) >= 8
    assert "Stopped by SIGTERM" in stdout
    assert stderr.strip().splitlines()[-1] == (
        f"training stopped by SIGTERM (exit status 143); resumable snapshot: {snapshot}; "
        f"continue with: stylegan train --outdir {snapshot.parent} --resume latest"
    )


def test_interrupted_is_raised_after_the_snapshot_and_the_log(tiny_config, tmp_path, monkeypatch):
    step = loop.training_step

    def interrupted_step(state, *args, **kwargs):
        result = step(state, *args, **kwargs)
        if state.batch_idx == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(loop, "training_step", interrupted_step)
    with pytest.raises(TrainingInterrupted) as caught:
        train(tiny_config(steps=100), tmp_path, progress=False)
    err = caught.value
    assert (err.signal_name, err.exit_code) == ("SIGINT", 130)
    assert err.snapshot == find_latest_snapshot(tmp_path) and cur_nimg(err.snapshot) == 12
    log = (err.run_dir / "log.txt").read_text()
    assert log.rstrip().endswith("--resume latest") and "Stopped by SIGINT at kimg 0.012" in log


def test_every_command_that_trains_exits_with_the_signal_status(tmp_path, monkeypatch):
    import stylegan.demo

    def interrupted(*args, **kwargs):
        raise TrainingInterrupted(tmp_path / "run", tmp_path / "run" / "snap", "SIGTERM")

    monkeypatch.setattr(stylegan.demo, "run_demo", interrupted)
    result = CliRunner().invoke(cli, ["demo", "--no-zoo", "--outdir", str(tmp_path)])
    assert result.exit_code == 143 and result.output.count("\n") == 1, result.output
    assert result.output.startswith("training stopped by SIGTERM (exit status 143)")

    def second_ctrl_c(*args, **kwargs):  # stops at once, without a snapshot of this step
        raise KeyboardInterrupt

    monkeypatch.setattr(stylegan.demo, "run_demo", second_ctrl_c)
    result = CliRunner().invoke(cli, ["demo", "--no-zoo", "--outdir", str(tmp_path)])
    assert result.exit_code == 130 and result.output.startswith("interrupted (Ctrl-C)")


def test_time_limit_still_exits_0(shapes_dataset, tmp_path):
    args = ["train", "--outdir", str(tmp_path), "--data", str(shapes_dataset), "--cfg", "tiny",
            "--kimg", "1000", "--tick", "0.004", "--minutes", "1e-6", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Time limit of 1e-06 min reached" in result.output and "Continue with:" in result.output


def test_outdir_is_checked_before_the_dataset_is_read(tiny_config, tmp_path, monkeypatch):
    def no_reading(*args, **kwargs):
        raise AssertionError("the dataset was opened")

    monkeypatch.setattr(loop, "open_dataset", no_reading)
    a_file = tmp_path / "runs"
    a_file.write_text("")
    with pytest.raises(StyleGANError, match="--outdir .*runs is a file, not a folder"):
        train(tiny_config(), a_file, progress=False)
    locked = tmp_path / "locked"
    locked.mkdir()
    access = os.access  # root writes anywhere: deny it as the kernel denies others (or a RO fs)
    monkeypatch.setattr(
        os, "access", lambda p, mode: os.fspath(p) != str(locked) and access(p, mode)
    )
    with pytest.raises(StyleGANError, match="--outdir .* is not writable"):
        train(tiny_config(), locked / "runs", progress=False)
    result = CliRunner().invoke(cli, ["train", "--outdir", str(locked / "runs"), "--kimg", "1"])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith("error: --outdir ") and "not writable" in result.output


def _train_cli(data: Path, out: Path, *extra: str):
    args = ["train", "--outdir", str(out), "--data", str(data), "--cfg", "tiny", "--kimg",
            "0.016", "--tick", "0.004", "--snap", "1", "--no-progress", *extra]  # fmt: skip
    return CliRunner().invoke(cli, args)


def test_disk_full_during_a_snapshot_keeps_the_previous_one(shapes_dataset, tmp_path, monkeypatch):
    real_save = ckpt.save_file
    calls = {"n": 0}

    def fills_the_disk(tensors, filename, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2:  # the first snapshot (model + training state) fits, then it is full
            with open(filename, "wb") as f:
                f.write(b"\0" * 1000)  # part of it made it to the disk
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filename))
        return real_save(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(ckpt, "save_file", fills_the_disk)
    out = tmp_path / "runs"
    result = _train_cli(shapes_dataset, out)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    last = result.output.rstrip("\n").splitlines()[-1]
    assert last.startswith("error: not enough disk space to write ") and "snapshot" in last
    snapshot = find_latest_snapshot(out)
    assert verify_checkpoint(snapshot) == [] and cur_nimg(snapshot) == 4
    assert not [p for p in snapshot.parent.iterdir() if p.name.startswith(".")]
    assert "Stopped by an error: not enough disk space" in (snapshot.parent / "log.txt").read_text()

    monkeypatch.setattr(ckpt, "save_file", real_save)  # space freed: the run continues
    result = CliRunner().invoke(cli, ["train", "--outdir", str(out), "--resume", "latest",
                                      "--no-progress"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert cur_nimg(find_latest_snapshot(out)) == 16


def test_disk_full_while_saving_a_sample_grid_leaves_no_half_png(
    shapes_dataset, tmp_path, monkeypatch
):
    from PIL import Image

    real_save = Image.Image.save

    def fills_the_disk(self, fp, *args, **kwargs):
        if "fakes" in str(fp):
            Path(fp).write_bytes(b"\x89PNG half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", fills_the_disk)
    result = _train_cli(shapes_dataset, tmp_path / "runs")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    last = result.output.rstrip("\n").splitlines()[-1]
    assert last.startswith("error: disk full while writing ") and "fakes_init.png" in last
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "reals.png").is_file()
    assert not [p.name for p in run.iterdir() if "fakes" in p.name]  # no half PNG, no temporary


def test_disk_full_in_any_other_writer_is_one_line(shapes_dataset, tmp_path, monkeypatch):
    def metrics_on_a_full_disk(run, *args):  # e.g. metric-*.jsonl, TensorBoard events
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(run.run_dir / "metric.jsonl"))

    monkeypatch.setattr(loop, "_tick_outputs", metrics_on_a_full_disk)
    result = _train_cli(shapes_dataset, tmp_path / "runs")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    last = result.output.rstrip("\n").splitlines()[-1]
    assert last.startswith("error: disk full while writing ") and "metric.jsonl" in last


class _FullDisk:
    """A log file on a disk that has just filled up."""

    def __init__(self, file):
        self.file = file

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def close(self) -> None:
        self.file.close()
        self.flush()


@pytest.mark.parametrize("attribute, name", [("_log", "log.txt"), ("_jsonl", "stats.jsonl")])
def test_disk_full_while_logging_is_one_line(
    shapes_dataset, tmp_path, monkeypatch, attribute, name
):
    opened = RunLog.__init__

    def on_a_full_disk(self, *args, **kwargs):
        opened(self, *args, **kwargs)
        setattr(self, attribute, _FullDisk(getattr(self, attribute)))

    monkeypatch.setattr(RunLog, "__init__", on_a_full_disk)
    result = _train_cli(shapes_dataset, tmp_path / "runs")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    last = result.output.rstrip("\n").splitlines()[-1]
    assert last.startswith("error: disk full while writing ") and last.count(name) == 1


def test_cli_networks_only_and_the_documented_exit_statuses(shapes_dataset, tmp_path):
    help_text = CliRunner().invoke(cli, ["train", "--help"]).output
    assert "130 after Ctrl-C (SIGINT) and 143 after SIGTERM" in help_text
    out = tmp_path / "runs"
    assert _train_cli(shapes_dataset, out, "--kimg", "0.004").exit_code == 0
    snapshot = find_latest_snapshot(out)
    for name in ("training_state.json", "training_state.safetensors"):
        (snapshot / name).unlink()
    resume = ["train", "--outdir", str(out), "--resume", "latest", "--no-progress"]
    result = CliRunner().invoke(cli, resume)
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert result.output.startswith("error: --resume: ") and "--networks-only" in result.output
    result = CliRunner().invoke(cli, [*resume, "--networks-only"])
    assert result.exit_code == 0, result.output
    assert "as --networks-only asks" in result.output and len(list(out.iterdir())) == 2
