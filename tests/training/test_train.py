"""Whole runs with the tiny preset: outputs, exact resume, Ctrl-C, non-finite losses, labels."""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from signalled import signal_after_tick

from stylegan.errors import StyleGANError
from stylegan.io.checkpoint import load_checkpoint
from stylegan.training import find_latest_snapshot, loss, train
from stylegan.training.run_folder import list_snapshots
from stylegan.training.signals import GracefulStop


def only_run(outdir: Path) -> Path:
    (run,) = [p for p in outdir.iterdir() if p.is_dir()]
    return run


def test_run_folder_contents(tiny_config, tmp_path):
    config = tiny_config(steps=6, snapshot_ticks=1, keep_snapshots=2, kimg_per_tick=0.004)
    run = train(config, tmp_path, progress=False)
    assert run.parent == tmp_path and run.name == "00000-shapes-tiny-batch4-gamma0.05"
    for name in ("training_options.json", "log.txt", "stats.jsonl", "reals.png", "fakes_init.png"):
        assert (run / name).is_file(), name
    assert list(run.glob("events.out.tfevents.*")), "TensorBoard events"
    assert (run / "fakes000000.png").is_file()

    options = json.loads((run / "training_options.json").read_text())
    assert options["preset"] == "tiny" and options["derived"]["dataset"]["num_images"] == 24
    log = (run / "log.txt").read_text()
    assert "tick 0 " in log and "sec/kimg" in log and "cpumem" in log and "Done" in log
    ticks = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert len(ticks) == 6  # one tick per step here (the first ends after step one)
    assert ticks[-1]["Progress/kimg"]["mean"] == pytest.approx(0.024)
    assert np.isfinite(ticks[-1]["Loss/G/loss"]["mean"])

    # Six snapshots were written at the same kimg 0 name, plus keep=2: one folder remains.
    snapshots = list_snapshots(run)
    assert [p.name for p in snapshots] == ["network-snapshot-000000"]
    ckpt = load_checkpoint(snapshots[0])
    assert set(ckpt.networks) == {"G", "D", "G_ema"}
    assert ckpt.training_state["cur_nimg"] == 24 and ckpt.metadata["cur_nimg"] == 24


def test_keeps_the_last_snapshots(tiny_config, tmp_path):
    # 250 images per step and per tick: snapshots at 250, 500, 750 images (all named 000000, each
    # replacing the last) and at 1000 (000001); with keep_snapshots=1 only the newest survives.
    config = tiny_config(
        total_kimg=1.0,
        kimg_per_tick=0.25,
        snapshot_ticks=1,
        batch_size=250,
        mbstd_group_size=2,
        keep_snapshots=1,
    )
    config = config.replace(pl_weight=0.0, r1_gamma=0.0, grid_size=(1, 1))
    run = train(config, tmp_path, progress=False)
    assert [p.name for p in list_snapshots(run)] == ["network-snapshot-000001"]
    assert not [p for p in run.iterdir() if p.name.startswith(".")], "no temporary folders left"


def _assert_same_state(a: Path, b: Path):
    ca, cb = load_checkpoint(a), load_checkpoint(b)
    for net in ("G", "D", "G_ema"):
        sa, sb = ca.networks[net].state_dict(), cb.networks[net].state_dict()
        for name in sa:
            assert torch.allclose(sa[name], sb[name], rtol=0, atol=1e-6), f"{net}.{name}"
    ta, tb = ca.training_state, cb.training_state
    for key in ("cur_nimg", "cur_tick", "batch_idx", "data_position", "counters"):
        assert ta[key] == tb[key], key
    assert torch.allclose(ta["pl_mean"], tb["pl_mean"], atol=1e-6)
    for opt in ("G_opt", "D_opt"):
        for index, state in ta[opt]["state"].items():
            other = tb[opt]["state"][index]
            assert torch.allclose(state["exp_avg_sq"], other["exp_avg_sq"], atol=1e-6)
            assert torch.allclose(state["exp_avg"], other["exp_avg"], atol=1e-6)
            assert float(state["step"]) == float(other["step"])


def test_resume_continues_the_same_curve(tiny_config, tmp_path):
    # 18 steps straight vs 7 steps, save, a disturbed "fresh process", 11 more steps. Lazy
    # R1 (every 16) and PL (every 4) fall on both sides of the split; style mixing is on.
    config = tiny_config(steps=18, d_reg_interval=16)
    straight = train(config, tmp_path / "straight", progress=False)

    first = train(tiny_config(steps=7), tmp_path / "split", progress=False)
    torch.manual_seed(12345)
    np.random.seed(12345)
    random.seed(12345)
    resumed = train(config, tmp_path / "split", resume="latest", progress=False)
    assert resumed == first, "--resume latest continues in the same run folder"
    assert "Resuming" in (resumed / "log.txt").read_text()
    _assert_same_state(find_latest_snapshot(straight), find_latest_snapshot(resumed))
    state = load_checkpoint(find_latest_snapshot(resumed)).training_state
    assert state["counters"]["phase/Dreg"] == 2 and state["counters"]["phase/Greg"] == 5


def test_resume_from_a_snapshot_path_starts_a_new_run(tiny_config, tmp_path):
    run = train(tiny_config(steps=2), tmp_path, progress=False)
    snapshot = find_latest_snapshot(run)
    new_run = train(tiny_config(steps=4), tmp_path, resume=snapshot, progress=False)
    assert new_run != run and new_run.name.startswith("00001-")
    assert load_checkpoint(find_latest_snapshot(new_run)).training_state["cur_nimg"] == 16


def test_resume_errors(tiny_config, tmp_path):
    with pytest.raises(StyleGANError, match="no network-snapshot"):
        train(tiny_config(), tmp_path / "empty", resume="latest", progress=False)
    with pytest.raises(StyleGANError, match="does not exist"):
        train(tiny_config(), tmp_path, resume=tmp_path / "missing", progress=False)


def test_sigint_writes_a_resumable_snapshot(shapes_dataset, tmp_path):
    # train() raises TrainingInterrupted after the snapshot; the script exits as the CLI does.
    script = (
        "import sys\n"
        "from stylegan.training import TrainingInterrupted, make_config, train\n"
        f"config = make_config('tiny', data={str(shapes_dataset)!r}, total_kimg=1000, "
        "kimg_per_tick=0.008, snapshot_ticks=None, grid_size=(2, 2), device='cpu')\n"
        "try:\n"
        f"    train(config, {str(tmp_path)!r}, progress=False)\n"
        "except TrainingInterrupted as err:\n"
        "    print('interrupted', err.signal_name, err.snapshot, err.run_dir)\n"
        "    sys.exit(err.exit_code)\n"
    )
    returncode, output, errors = signal_after_tick(
        [sys.executable, "-c", script], tmp_path, 2, signal.SIGINT
    )
    output += errors
    assert returncode == 130, output  # 128 + SIGINT, as a shell reports it
    assert "Stopped by SIGINT" in output and "resumable snapshot" in output
    snapshot = find_latest_snapshot(tmp_path)
    assert snapshot is not None
    assert f"interrupted SIGINT {snapshot} {snapshot.parent}" in output
    stopped_at = load_checkpoint(snapshot).training_state["cur_nimg"]
    assert stopped_at >= 8 * 2

    from stylegan.training import make_config

    more = make_config(
        "tiny",
        data=str(shapes_dataset),
        total_kimg=(stopped_at + 8) / 1000,
        snapshot_ticks=None,
        grid_size=(2, 2),
        device="cpu",
    )
    train(more, tmp_path, resume="latest", progress=False)
    assert load_checkpoint(find_latest_snapshot(tmp_path)).training_state["cur_nimg"] == (
        stopped_at + 8
    )


def test_graceful_stop_catches_sigterm():
    with GracefulStop() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)
    assert stop.requested == "SIGTERM" and stop.signum == signal.SIGTERM


def _poison_d_main(monkeypatch, bad_calls):
    original = loss.discriminator_main
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        result = original(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] in bad_calls:
            result.loss = result.loss * float("nan")
        return result

    monkeypatch.setattr(loss, "discriminator_main", poisoned)


def test_nonfinite_loss_is_reported(tiny_config, tmp_path, monkeypatch):
    _poison_d_main(monkeypatch, bad_calls={2})
    run = train(tiny_config(steps=4), tmp_path, progress=False)
    log = (run / "log.txt").read_text()
    assert "warning: step 2" in log and "non-finite loss in Dmain" in log
    assert "set to 0 / +-1e5" in log
    ticks = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert sum(t.get("Nonfinite/loss", {}).get("num", 0) for t in ticks) == 1
    assert "nonfinite-steps 1" in log
    state = load_checkpoint(find_latest_snapshot(run)).training_state
    assert state["counters"]["nonfinite/loss"] == 1 and state["counters"]["nonfinite/grads"] > 0
    D = load_checkpoint(find_latest_snapshot(run)).networks["D"]
    assert all(torch.isfinite(p).all() for p in D.parameters())


def test_persistent_nonfinite_loss_aborts(tiny_config, tmp_path, monkeypatch):
    _poison_d_main(monkeypatch, bad_calls=set(range(3, 100)))
    with pytest.raises(StyleGANError, match="diverged.*3 steps in a row"):
        train(tiny_config(steps=20, max_nonfinite_steps=3), tmp_path, progress=False)


def test_conditional_training(tiny_config, tmp_path):
    run = train(tiny_config(steps=3, cond=True), tmp_path, progress=False)
    assert run.name == "00000-shapes-tiny-cond-batch4-gamma0.05"
    G = load_checkpoint(find_latest_snapshot(run)).networks["G_ema"]
    assert G.c_dim == 3 and G.mapping.embed is not None


def test_cond_needs_labels(tiny_config, unlabelled_dataset, tmp_path):
    with pytest.raises(StyleGANError, match="--cond needs class labels"):
        train(tiny_config(cond=True, data=str(unlabelled_dataset)), tmp_path, progress=False)


def test_time_limit_stops_with_a_resumable_snapshot(tiny_config, tmp_path):
    config = tiny_config(steps=1000, kimg_per_tick=0.004, max_minutes=1e-6)
    run = train(config, tmp_path, progress=False)
    state = load_checkpoint(find_latest_snapshot(run)).training_state
    assert 0 < state["cur_nimg"] < config.total_kimg * 1000
    assert "Time limit of 1e-06 min reached" in (run / "log.txt").read_text()
