"""Record the state after 20 tiny training steps, for tests/training/test_bit_identical.py.

    python scripts/make_training_fixture.py --out tests/fixtures/training_tiny_20steps

The run exercises every part of a step: lazy R1 and path length regularisation, style mixing,
ADA (bgc, fast enough that p moves within 20 steps), two micro-batches per phase (pairwise
sums), ticks with snapshots and pruning. Everything the final snapshot holds (networks, Adam
moments and steps, pl_mean, ADA, counters, RNG states) is written as ``tensors.safetensors``
and ``values.json``; the test trains the same run and compares them bit for bit, so a
refactoring of the loop that changes a single rounding fails it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from stylegan.io.checkpoint import load_checkpoint
from stylegan.training import find_latest_snapshot, make_config, train
from stylegan.training.config import TrainingConfig

STEPS = 20
BATCH = 4  # the tiny preset's
TENSOR_FILE = "tensors.safetensors"
VALUES_FILE = "values.json"
OPTIMIZER_KEYS = ("lr", "betas", "eps", "params")


def fixture_config() -> TrainingConfig:
    """The recorded run: the tiny preset on 48 of the bundled 32 px emoji, on the CPU."""
    return make_config(
        "tiny",
        data=None,  # the bundled sample: the same bytes for the recorder and the test
        max_size=48,
        total_kimg=STEPS * BATCH / 1000,
        kimg_per_tick=5 * BATCH / 1000,
        snapshot_ticks=2,
        keep_snapshots=2,
        grid_size=(2, 2),
        batch_gpu=2,  # two micro-batches per phase
        d_reg_interval=4,  # lazy R1 at steps 0, 4, 8, ...
        g_reg_interval=3,  # lazy path length at steps 0, 3, 6, ...
        style_mixing_prob=0.9,
        aug="ada",
        augpipe="bgc",
        ada_target=0.6,
        ada_kimg=0.1,  # p moves by 16 / 100 every adjustment
        ada_interval=4,
        random_seed=7,
        device="cpu",
    )


def _flatten(obj: Any, prefix: str, tensors: dict, values: dict) -> None:
    """Nested dicts and lists into ``path -> tensor`` and ``path -> plain value``."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous().clone()
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _flatten(value, f"{prefix}/{key}", tensors, values)
    elif isinstance(obj, list | tuple):
        for index, value in enumerate(obj):
            _flatten(value, f"{prefix}/{index}", tensors, values)
    else:
        values[prefix] = obj


def trained_state(workdir: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train the fixture run on one torch thread in ``workdir``; the final snapshot, flattened."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_dir = train(fixture_config(), outdir=workdir, progress=False)
    finally:
        torch.set_num_threads(threads)
    ckpt = load_checkpoint(find_latest_snapshot(run_dir))
    tensors: dict[str, torch.Tensor] = {}
    values: dict[str, Any] = {}
    for name, net in ckpt.networks.items():
        _flatten(net.state_dict(), name, tensors, values)
    state = dict(ckpt.training_state)
    for opt in ("G_opt", "D_opt"):
        # The hyperparameters only: the flags of a param group vary with the torch version.
        groups = [{k: g[k] for k in OPTIMIZER_KEYS} for g in state[opt]["param_groups"]]
        state[opt] = dict(state[opt], param_groups=groups)
    _flatten(state, "state", tensors, values)
    return tensors, values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/training_tiny_20steps")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        tensors, values = trained_state(Path(workdir))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / TENSOR_FILE))
    (out / VALUES_FILE).write_text(json.dumps(values, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(tensors)} tensors and {len(values)} values to {out}")
    print(f"augment_p {values['state/augment_p']}, batch_idx {values['state/batch_idx']}")


if __name__ == "__main__":
    main()
