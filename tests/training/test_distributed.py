"""torch.distributed training on CPU (gloo, 2 processes via torchrun): the same weights as one
process accumulating the same micro-batches, resumes across process counts, every rank stops
at the same step, rank 0 alone writes, clear errors for batch splits that do not work."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from stylegan.errors import StyleGANError
from stylegan.io.checkpoint import load_checkpoint
from stylegan.training import distributed, find_latest_snapshot, make_config
from stylegan.training.accumulate import check_batch_split
from stylegan.training.distributed import Context

BASE = {"aug": "ada", "augment_p": 0.2, "ada_kimg": 0.1, "ada_interval": 2, "snapshot_ticks": 1}

# Trains the tiny preset: 4 images per step (2 micro-batches of 2), lazy R1 and path length
# every 2 steps, style mixing almost always. "stop": [rank, step] sends that rank SIGTERM
# after the step, as a scheduler or Ctrl-C would. Run in the test process for one process,
# as a script (``run(*sys.argv[1:6])``) for each rank.
RUN = """
import json, os, signal, sys
from stylegan.training import TrainingInterrupted, loop, make_config, train

def run(data, out, images, extra, resume):
    values = dict(data=data, total_kimg=int(images) / 1000, kimg_per_tick=0.008,
                  snapshot_ticks=None, grid_size=(2, 2), device="cpu", batch_size=4,
                  batch_gpu=2, d_reg_interval=2, g_reg_interval=2, mbstd_group_size=2,
                  style_mixing_prob=0.9)
    values.update(json.loads(extra))
    if "batch_per_resolution" in values:  # JSON keys are strings
        table = values["batch_per_resolution"]
        values["batch_per_resolution"] = {int(k): v for k, v in table.items()}
    stop = values.pop("stop", None)
    if stop is not None and int(os.environ["RANK"]) == stop[0]:
        step = loop.training_step
        def stopping_step(state, *args, **kwargs):
            result = step(state, *args, **kwargs)
            if state.batch_idx == stop[1]:
                os.kill(os.getpid(), signal.SIGTERM)
            return result
        loop.training_step = stopping_step
    config = make_config("tiny", **values)
    try:
        train(config, out, resume=None if resume == "-" else resume, progress=False)
    except TrainingInterrupted as err:  # every rank, with the status the CLI would exit with
        sys.exit(err.exit_code)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(
    tmp_path, data, out, images, processes, extra=None, resume="-", torchrun=False, status=0
):
    """Train in this process, or in ``processes`` ranks: launched by torchrun, or (faster, no
    agent process) started directly with the environment torchrun would give them; each rank
    must exit with ``status``."""
    args = [str(data), str(out), str(images), json.dumps(extra or {}), str(resume)]
    if processes == 1:  # one thread, as each rank (the rounding of convolutions depends on it)
        namespace: dict = {}
        exec(RUN, namespace)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            namespace["run"](*args)
        finally:
            torch.set_num_threads(threads)
        return out
    script = tmp_path / "run.py"
    script.write_text(RUN + "\nimport sys\nrun(*sys.argv[1:6])\n")
    args = [str(script), *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if processes > 1 and torchrun:
        command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
                   f"--master_port={_free_port()}", *args]  # fmt: skip
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return out
    env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE=str(processes))
    ranks = [
        subprocess.Popen(
            [sys.executable, *args],
            env=dict(env, RANK=str(rank), LOCAL_RANK=str(rank)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(processes)
    ]
    try:
        outputs = [rank.communicate(timeout=240)[0] for rank in ranks]
    finally:
        for rank in ranks:  # a rank that failed leaves the others waiting: end them
            if rank.poll() is None:
                rank.kill()
                rank.wait()
    for rank, output in zip(ranks, outputs):
        assert rank.returncode == status, output[-3000:]
    return out


@pytest.fixture(scope="module")
def straight(unlabelled_dataset, tmp_path_factory):
    """One process, 6 steps of 4 images (2 micro-batches of 2), ADA moving p every 2 steps
    (starting at 0.2), a snapshot every tick (2 steps)."""
    tmp_path = tmp_path_factory.mktemp("straight")
    return _train(tmp_path, unlabelled_dataset, tmp_path / "out", 24, 1, BASE)


def _compare(a: Path, b: Path, atol: float = 1e-5) -> float:
    """Max abs difference of G, D, G_ema (parameters and buffers) and pl_mean; the counters
    must be equal."""
    ca, cb = load_checkpoint(a), load_checkpoint(b)
    worst = 0.0
    for net in ("G", "D", "G_ema"):
        sa, sb = ca.networks[net].state_dict(), cb.networks[net].state_dict()
        assert sa.keys() == sb.keys()
        for name in sa:
            worst = max(worst, float((sa[name].float() - sb[name].float()).abs().max()))
    ta, tb = ca.training_state, cb.training_state
    for key in ("cur_nimg", "batch_idx", "data_position", "counters", "augment_p"):
        assert ta[key] == tb[key], key
    worst = max(worst, float((ta["pl_mean"] - tb["pl_mean"]).abs()))
    assert worst <= atol, worst
    return worst


def test_two_processes_match_one_accumulating_process(straight, unlabelled_dataset, tmp_path):
    # 6 steps: lazy R1 and path length every 2 steps, style mixing, ADA. One process ran 2
    # micro-batches of 2 per step; here torchrun's two ranks run one each.
    two = _train(tmp_path, unlabelled_dataset, tmp_path / "two", 24, 2, BASE, torchrun=True)
    worst = _compare(find_latest_snapshot(straight), find_latest_snapshot(two))
    print(f"max abs difference, 2 ranks vs 1 process x 2 rounds: {worst:.3g}")
    # Rank 0 alone made the run folder and wrote the files; each snapshot passed the check
    # that both ranks hold identical networks (check_consistency raises otherwise).
    run = only_run(two)
    log = (run / "log.txt").read_text()
    assert "Processes:   2" in log and log.count("Done:") == 1
    assert json.loads((run / "training_options.json").read_text())["derived"]["world_size"] == 2
    state = load_checkpoint(find_latest_snapshot(two)).training_state
    counters = state["counters"]
    assert counters["phase/Greg"] == counters["phase/Dreg"] == 3
    assert state["augment_p"] != pytest.approx(0.2)  # ADA moved p (from the whole batch)
    # The statistics cover the whole batch, not rank 0's half.
    one_ticks = (only_run(straight) / "stats.jsonl").read_text().splitlines()
    two_ticks = (run / "stats.jsonl").read_text().splitlines()
    for a, b in zip(one_ticks, two_ticks, strict=True):
        a, b = json.loads(a), json.loads(b)
        assert a["Loss/G/loss"]["num"] == b["Loss/G/loss"]["num"]
        assert a["Loss/G/loss"]["mean"] == pytest.approx(b["Loss/G/loss"]["mean"], abs=1e-6)


def only_run(outdir: Path) -> Path:
    (run,) = [p for p in outdir.iterdir() if p.is_dir()]
    return run


def test_stop_and_resume_with_other_numbers_of_processes(straight, unlabelled_dataset, tmp_path):
    # Two ranks; rank 1 alone gets SIGTERM after step 2: both stop there and rank 0 writes
    # the snapshot. Then one process continues to step 4 and two ranks again to step 6.
    split = tmp_path / "split"
    # Both ranks exit 143 (128 + SIGTERM), the signalled one and the one told by it.
    _train(tmp_path, unlabelled_dataset, split, 24, 2, dict(BASE, stop=[1, 2]), status=143)
    run = only_run(split)
    assert "Stopped by another rank's signal at kimg 0.008" in (run / "log.txt").read_text()
    assert load_checkpoint(find_latest_snapshot(split)).training_state["batch_idx"] == 2
    _train(tmp_path, unlabelled_dataset, split, 16, 1, BASE, resume="latest")
    _train(tmp_path, unlabelled_dataset, split, 24, 2, BASE, resume="latest")
    _compare(find_latest_snapshot(straight), find_latest_snapshot(split))


def test_progressive_stylegan1_on_two_processes(unlabelled_dataset, tmp_path):
    extra = {
        "generator": "stylegan1", "lod_initial_resolution": 8, "lod_training_kimg": 0.008,
        "lod_transition_kimg": 0.016, "d_reg_interval": None, "g_reg_interval": None,
        "pl_weight": 0.0, "batch_per_resolution": {8: 8},
    }  # fmt: skip
    one = _train(tmp_path, unlabelled_dataset, tmp_path / "one", 32, 1, extra)
    two = _train(tmp_path, unlabelled_dataset, tmp_path / "two", 32, 2, extra)
    _compare(find_latest_snapshot(one), find_latest_snapshot(two))
    state = load_checkpoint(find_latest_snapshot(two)).training_state
    # 16 px grown from 8: 2 steps of 8 images at 8 px (2 micro-batches of 2 per rank, 4 in
    # one process), then batches of 4 (1 per rank, 2 in one process): the fade at lod 0.5 and
    # 0.25, then full size.
    assert state["lod"] == 0 and state["counters"]["lod/optimizer_resets"] == 2
    assert state["counters"]["phase/Dboth"] == state["batch_idx"] == 6


def _check_helpers(rank: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank))
    context = distributed.from_environment()
    distributed.init(context, torch.device("cpu"))
    try:
        # Gradients summed in one bucket; one missing on rank 1 counts as zero, one missing
        # everywhere stays None; extra tensors ride along.
        net = torch.nn.Linear(2, 1)
        distributed.broadcast_module_(net, context)
        net.weight.grad = torch.full_like(net.weight, rank + 1.0)
        net.bias.grad = torch.ones_like(net.bias) if rank == 0 else None
        extra = torch.tensor([float(rank)])
        distributed.sum_gradients_(net, context, extra=[extra])
        assert net.weight.grad.eq(3).all() and net.bias.grad.eq(1).all() and extra.item() == 1
        net.weight.grad, net.bias.grad = None, None
        distributed.sum_gradients_(net, context)
        assert net.weight.grad is None and net.bias.grad is None
        (gathered,) = distributed.gather_cat([torch.tensor([rank, rank + 0.5])], context)
        assert gathered.tolist() == [0, 0.5, 1, 1.5]
        assert distributed.any_rank([rank == 1, False], context, torch.device("cpu")) == [1, 0]
        assert distributed.broadcast_object(f"rank {rank}", context) == "rank 0"
        distributed.check_consistency({"net": net}, context)  # identical: passes
        with torch.no_grad():
            net.bias.add_(rank)
        with pytest.raises(StyleGANError, match="copies of net differ"):
            distributed.check_consistency({"net": net}, context)
    finally:
        distributed.shutdown(context)
    assert not dist.is_initialized()


def test_distributed_helpers_on_two_gloo_processes():
    mp.spawn(_check_helpers, args=(_free_port(),), nprocs=2, join=True)


def test_one_process_needs_no_process_group(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    context = distributed.from_environment()
    assert context == distributed.SINGLE and not context.active and context.is_main
    assert distributed.init(context, torch.device("cpu")) == torch.device("cpu")
    assert not dist.is_initialized()


def test_batch_split_checks():
    two = Context(rank=0, world_size=2)
    check_batch_split(make_config("tiny", batch_size=8, batch_gpu=2), two)
    check_batch_split(make_config("tiny", batch_size=8, batch_gpu=16), two)  # capped to 4
    with pytest.raises(StyleGANError, match="does not split"):
        check_batch_split(make_config("tiny", batch_size=12, batch_gpu=4), two)
    with pytest.raises(StyleGANError, match="minibatch-std"):
        check_batch_split(make_config("tiny", batch_size=8), Context(0, 8))
    with pytest.raises(StyleGANError, match="does not split"):
        check_batch_split(make_config("tiny", batch_size=6, mbstd_group_size=1), Context(0, 4))
    # Errors that hold whatever the number of processes come from the config itself.
    with pytest.raises(StyleGANError, match="batch_gpu"):
        make_config("tiny", batch_gpu=0)
    with pytest.raises(StyleGANError, match="minibatch-std groups of 2"):
        make_config("tiny", batch_size=8, batch_gpu=1)
    with pytest.raises(StyleGANError, match="does not split into micro-batches of 3"):
        make_config("tiny", batch_size=8, mbstd_group_size=1, batch_gpu=3)


def test_cli_rejects_a_bad_batch_gpu(shapes_dataset, tmp_path):
    from click.testing import CliRunner

    from stylegan.cli import cli

    args = ["train", "--outdir", str(tmp_path), "--data", str(shapes_dataset), "--cfg", "tiny"]
    result = CliRunner().invoke(cli, [*args, "--batch", "8", "--batch-gpu", "6"])
    assert result.exit_code != 0
    assert "batch 8 does not split into micro-batches of 6" in result.output
    assert "--batch-gpu" in result.output
    result = CliRunner().invoke(cli, [*args, "--batch-gpu", "0"])
    assert result.exit_code != 0 and "--batch-gpu" in result.output
    assert not list(tmp_path.iterdir())  # nothing written
