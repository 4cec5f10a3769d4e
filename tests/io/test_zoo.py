"""The bundled zoo: our own networks, loadable by name with no network access."""

from __future__ import annotations

import socket

import pytest
import torch
from click.testing import CliRunner
from safetensors import safe_open

import stylegan
from stylegan.cli import cli
from stylegan.data.dataset import SAMPLE_CLASS_NAMES
from stylegan.io.checkpoint import read_config, save_networks
from stylegan.io.zoo import ZOO, export_zoo_network, zoo_path
from tiny_networks import tiny_network


def test_export_stores_fp16_and_loads_back_as_fp32(tmp_path):
    G = tiny_network("stylegan2.Generator", seed=3).eval()
    snapshot = save_networks(tmp_path / "snap", G_ema=G)
    out = export_zoo_network(
        snapshot, "twemoji-32-cond", tmp_path / "z.safetensors", {"kimg": 7}, ["a", "b"]
    )
    with safe_open(str(out), "pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
    assert dtypes == {torch.float16}
    metadata = read_config(out)["metadata"]
    assert metadata["class_names"] == ["a", "b"] and metadata["kimg"] == 7
    assert "stylegan train" in metadata["command"]
    back = stylegan.load(out)
    assert {p.dtype for p in back.parameters()} == {torch.float32}
    z = torch.randn(2, G.z_dim)
    with torch.no_grad():
        torch.testing.assert_close(back(z, None), G(z, None), atol=2e-2, rtol=0)


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the zoo must load without network access")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize("name", list(ZOO))
def test_bundled_networks_load_by_name_offline(name, no_network):
    assert zoo_path(name) is not None, f"{name} is not bundled: run scripts/export_zoo.py"
    G = stylegan.load(name)
    assert G.img_resolution == 32
    assert (G.c_dim > 0) == ZOO[name].conditional
    names = read_config(zoo_path(name))["metadata"].get("class_names")
    assert names == (list(SAMPLE_CLASS_NAMES) if G.c_dim else None)
    images = G.generate(seeds=[0, 1], truncation_psi=0.7, class_idx=0 if G.c_dim else None)
    assert (
        images.shape[0] == 2 and torch.isfinite(torch.as_tensor(images, dtype=torch.float32)).all()
    )


def test_pretrained_lists_the_zoo_first():
    result = CliRunner().invoke(cli, ["pretrained"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines[: len(ZOO)]] == list(ZOO)
    assert all("bundled, offline" in line for line in lines[: len(ZOO)])
