"""torch.distributed training on CPU (gloo, 2 processes via torchrun): the same weights as one
process accumulating the same micro-batches, resumes across process counts, rank 0 writes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.io.checkpoint import load_checkpoint
from stylegan.training import make_config
from stylegan.training.distributed import Context
from stylegan.training.loop import check_batch_split, find_latest_snapshot

SCRIPT = """
import json, sys
from stylegan.training import make_config, train
data, out, images, extra, resume = sys.argv[1:6]
images = int(images)
values = dict(data=data, total_kimg=images / 1000, kimg_per_tick=0.008, snapshot_ticks=None,
              grid_size=(2, 2), device="cpu", batch_size=4, batch_gpu=2, d_reg_interval=2,
              g_reg_interval=2, mbstd_group_size=2, style_mixing_prob=0.9)
values.update(json.loads(extra))
train(make_config("tiny", **values), out, resume=None if resume == "-" else resume, progress=False)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(tmp_path, data, out, images, processes, extra=None, resume="-"):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    args = [str(script), str(data), str(out), str(images), json.dumps(extra or {}), str(resume)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if processes == 1:
        command = [sys.executable, *args]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
                   f"--master_port={_free_port()}", *args]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def _compare(a: Path, b: Path, atol: float = 1e-6):
    ca, cb = load_checkpoint(a), load_checkpoint(b)
    worst = 0.0
    for net in ("G", "D", "G_ema"):
        sa, sb = ca.networks[net].state_dict(), cb.networks[net].state_dict()
        for name in sa:
            worst = max(worst, float((sa[name].float() - sb[name].float()).abs().max()))
    ta, tb = ca.training_state, cb.training_state
    for key in ("cur_nimg", "batch_idx", "data_position", "counters", "augment_p"):
        assert ta[key] == pytest.approx(tb[key]), key
    assert float((ta["pl_mean"] - tb["pl_mean"]).abs()) <= atol
    assert worst <= atol, worst
    return worst


def test_two_processes_match_one_accumulating_process(unlabelled_dataset, tmp_path):
    # 6 steps of 4 images: lazy R1 and path length every 2 steps, style mixing, ADA moving p
    # every 2 steps. One process runs 2 micro-batches of 2 per step; two ranks one each.
    extra = {"aug": "ada", "ada_kimg": 0.1, "ada_interval": 2}
    one = _train(tmp_path, unlabelled_dataset, tmp_path / "one", 24, 1, extra)
    two = _train(tmp_path, unlabelled_dataset, tmp_path / "two", 24, 2, extra)
    _compare(find_latest_snapshot(one), find_latest_snapshot(two))
    (run,) = two.iterdir()  # rank 0 alone made the run folder and wrote the files
    assert "Processes:   2" in (run / "log.txt").read_text()
    assert json.loads((run / "training_options.json").read_text())["derived"]["world_size"] == 2


def test_resume_with_another_number_of_processes(unlabelled_dataset, tmp_path):
    straight = _train(tmp_path, unlabelled_dataset, tmp_path / "straight", 24, 1)
    # 3 steps on two ranks, then 3 more in one process, continuing the same run folder.
    split = _train(tmp_path, unlabelled_dataset, tmp_path / "split", 12, 2)
    _train(tmp_path, unlabelled_dataset, split, 24, 1, resume="latest")
    _compare(find_latest_snapshot(straight), find_latest_snapshot(split))


def test_progressive_stylegan1_on_two_processes(unlabelled_dataset, tmp_path):
    extra = {
        "generator": "stylegan1", "lod_initial_resolution": 8, "lod_training_kimg": 0.008,
        "lod_transition_kimg": 0.008, "d_reg_interval": None, "g_reg_interval": None,
        "pl_weight": 0.0,
    }  # fmt: skip
    one = _train(tmp_path, unlabelled_dataset, tmp_path / "one", 24, 1, extra)
    two = _train(tmp_path, unlabelled_dataset, tmp_path / "two", 24, 2, extra)
    _compare(find_latest_snapshot(one), find_latest_snapshot(two))
    state = load_checkpoint(find_latest_snapshot(two)).training_state
    # 16 px grown from 8: lod 1 for 8 images, the fade at images 8 and 12, full size from 16.
    assert state["lod"] == 0 and state["counters"]["lod/optimizer_resets"] == 2
    assert state["counters"]["phase/Dboth"] == 6


def test_batch_split_checks():
    two = Context(rank=0, world_size=2)
    check_batch_split(make_config("tiny", batch_size=8, batch_gpu=2), two, 16)
    with pytest.raises(StyleGANError, match="does not split"):
        check_batch_split(make_config("tiny", batch_size=8, batch_gpu=3), two, 16)
    with pytest.raises(StyleGANError, match="minibatch-std"):
        check_batch_split(make_config("tiny", batch_size=8, batch_gpu=1), two, 16)
    with pytest.raises(StyleGANError, match="does not split"):
        check_batch_split(make_config("tiny", batch_size=6, mbstd_group_size=1), Context(0, 4), 16)
    with pytest.raises(StyleGANError, match="batch_gpu"):
        make_config("tiny", batch_gpu=0)
    assert torch.distributed.is_available()
