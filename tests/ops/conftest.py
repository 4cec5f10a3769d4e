"""Shared settings for the ops tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic_single_thread():
    """Seed every test, and run it on one thread: the tensors here are tiny, and on a busy
    shared machine every multi-threaded kernel launch can wait a scheduler tick for its
    second thread (tens of milliseconds each)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)
