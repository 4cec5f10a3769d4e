"""Augmentation in the training loop: ADA raises p when D overfits, p survives a resume, fixed
p and DiffAugment train."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from test_train import _assert_same_state

from stylegan.errors import StyleGANError
from stylegan.io.checkpoint import load_checkpoint
from stylegan.training import find_latest_snapshot, make_config, train


def _ada(tiny_config, steps: int, **overrides):
    # ADA reacting fast: p moves by 4 * 4 / 100 = 0.16 every 4 steps.
    values = dict(aug="ada", augpipe="bgc", ada_kimg=0.1, ada_interval=4, ada_target=0.6)
    values.update(overrides)
    return tiny_config(steps=steps, **values)


def test_ada_raises_p_when_d_overfits(tiny_config, tmp_path):
    # 24 images and a D that separates them from G's early fakes at once: E[sign(D(real))]
    # sits above the 0.6 target, so p must rise.
    run = train(_ada(tiny_config, 40, kimg_per_tick=0.02), tmp_path, progress=False)
    state = load_checkpoint(find_latest_snapshot(run)).training_state
    assert state["augment_p"] > 0
    assert state["ada"]["interval"] == 4
    ticks = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    augment = [t["Progress/augment"]["mean"] for t in ticks if "Progress/augment" in t]
    assert augment[-1] == pytest.approx(state["augment_p"])
    assert max(augment) > 0 and "augment 0.000" in (run / "log.txt").read_text()
    signs = [t["Loss/signs/real"]["mean"] for t in ticks if "Loss/signs/real" in t]
    assert max(signs) > 0.6  # the overfitting that drove p up


def test_ada_p_is_restored_on_resume(tiny_config, tmp_path):
    # Split at step 10, between two adjustments (8 and 12): the controller's running sums
    # must come back too.
    config = _ada(tiny_config, 20, kimg_per_tick=0.02)
    straight = train(config, tmp_path / "straight", progress=False)
    train(_ada(tiny_config, 10, kimg_per_tick=0.02), tmp_path / "split", progress=False)
    torch.manual_seed(999)
    np.random.seed(999)
    random.seed(999)
    resumed = train(config, tmp_path / "split", resume="latest", progress=False)
    a = load_checkpoint(find_latest_snapshot(straight)).training_state
    b = load_checkpoint(find_latest_snapshot(resumed)).training_state
    assert a["augment_p"] > 0 and b["augment_p"] == pytest.approx(a["augment_p"])
    _assert_same_state(find_latest_snapshot(straight), find_latest_snapshot(resumed))


@pytest.mark.parametrize(
    "overrides", [dict(aug="fixed", augment_p=0.5), dict(aug="diffaugment"), dict(aug="noaug")]
)
def test_other_augmentation_modes_train(tiny_config, tmp_path, overrides):
    run = train(tiny_config(steps=2, **overrides), tmp_path, progress=False)
    state = load_checkpoint(find_latest_snapshot(run)).training_state
    assert state["augment_p"] == (0.5 if overrides["aug"] == "fixed" else 0.0)


def test_augmentation_options_are_checked():
    with pytest.raises(StyleGANError, match="needs --p"):
        make_config("tiny", aug="fixed")
    with pytest.raises(StyleGANError, match="--target"):
        make_config("tiny", aug="noaug", ada_target=0.5)
    with pytest.raises(StyleGANError, match="augpipe"):
        make_config("tiny", augpipe="xyz")
    with pytest.raises(StyleGANError, match="policy"):
        make_config("tiny", aug="diffaugment", diffaugment="zoom")
    assert make_config("stylegan2").aug == "ada" and make_config("stylegan1").aug == "noaug"


def test_ada_speed_on_fine_tuning_only():
    from stylegan.training.start import setup_training_augmentation
    from stylegan.training.state import TrainingState, build_networks

    config = make_config("tiny", aug="ada")
    G, D = build_networks(config, 16, 3, 0)
    state = TrainingState.create(config, G, D)
    setup_training_augmentation(state, config, torch.device("cpu"), fine_tuning=False)
    assert state.ada.speed_kimg == 500  # a fresh run or a true resume: the configured speed
    setup_training_augmentation(state, config, torch.device("cpu"), True, fine_tune_p=0.3)
    assert state.ada.speed_kimg == 100 and float(state.augment_pipe.p) == pytest.approx(0.3)
