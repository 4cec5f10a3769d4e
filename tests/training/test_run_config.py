"""resolve_run_config: the Python side of ``stylegan train``'s flags."""

from __future__ import annotations

import json

import pytest

from stylegan.errors import StyleGANError
from stylegan.training import make_config, resolve_run_config


def test_overrides_go_onto_the_preset():
    config = resolve_run_config({"preset": "tiny", "r1_gamma": 0.5, "mirror": True})
    assert config == make_config("tiny", r1_gamma=0.5, mirror=True)


def test_default_preset_follows_the_device():
    assert resolve_run_config({"device": "cpu"}).preset == "small"


def test_given_schedules_survive_an_explicit_batch():
    table = {8: 64, 16: 32}
    config = resolve_run_config(
        {"preset": "stylegan1-small", "batch_size": 16, "batch_per_resolution": table}
    )
    assert config.batch_per_resolution == table
    assert (
        resolve_run_config({"preset": "stylegan1-small", "batch_size": 16}).batch_per_resolution
        is None
    )


def test_resume_keeps_the_saved_options(tmp_path):
    (tmp_path / "network-snapshot-000000").mkdir()
    saved = make_config("tiny", r1_gamma=0.3)
    (tmp_path / "training_options.json").write_text(json.dumps(saved.to_dict()))
    config = resolve_run_config({"total_kimg": 2.0}, resume=tmp_path)
    assert config == saved.replace(total_kimg=2.0)
    assert resolve_run_config({}, resume="latest", outdir=tmp_path) == saved


def test_bad_overrides_are_user_errors():
    with pytest.raises(StyleGANError, match="unknown training option"):
        resolve_run_config({"preset": "tiny", "gama": 1.0})
    with pytest.raises(StyleGANError, match="r1_gamma must be a finite number"):
        resolve_run_config({"preset": "tiny", "r1_gamma": float("inf")})
