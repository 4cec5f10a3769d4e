"""Small files that declare huge things are refused with one line, in bounded memory and time.

Every hostile file is built here, byte by byte or with the fixture writers; none is committed.
The loads run in a child process limited to a few GiB of address space (``RLIMIT_AS``): a
loader that believed the file would die there with MemoryError (or be killed), not print the
one-line refusal the test expects.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import resource
import struct
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from nvidia_pickle_writer import write_snapshot

import stylegan
from stylegan.errors import StyleGANError
from stylegan.io import checkpoint as ckpt
from stylegan.io.limits import (
    MAX_DEPTH,
    RefusedFileError,
    build_network,
    check_object_graph,
)
from stylegan.io.safe_pickle import json_safe, safe_load, to_plain
from stylegan.networks.stylegan2 import Generator
from tiny_networks import TINY_KWARGS

MEMORY_LIMIT = 3 << 30  # the loader plus torch need well under 1 GiB here
TIME_LIMIT = 240  # seconds for all loads of one child process, on a busy 2-core machine

CHILD = textwrap.dedent(
    """
    import sys
    import stylegan
    from stylegan.errors import StyleGANError
    from stylegan.io.formats import inspect

    for path in sys.argv[1:]:
        for read in (inspect, stylegan.load):
            try:
                read(path)
                print("LOADED")
            except StyleGANError as err:  # a newline in the message shows as " | "
                print("StyleGANError", str(err).replace(chr(10), " | "))
            except BaseException as err:  # MemoryError, RecursionError: what must not happen
                print(type(err).__name__, str(err)[:200].replace(chr(10), " "))
    """
)

TINY_G = TINY_KWARGS["stylegan2.Generator"]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _bounded(args: list[str], timeout: float = TIME_LIMIT) -> subprocess.CompletedProcess:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_limit_memory,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def load_bounded(*paths: Path) -> list[tuple[str, str]]:
    """Per file, what ``inspect`` and ``stylegan.load`` did: ``StyleGANError <message>``,
    ``LOADED`` or the exception that should not have happened."""
    result = _bounded([sys.executable, "-c", CHILD, *map(str, paths)])
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert len(lines) == 2 * len(paths), result.stdout + result.stderr[-2000:]
    return list(zip(lines[::2], lines[1::2], strict=True))


def assert_refused(lines: tuple[str, ...], why: str, path: Path) -> None:
    for line in lines:
        assert line.startswith("StyleGANError refusing to load: "), line
        assert why in line and str(path) in line, line
        assert " | " not in line


class _Call:
    """Pickles as ``func(*args)``."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def shared_reference_bomb(levels: int = 60) -> list:
    """A list of the same list of the same list ...: ``levels`` deep, 2**levels leaves."""
    bomb: list = [0]
    for _ in range(levels):
        bomb = [bomb, bomb]
    return bomb


def small_generator() -> tuple[torch.nn.Module, dict]:
    torch.manual_seed(0)
    G = Generator(**TINY_G).eval()
    return G, G.init_kwargs


@pytest.fixture
def hostile(tmp_path) -> dict[str, Path]:
    """Every hostile file, by name."""
    G, kwargs = small_generator()
    files: dict[str, Path] = {}

    def snapshot(name: str, **extra) -> Path:
        files[name] = write_snapshot(tmp_path / f"{name}.pkl", {"G_ema": (G, kwargs)}, extra=extra)
        return files[name]

    def raw(name: str, data: bytes) -> None:
        files[name] = tmp_path / f"{name}.pkl"
        files[name].write_bytes(data)

    snapshot("shared", training_set_kwargs={"path": shared_reference_bomb()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage is deprecated: pickles hold them anyway
        storage = torch.zeros(1).storage()
    view = _Call(torch._utils._rebuild_tensor_v2, storage, 0, (10**6,) * 2, (0, 0))
    snapshot("stride0", training_set_kwargs={"labels": view})
    snapshot("tensor_ctor", training_set_kwargs={"x": _Call(torch.Tensor, 10**13)})
    snapshot("ndarray_ctor", training_set_kwargs={"x": _Call(np.ndarray, (10**13,))})
    files["z_dim"] = write_snapshot(
        tmp_path / "z_dim.pkl", {"G_ema": (G, {**kwargs, "z_dim": 2**26})}
    )
    raw("binbytes8", b"\x80\x04\x8e" + struct.pack("<Q", 2**60) + b"abc")
    raw("binunicode8", b"\x80\x04\x8d" + struct.pack("<Q", 2**60) + b"abc")
    raw("frame", b"\x80\x04\x95" + struct.pack("<Q", 2**60) + b"].")
    raw("memo", b"\x80\x04]r" + struct.pack("<I", 2**32 - 1) + b".")
    depth = 50_000  # nested lists, built by the unpickler's stack: 50 KB, RecursionError once
    raw("deep", b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b".")
    raw("cycle", b"\x80\x02]q\x00h\x00a.")  # a list that contains itself
    return files


def test_hostile_pickles_are_refused_in_bounded_memory(hostile):
    expected = {
        "shared": "shared references stand for more than",
        "stride0": "elements) is larger than the 1 elements stored for it",
        "tensor_ctor": "calls torch.Tensor(...)",
        "ndarray_ctor": "calls numpy.ndarray(...)",
        "z_dim": "parameters",
        "binbytes8": "a BINBYTES8 at byte 2 of the pickle declares 1,152,921,504,606,846,976",
        "binunicode8": "a BINUNICODE8 at byte 2 of the pickle declares 1,152,921,",
        "frame": "declares 1,152,921,504,606,846,976 bytes",
        "memo": "memo slot",
        "deep": f"nested more than {MAX_DEPTH} deep",
        "cycle": "reference cycle",
    }
    names = list(expected)
    lines = load_bounded(*(hostile[n] for n in names))
    for name, both in zip(names, lines, strict=True):
        assert_refused(both, expected[name], hostile[name])


def test_cli_refuses_a_shared_reference_bomb_with_one_line(hostile, tmp_path):
    stylegan_cli = [sys.executable, "-m", "stylegan"]
    for args in (
        ["inspect", str(hostile["shared"])],
        [
            "generate",
            "--network",
            str(hostile["shared"]),
            "--seeds",
            "0",
            "--outdir",
            str(tmp_path),
        ],
        ["inspect", str(hostile["stride0"])],
    ):
        result = _bounded(stylegan_cli + args)
        assert result.returncode == 1, result.stderr[-2000:]
        assert result.stderr.startswith("error: refusing to load: "), result.stderr[-2000:]
        assert result.stderr.count("\n") == 1, result.stderr
        assert not list(tmp_path.glob("*.png"))


def test_the_bounds_leave_real_snapshots_alone(tmp_path):
    """The same writer's honest snapshot, with shared module source and kwargs, still loads."""
    G, kwargs = small_generator()
    path = write_snapshot(tmp_path / "ok.pkl", {"G": (G, kwargs), "G_ema": (G, kwargs)})
    loaded = stylegan.load(path)
    assert torch.equal(loaded.mapping.fc0.weight, G.mapping.fc0.weight)


def test_conversions_keep_shared_objects_shared():
    """Each object converts once: a 2**40-leaf tree of 40 lists costs 40 conversions."""
    bomb = shared_reference_bomb(40)
    plain = to_plain({"a": bomb})["a"]
    assert plain[0] is plain[1]
    safe = json_safe([bomb])[0]
    assert safe[0] is safe[1]
    with pytest.raises(RefusedFileError, match="shared references"):
        check_object_graph(bomb, 10_000)
    nested: list = []
    for _ in range(MAX_DEPTH + 5):
        nested = [nested]
    with pytest.raises(RefusedFileError, match="nested more than"):
        to_plain(nested)


def test_tensor_bytes_are_bounded_by_the_file_size():
    big = torch.zeros(1000)
    check_object_graph([big, big], file_size=4000)  # shared a few times: fine
    with pytest.raises(RefusedFileError, match="counted where they are referenced"):
        check_object_graph([big] * 10_000, file_size=4000)


def test_network_size_is_checked_on_the_meta_device_first(monkeypatch):
    config = Generator.config_class.from_init_kwargs({**TINY_G, "z_dim": 2**20})
    built = []
    real = Generator.from_config.__func__

    def spy(cls, cfg):
        built.append(torch.get_default_device().type)
        return real(cls, cfg)

    monkeypatch.setattr(Generator, "from_config", classmethod(spy))
    with pytest.raises(RefusedFileError, match="the file stores only 10"):
        build_network(Generator, config, "G_ema", file_elements=10)
    assert built == ["meta"]
    monkeypatch.setattr("stylegan.io.limits.MAX_PARAMETERS", 1000)
    with pytest.raises(RefusedFileError, match="more than the 1,000"):
        build_network(Generator, config, "G_ema")
    assert built == ["meta", "meta"]


def test_numpy_object_arrays_are_refused_wherever_they_come_from():
    with pytest.raises(RefusedFileError, match="numpy array of Python objects"):
        check_object_graph({"x": np.array([1, "a"], dtype=object)}, 1000)
    numpy_reconstruct = np.zeros(1).__reduce__()[0]  # as numpy itself pickles arrays
    reconstruct = _Call(numpy_reconstruct, np.ndarray, (10**6,), b"b")
    with pytest.raises(RefusedFileError, match="empty array of shape"):
        safe_load(io.BytesIO(pickle.dumps({"x": reconstruct}, protocol=4)))


def test_our_format_refuses_a_config_larger_than_its_weights(tmp_path):
    G, _ = small_generator()
    path = ckpt.save_checkpoint(tmp_path / "snap", {"G_ema": G})
    config = json.loads((path / "config.json").read_text())
    config["networks"]["G_ema"]["config"]["z_dim"] = 2**26
    (path / "config.json").write_text(json.dumps(config))
    for line in load_bounded(path)[0]:
        assert line.startswith("StyleGANError "), line
        assert "parameters" in line or "z_dim" in line, line


def test_torch_files_with_huge_views_or_compression_are_refused(tmp_path):
    view = tmp_path / "view.pt"
    torch.save({"g_ema": {"style.1.weight": torch.zeros(1).expand(10**6, 10**6)}}, view)
    packed = tmp_path / "packed.pt"
    torch.save({"g_ema": {"style.1.weight": torch.zeros(4)}}, tmp_path / "plain.pt")
    with (
        zipfile.ZipFile(tmp_path / "plain.pt") as src,
        zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    lines = load_bounded(view, packed)
    assert_refused(lines[0], "larger than the 1 elements stored for it", view)
    assert_refused(lines[1], "compressed entries", packed)


def test_refusals_are_style_gan_errors_naming_the_file(hostile):
    with pytest.raises(StyleGANError, match=r"refusing to load: .* in .*memo\.pkl$"):
        safe_load(hostile["memo"])
