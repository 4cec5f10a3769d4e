"""ONNX export: StyleGAN 1, 2 and 3 generators, their synthesis and mapping networks, with a
dynamic batch, noise baked or fed in and psi as an input, compared with PyTorch in onnxruntime."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from stylegan.cli import cli  # noqa: E402
from stylegan.errors import StyleGANError  # noqa: E402
from stylegan.io.checkpoint import save_checkpoint  # noqa: E402
from stylegan.io.onnx import export_onnx, noise_buffers, onnx_session, require_onnx  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread_module")


def _run(path, **inputs):
    return onnx_session(path).run(None, {k: np.asarray(v, np.float32) for k, v in inputs.items()})[
        0
    ]


@pytest.mark.parametrize(
    "name, changes",
    [("stylegan1.Generator", {}), ("stylegan2.Generator", {"c_dim": 3}),
     ("stylegan3.Generator", {})],
)  # fmt: skip
def test_whole_generator_matches_pytorch_at_any_batch(tmp_path, make_tiny_network, name, changes):
    G = make_tiny_network(name, **changes).eval()
    result = export_onnx(G, tmp_path / "g.onnx", check_batches=(1, 3), source="tiny")
    assert set(result.parity) == {1, 3} and max(result.parity.values()) <= 1e-4
    info = json.loads(result.info_path.read_text())
    assert info["part"] == "generator" and info["source"] == "tiny"
    assert [i["name"] for i in info["inputs"]] == ["z", *(["c"] if G.c_dim else []), "psi"]
    assert info["outputs"][0]["shape"] == ["batch", 3, G.img_resolution, G.img_resolution]
    psi, cutoff = getattr(G, "default_truncation", (1.0, None))
    assert info["truncation"] == {"psi_default": psi, "cutoff": cutoff}
    # A batch size the export never saw, against the network itself.
    z = torch.randn(4, G.z_dim, generator=torch.Generator().manual_seed(7))
    c = torch.eye(G.c_dim)[[0, 1, 2, 0]] if G.c_dim else torch.zeros(4, 0)
    inputs = {"z": z, "psi": [0.6]} | ({"c": c} if G.c_dim else {})
    got = _run(result.path, **inputs)
    with torch.no_grad():
        kwargs = {"lod": 0.0} if name.startswith("stylegan1") else {}
        ws = G.mapping(z, c, truncation_psi=0.6, truncation_cutoff=cutoff)
        want = G.synthesis(ws, noise_mode="const", **kwargs).numpy()
    assert got.shape == want.shape and np.abs(got - want).max() <= 1e-4


def test_psi_is_an_input_and_mapping_exports_alone(tmp_path, make_tiny_network):
    G = make_tiny_network("stylegan2.Generator").eval()
    path = export_onnx(G, tmp_path / "g.onnx", check_batches=(2,)).path
    z = np.random.default_rng(0).standard_normal((3, G.z_dim))
    mean_image = _run(path, z=z, psi=[0.0])
    assert np.abs(mean_image - mean_image[:1]).max() < 1e-5  # psi 0: every z gives w_avg
    assert np.abs(_run(path, z=z, psi=[1.0]) - mean_image).max() > 1e-2
    mapping = export_onnx(G, tmp_path / "m.onnx", part="mapping", check_batches=(1, 2)).path
    with torch.no_grad():
        want = G.mapping(torch.from_numpy(z).float(), None, truncation_psi=0.5).numpy()
    assert np.abs(_run(mapping, z=z, psi=[0.5]) - want).max() <= 1e-5


def test_synthesis_with_noise_as_inputs(tmp_path, make_tiny_network):
    G = make_tiny_network("stylegan2.Generator").eval()
    for layer in G.synthesis.modules():  # give the noise a visible strength
        if hasattr(layer, "noise_strength"):
            layer.noise_strength.data.fill_(0.5)
    result = export_onnx(G, tmp_path / "s.onnx", part="synthesis", noise="input")
    layers = noise_buffers(G.synthesis)
    names = [i["name"] for i in result.info["inputs"]]
    assert names == ["ws", *(f"noise{i}" for i in range(len(layers)))]
    ws = G.mapping(torch.randn(2, G.z_dim), None).detach()
    zeros = {f"noise{i}": np.zeros((2, 1, r, r)) for i, (_, r) in enumerate(layers)}
    with torch.no_grad():
        no_noise = G.synthesis(ws, noise_mode="none").numpy()
        const = G.synthesis(ws, noise_mode="const").numpy()
    assert np.abs(_run(result.path, ws=ws, **zeros) - no_noise).max() <= 1e-4
    # Feeding the stored constants reproduces noise_mode="const"; other noise changes the image.
    stored = {f"noise{i}": G.synthesis.get_buffer(n).expand(2, 1, r, r).numpy()
              for i, (n, r) in enumerate(layers)}  # fmt: skip
    assert np.abs(_run(result.path, ws=ws, **stored) - const).max() <= 1e-4
    assert np.abs(_run(result.path, ws=ws, **stored) - no_noise).max() > 1e-3


def test_bad_arguments_and_a_missing_extra(tmp_path, make_tiny_network, monkeypatch):
    G = make_tiny_network("stylegan2.Generator")
    for kwargs, fragment in [
        ({"part": "encoder"}, "unknown part"),
        ({"noise": "loud"}, "unknown noise"),
        ({"opset": 12}, "too old"),
        ({"check_batches": ()}, "at least one batch"),
    ]:
        with pytest.raises(StyleGANError, match=fragment):
            export_onnx(G, tmp_path / "x.onnx", **kwargs)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "onnxscript" else real(n, *a)
    )
    with pytest.raises(StyleGANError, match=r"onnxscript: pip install 'stylegan\[onnx\]'"):
        require_onnx()


def test_export_command(tmp_path, make_tiny_network):
    G = make_tiny_network("stylegan2.Generator").eval()
    network = save_checkpoint(tmp_path / "tiny", networks={"G_ema": G})
    out = tmp_path / "out" / "tiny.onnx"
    args = ["export", "onnx", "--network", network, "--out", out, "--synthesis-only",
            "--check-batches", "1,4"]  # fmt: skip
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert "batch 1:" in result.output and "batch 4:" in result.output
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["part"] == "synthesis" and set(info["parity_max_abs"]) == {"1", "4"}
    result = CliRunner().invoke(cli, [*map(str, args[:-2]), "--check-batches", "a"])
    assert result.exit_code == 1 and "give sizes like 1,2,5" in result.output
