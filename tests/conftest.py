"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest

from tiny_networks import tiny_network


@pytest.fixture(scope="session")
def make_tiny_network():
    """``make_tiny_network("stylegan2.Generator", seed=0, **changes)``: see ``tiny_networks``."""
    return tiny_network


@pytest.fixture(scope="module")
def one_thread_module():
    """One torch thread for a whole test module (module-scoped fixtures that train included):
    tiny convolutions run fastest so, and OpenMP threads spin against each other on a shared
    machine. The setting is restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
