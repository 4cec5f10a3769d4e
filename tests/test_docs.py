"""The docs name real things: every ``module.py::name`` in docs/architecture.md exists."""

import importlib
import re
from pathlib import Path

import pytest

ARCHITECTURE = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
REFERENCES = sorted(
    set(re.findall(r"`([a-z0-9_/]+\.py)::([A-Za-z0-9_.]+)`", ARCHITECTURE.read_text()))
)


def test_the_where_is_table_is_there():
    assert "## Where is" in ARCHITECTURE.read_text()
    assert len(REFERENCES) >= 20


@pytest.mark.parametrize(("module", "name"), REFERENCES)
def test_every_named_function_exists(module, name):
    obj = importlib.import_module("stylegan." + module[: -len(".py")].replace("/", "."))
    for part in name.split("."):
        obj = getattr(obj, part, None)
        assert obj is not None, f"docs/architecture.md names {module}::{name}, which is gone"
