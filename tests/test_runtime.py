"""stylegan.runtime: the allocator tuning is opt-in, idempotent and harmless where it cannot
apply; durations read as in NVIDIA's logs."""

import sys

import torch

from stylegan import runtime


def test_tune_cpu_allocator_is_idempotent_and_harmless():
    first = runtime.tune_cpu_allocator()
    assert isinstance(first, bool)
    assert runtime.tune_cpu_allocator() is first
    if not sys.platform.startswith("linux"):
        assert first is False
    x = torch.randn(64, 1024, 1024)  # large allocations still work afterwards
    assert torch.isfinite(x + 1).all()


def test_not_applied_at_import(monkeypatch):
    monkeypatch.setattr(runtime, "_tuned", None)
    monkeypatch.setattr(runtime.sys, "platform", "darwin")
    assert runtime.tune_cpu_allocator() is False


def test_format_time_matches_nvidia_logs():
    assert runtime.format_time(42.4) == "42s"
    assert runtime.format_time(303) == "5m 03s"
    assert runtime.format_time(2 * 3600 + 7 * 60 + 5) == "2h 07m"
    assert runtime.format_time(3 * 86400 + 4 * 3600 + 59) == "3d 04h"
