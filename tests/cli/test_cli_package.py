"""The CLI package: small modules, one list of command modules, nothing imports it."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import stylegan
from stylegan.cli import COMMAND_MODULES, cli

PACKAGE = Path(stylegan.__file__).parent


def test_modules_stay_small():
    sizes = {p.name: len(p.read_text().splitlines()) for p in (PACKAGE / "cli").glob("*.py")}
    assert {"__init__.py", "options.py"} <= set(sizes)
    assert max(sizes.values()) <= 400, sizes


def test_every_command_module_registers_its_commands():
    registered = set()
    for name in COMMAND_MODULES:
        for command in importlib.import_module(f"stylegan.cli.{name}").COMMANDS:
            assert cli.commands[command.name] is command
            registered.add(command.name)
    assert registered == set(cli.commands)
    assert {"dataset", "train", "generate", "mix", "noise", "truncation", "video", "spectrum"} | {
        "edit", "attributes", "directions", "encoder", "project", "clip",
    } | {
        "metrics", "convert", "inspect", "pretrained", "export", "demo"
    } == registered  # fmt: skip


def test_nothing_in_the_library_imports_the_cli():
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.relative_to(PACKAGE).parts or path.name == "__main__.py":
            continue
        # ``stylegan.clip`` (the CLIP package) is not the CLI: match the whole name.
        assert not re.search(r"\bstylegan\.cli\b", path.read_text()), path


def test_python_dash_m_stylegan_runs_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "stylegan", "--help"], capture_output=True, text=True, check=True
    )
    assert "truncation" in result.stdout and "train" in result.stdout


def test_the_cli_starts_without_torch():
    code = "import sys, stylegan.cli; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
