"""Training stays bit-identical: 20 tiny steps (lazy R1 and path length, style mixing, ADA, two
micro-batches per phase) end in exactly the state recorded by scripts/make_training_fixture.py.

A refactoring of the loop must not change a single bit of G, D, G_ema, Adam's moments and
steps, pl_mean, ADA's p and controller, the counters or the RNG states. When a change of the
training arithmetic is intended, re-record the fixture with the script and say why in the
commit.

CPU kernels round differently per instruction set, so each recording holds for one kind of CPU:
``training_tiny_20steps-<capability>`` (``torch.backends.cpu.get_cpu_capability()``, e.g.
``avx512``) where one exists, else ``training_tiny_20steps`` (recorded on the AVX2 machines of
the first sessions). Both come from the code before the loop was split (see their READMEs).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def _fixture() -> Path:
    """The recording for this CPU's instruction set (see the module docstring)."""
    capability = torch.backends.cpu.get_cpu_capability().lower()
    own = FIXTURES / f"training_tiny_20steps-{capability}"
    return own if own.is_dir() else FIXTURES / "training_tiny_20steps"


def _recorder():
    """scripts/make_training_fixture.py as a module: the run is defined once, there."""
    spec = importlib.util.spec_from_file_location(
        "make_training_fixture", ROOT / "scripts" / "make_training_fixture.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_twenty_steps_match_the_recording_bit_for_bit(tmp_path):
    recorder = _recorder()
    tensors, values = recorder.trained_state(tmp_path)
    fixture = _fixture()
    recorded_tensors = load_file(str(fixture / recorder.TENSOR_FILE))
    recorded_values = json.loads((fixture / recorder.VALUES_FILE).read_text())

    # The recording covers what the test is about: every phase ran and ADA's p moved.
    counters = {k.rsplit("/", 1)[-1]: v for k, v in values.items() if "/counters/phase/" in k}
    assert counters == {"Gmain": 20, "Greg": 7, "Dmain": 20, "Dreg": 5}
    assert values["state/augment_p"] > 0 and values["state/ada/p"] == values["state/augment_p"]
    assert any(k.endswith("/exp_avg_sq") for k in tensors) and "state/pl_mean" in tensors

    assert sorted(tensors) == sorted(recorded_tensors)
    different = [
        name
        for name, value in tensors.items()
        if value.dtype != recorded_tensors[name].dtype
        or not torch.equal(value, recorded_tensors[name])
    ]
    assert not different, (
        f"{len(different)} tensors differ from {fixture.name} (CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}), e.g. {different[:5]}"
    )
    assert values == recorded_values
