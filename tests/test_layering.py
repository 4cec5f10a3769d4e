"""Imports flow one way: every module of the package imports only from its own room and below.

The layers (docs/architecture.md, "Layers"), lowest first:

    errors    the one user-error type
    base      devices, files, images, latents, runtime
    ops       pure functions
    networks  modules built from ops
    io, data  checkpoints and datasets
    metrics   FID & co.
    training, tools, clip
                  (clip: CLIP models for text editing; it uses metrics' EfficientNet, so tools
                  receive a CLIP object instead of importing it)
    demo      trains, then runs tools
    cli       the command line (``cli.py`` or the ``cli/`` package), then ``__main__``

Rooms on one layer (io and data; training, tools and clip) do not import each other either, and
tools do not import metrics (what both need, such as a generator's input transform, lives
lower). The root ``stylegan/__init__.py`` holds base names (``__version__``,
``StyleGANError``) and the lazy ``load``/``save``, which call io from inside the functions: as an
importer it sits at io's layer, and ``from stylegan import load`` counts as an import of io.
Every ``import`` counts, at module level or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "stylegan"

# room -> layer; a module belongs to the room that is the longest prefix of its dotted name.
ROOMS = {
    "stylegan.errors": 0,
    "stylegan.devices": 1,
    "stylegan.files": 1,
    "stylegan.images": 1,
    "stylegan.latents": 1,
    "stylegan.runtime": 1,
    "stylegan.ops": 2,
    "stylegan.networks": 3,
    "stylegan.io": 4,
    "stylegan.data": 4,
    "stylegan.metrics": 5,
    "stylegan.training": 6,
    "stylegan.tools": 6,
    "stylegan.clip": 6,
    "stylegan.demo": 7,
    "stylegan.cli": 8,
    "stylegan.__main__": 9,
}
# Lower rooms that a room still may not import: (importer, imported) -> the rule.
FORBIDDEN = {
    ("stylegan.tools", "stylegan.metrics"): "tools use networks, io and data, not metrics",
}
# The root package as an importer: its load/save call io (lazily).
ROOT_AS_IMPORTER = "stylegan.io"
# Names of the root package that stand for io when imported from it; the rest are base.
ROOT_IO_NAMES = {"load", "save"}
ROOT_BASE = "stylegan.errors"


def room_of(module: str) -> str | None:
    """The room ``module`` (a dotted name) lives in, or None when the table has no place for it."""
    best = None
    for room in ROOMS:
        if (module == room or module.startswith(room + ".")) and (
            best is None or len(room) > len(best)
        ):
            best = room
    return best


def _imported_rooms(node: ast.AST, module: str, is_package: bool) -> list[tuple[str, str]]:
    """``(imported name, room)`` for each package module an import statement reaches."""
    found: list[tuple[str, str]] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == PACKAGE:
                found.append((PACKAGE, ROOT_AS_IMPORTER))  # any of it, load/save included
            elif alias.name.startswith(PACKAGE + "."):
                found.append((alias.name, room_of(alias.name) or alias.name))
        return found
    if not isinstance(node, ast.ImportFrom):
        return found
    base = node.module or ""
    if node.level:  # relative: resolve against this module's package
        parts = module.split(".")
        anchor = parts if is_package else parts[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    if base != PACKAGE and not base.startswith(PACKAGE + "."):
        return found
    for alias in node.names:
        target = f"{base}.{alias.name}"
        if room_of(target) is not None:  # a submodule, e.g. ``from stylegan import runtime``
            found.append((target, room_of(target)))
        elif base == PACKAGE:
            found.append((target, ROOT_AS_IMPORTER if alias.name in ROOT_IO_NAMES else ROOT_BASE))
        else:
            found.append((target, room_of(base) or base))
    return found


def check_source(source: str, module: str, path: str, is_package: bool = False) -> list[str]:
    """Every import in ``source`` (module ``module``) that goes up or sideways, as
    ``path:line: message`` naming the rule it breaks."""
    own = ROOT_AS_IMPORTER if module == PACKAGE else room_of(module)
    if own is None:
        return [f"{path}:1: {module} has no place in the layers; add it to ROOMS and the docs"]
    problems = []
    for node in ast.walk(ast.parse(source, filename=path)):
        for name, room in _imported_rooms(node, module, is_package):
            if room not in ROOMS:
                problems.append(f"{path}:{node.lineno}: {name} has no place in the layers")
            elif room == own:
                continue
            elif (own, room) in FORBIDDEN:
                problems.append(
                    f"{path}:{node.lineno}: import of {name} from {own}: {FORBIDDEN[own, room]}"
                )
            elif ROOMS[room] > ROOMS[own]:
                problems.append(
                    f"{path}:{node.lineno}: upward import of {name} ({room}, layer "
                    f"{ROOMS[room]}) from {own} (layer {ROOMS[own]}): a room imports only "
                    "from lower layers"
                )
            elif ROOMS[room] == ROOMS[own]:
                problems.append(
                    f"{path}:{node.lineno}: sideways import of {name} ({room}) from {own}: "
                    "rooms on one layer do not import each other"
                )
    return problems


def check_package(src: Path, package: str = PACKAGE) -> list[str]:
    """:func:`check_source` over every ``.py`` file of ``package`` under ``src``."""
    problems = []
    for path in sorted((src / package).rglob("*.py")):
        rel = path.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        problems += check_source(
            path.read_text(), ".".join(parts), str(path.relative_to(src.parent)), is_package
        )
    return problems


def test_the_package_imports_flow_one_way():
    problems = check_package(SRC)
    assert not problems, "\n".join(problems)


def test_every_module_was_checked():
    files = list((SRC / PACKAGE).rglob("*.py"))
    assert len(files) > 60  # the walk really found the package
    assert all(
        room_of(".".join(f.relative_to(SRC).with_suffix("").parts))
        for f in files
        if f.name != "__init__.py" or f.parent != SRC / PACKAGE
    )


@pytest.mark.parametrize(
    ("source", "module", "line", "words"),
    [
        (
            "from stylegan.training.stats import format_time\n",
            "stylegan.metrics.runner",
            1,
            "upward import of stylegan.training.stats.format_time (stylegan.training",
        ),
        (
            "import torch\n\ndef f():\n    from stylegan.cli import main\n",
            "stylegan.ops.bias_act",
            4,
            "upward import of stylegan.cli.main",
        ),
        ("import stylegan.tools.generate\n", "stylegan.networks.layers", 1, "upward import"),
        ("from stylegan import load\n", "stylegan.networks.layers", 1, "upward import"),
        (
            "from stylegan.metrics import runner\n",
            "stylegan.networks.transform",
            1,
            "upward import",
        ),
        ("from stylegan.tools import generate\n", "stylegan.training.loop", 1, "sideways import"),
        (
            "from stylegan.metrics.equivariance import sinc\n",
            "stylegan.tools.motion",
            1,
            "not metrics",
        ),
        ("from ..training import loss\n", "stylegan.metrics.ppl", 1, "upward import"),
        ("from stylegan.io import checkpoint\n", "stylegan.data.dataset", 1, "sideways"),
        ("from stylegan.clip import load_clip\n", "stylegan.tools.editing", 1, "sideways"),
        ("from stylegan.clip.domain import DomainCLIP\n", "stylegan.metrics.ppl", 1, "upward"),
    ],
)
def test_a_planted_upward_import_is_named_with_file_line_and_rule(source, module, line, words):
    problems = check_source(source, module, "src/x.py")
    assert len(problems) == 1
    assert problems[0].startswith(f"src/x.py:{line}: ")
    assert words in problems[0]


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("from stylegan import __version__\n", "stylegan.io.checkpoint"),
        ("from stylegan.errors import StyleGANError\n", "stylegan.ops.bias_act"),
        ("def f():\n    from stylegan.io.formats import load_network\n", "stylegan"),
        ("from . import maths\n", "stylegan.metrics.runner"),
        ("from stylegan.networks.transform import InputTransform\n", "stylegan.tools.motion"),
        ("from stylegan import runtime\n", "stylegan.metrics.runner"),
        ("from stylegan.metrics.features import load_feature_network\n", "stylegan.clip.domain"),
        ("from stylegan.networks.clip import TextImageModel\n", "stylegan.tools.editing"),
    ],
)
def test_downward_and_same_room_imports_pass(source, module):
    assert check_source(source, module, "src/x.py") == []


def test_a_planted_upward_import_in_a_package_on_disk_fails(tmp_path):
    for name, text in {
        "stylegan/__init__.py": "",
        "stylegan/ops/__init__.py": "",
        "stylegan/ops/fine.py": "from stylegan.errors import StyleGANError\n",
        "stylegan/ops/bad.py": "import math\n\n\ndef f():\n    from stylegan.io import formats\n",
        "stylegan/newroom.py": "x = 1\n",
    }.items():
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / name).write_text(text)
    problems = check_package(tmp_path / "src")
    assert len(problems) == 2, problems
    assert (
        problems[0] == "src/stylegan/newroom.py:1: stylegan.newroom has no place in the layers; "
        "add it to ROOMS and the docs"
    )
    assert problems[1].startswith("src/stylegan/ops/bad.py:5: upward import of stylegan.io.formats")
    assert "from stylegan.ops (layer 2): a room imports only from lower layers" in problems[1]
