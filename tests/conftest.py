"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest

from tiny_networks import tiny_network


@pytest.fixture(scope="session")
def make_tiny_network():
    """``make_tiny_network("stylegan2.Generator", seed=0, **changes)``: see ``tiny_networks``."""
    return tiny_network
