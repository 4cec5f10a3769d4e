"""tune_cpu_allocator: opt-in, idempotent, harmless where it cannot apply."""

import sys

import torch

from stylegan.ops import allocator


def test_tune_cpu_allocator_is_idempotent_and_harmless():
    first = allocator.tune_cpu_allocator()
    assert isinstance(first, bool)
    assert allocator.tune_cpu_allocator() is first
    if not sys.platform.startswith("linux"):
        assert first is False
    x = torch.randn(64, 1024, 1024)  # large allocations still work afterwards
    assert torch.isfinite(x + 1).all()


def test_not_applied_at_import(monkeypatch):
    monkeypatch.setattr(allocator, "_tuned", None)
    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert allocator.tune_cpu_allocator() is False
