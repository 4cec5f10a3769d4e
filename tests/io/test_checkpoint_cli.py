"""``stylegan convert``, ``stylegan inspect``, and every command reading foreign checkpoints."""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from file_tree import tree_digest
from nvidia_pickle_writer import augment_pipe, write_snapshot
from PIL import Image

from stylegan.cli import cli
from stylegan.networks.stylegan2 import Generator
from stylegan.networks.stylegan2_discriminator import Discriminator

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "official" / "uncond32_skip_resnet.npz"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@functools.cache
def official_networks() -> dict:
    with np.load(FIXTURE, allow_pickle=False) as fx:
        arrays = {k: fx[k] for k in fx.files}
    out = {}
    for prefix, cls in (("G", Generator), ("D", Discriminator)):
        kwargs = json.loads(str(arrays[f"{prefix}_init_kwargs"]))
        net = cls(**kwargs)
        n = len(prefix) + 1
        net.load_state_dict(
            {k[n:]: torch.from_numpy(v) for k, v in arrays.items() if k[:n] == prefix + "."}
        )
        out[prefix] = (net.eval(), kwargs)
    return out


@pytest.fixture
def pkl(tmp_path) -> Path:
    nets = official_networks()
    return write_snapshot(
        tmp_path / "network-snapshot-000100.pkl",
        {"G": nets["G"], "D": nets["D"], "G_ema": nets["G"]},
        extra={
            "training_set_kwargs": {"path": "faces.zip", "resolution": 32},
            "augment_pipe": augment_pipe(0.125, xflip=1),
        },
    )


def pngs(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))}


def test_inspect_prints_what_the_file_holds(pkl):
    result = run("inspect", str(pkl))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "nvidia-pytorch-pickle" in out and "written by: stylegan3 (stylegan2)" in out
    assert "G_ema: stylegan2.Generator, 32x32" in out
    assert "z_dim 32, w_dim 32, c_dim 0, num_ws 8" in out
    assert "augment_pipe: AugmentPipe, p = 0.125" in out
    assert "training set: faces.zip (32 px)" in out
    data = json.loads(run("inspect", str(pkl), "--json").output)
    assert data["networks"]["D"]["architecture"] == "resnet"


def test_generate_reads_a_pickle_and_its_conversion_identically(pkl, tmp_path):
    direct, converted = tmp_path / "direct", tmp_path / "converted"
    result = run("convert", str(pkl), str(tmp_path / "ours"))
    assert result.exit_code == 0 and "wrote" in result.output, result.output
    for network, out in ((pkl, direct), (tmp_path / "ours", converted)):
        result = run("generate", "--network", str(network), "--seeds", "0-2", "--outdir", str(out))
        assert result.exit_code == 0, result.output
    a, b = pngs(direct), pngs(converted)
    assert len(a) == 3 and a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    info = json.loads(run("inspect", str(tmp_path / "ours"), "--json").output)
    assert info["format"] == "stylegan" and sorted(info["networks"]) == ["D", "G", "G_ema"]
    assert info["metadata"]["augment_pipe"]["p"] == 0.125  # carried over


def test_convert_selected_networks_and_official_export(pkl, tmp_path):
    out = tmp_path / "g.safetensors"
    assert run("convert", str(pkl), str(out), "--net", "G_ema").exit_code == 0
    info = json.loads(run("inspect", str(out), "--json").output)
    assert list(info["networks"]) == ["G_ema"]
    official = tmp_path / "official.pt"
    assert run("convert", str(pkl), str(official), "--to", "official").exit_code == 0
    raw = torch.load(official, weights_only=True)
    assert sorted(raw["state_dicts"]) == ["D", "G", "G_ema"]


def test_convert_errors_are_one_line(pkl, tmp_path):
    cases = [
        ((str(tmp_path / "missing.pkl"), str(tmp_path / "x")), "checkpoint not found"),
        ((str(pkl), str(tmp_path / "r.pt"), "--to", "rosinality"), "rosinality"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(cli, ["convert", *args])
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_generate_from_a_url_downloads_once(pkl, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("no_proxy", "*")
    handler = functools.partial(_QuietHandler, directory=str(pkl.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/{pkl.name}"
        for i in range(2):
            out = tmp_path / f"out{i}"
            result = run("generate", "--network", url, "--seeds", "0", "--outdir", str(out))
            assert result.exit_code == 0, result.output
        server.shutdown()  # the cached copy is enough from now on
        result = run("generate", "--network", url, "--seeds", "0", "--outdir", str(tmp_path / "c"))
        assert result.exit_code == 0, result.output
    finally:
        server.shutdown()
        server.server_close()
    cached = [p for p in (tmp_path / "cache").iterdir() if p.suffix == ".pkl"]
    assert len(cached) == 1 and cached[0].read_bytes() == pkl.read_bytes()
    assert np.array_equal(
        pngs(tmp_path / "out0")["seed0000.png"], pngs(tmp_path / "c")["seed0000.png"]
    )


def test_train_resumes_from_an_official_pickle(pkl, tmp_path):
    """Fine-tuning from an NVIDIA snapshot: networks come from the pickle, counters from zero."""
    data = tmp_path / "data"
    data.mkdir()
    rnd = np.random.RandomState(0)
    for i in range(8):
        Image.fromarray(rnd.randint(0, 255, (32, 32, 3), dtype=np.uint8)).save(data / f"{i}.png")
    result = run(
        "train",
        "--outdir", str(tmp_path / "runs"),
        "--data", str(data),
        "--cfg", "tiny",
        "--kimg", "0.008",
        "--tick", "0.004",
        "--resume", str(pkl),
        "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert f"Resuming:    {pkl} at kimg 0.0 (networks only" in (run_dir / "log.txt").read_text()
    from stylegan.io.checkpoint import load_checkpoint
    from stylegan.training import find_latest_snapshot

    trained = load_checkpoint(find_latest_snapshot(run_dir)).networks["G"]
    official_G = official_networks()["G"][0]
    assert trained.config == official_G.config  # the pickle's network, not the tiny preset's


def test_pretrained_names_stand_for_official_urls(monkeypatch, pkl):
    from stylegan.io import download

    result = run("pretrained")
    assert result.exit_code == 0
    line = next(x for x in result.output.splitlines() if x.startswith("stylegan2-ffhq-1024x1024 "))
    url = line.split()[-1]
    assert url.endswith("/stylegan2/versions/1/files/stylegan2-ffhq-1024x1024.pkl")
    asked = []

    def fake_download(u, **kw):
        asked.append(u)
        return pkl

    monkeypatch.setattr(download, "download", fake_download)
    result = run("inspect", "stylegan2-ffhq-1024x1024")
    assert result.exit_code == 0, result.output
    assert asked == [url]


def test_official_to_ours_to_rosinality_to_ours_is_lossless(tmp_path):
    """The round trip of the issue, through files and the CLI, on a rosinality-shaped net."""
    torch.manual_seed(0)
    g_kwargs = {
        "z_dim": 64,
        "c_dim": 0,
        "w_dim": 64,
        "img_resolution": 8,
        "img_channels": 3,
        "mapping_kwargs": {"num_layers": 2},
        "channel_base": 32768,
        "channel_max": 512,
        "num_fp16_res": 0,
        "conv_clamp": None,
    }
    d_kwargs = {k: g_kwargs[k] for k in ("c_dim", "img_resolution", "img_channels")}
    d_kwargs.update(channel_base=32768, channel_max=512, num_fp16_res=0, conv_clamp=None)
    G, D = Generator(**g_kwargs).eval(), Discriminator(**d_kwargs).eval()
    with torch.no_grad():  # no zero-initialised tensors, so a dropped one would show
        buffers = [b for n, b in G.named_buffers() if n.endswith(("noise_const", "w_avg"))]
        for t in [*G.parameters(), *D.parameters(), *buffers]:
            t.add_(0.1 * torch.randn_like(t))
    pkl = write_snapshot(
        tmp_path / "official.pkl",
        {"G": (G, g_kwargs), "D": (D, d_kwargs), "G_ema": (G, g_kwargs)},
    )
    ours, ros, back = tmp_path / "ours", tmp_path / "ros.pt", tmp_path / "back.safetensors"
    for args in ((pkl, ours), (ours, ros, "--to", "rosinality"), (ros, back)):
        result = run("convert", *map(str, args))
        assert result.exit_code == 0, result.output
    from stylegan.io.formats import load_any

    first, last = load_any(ours).networks, load_any(back).networks
    assert sorted(last) == ["D", "G", "G_ema"]
    for key, net in first.items():
        assert net.config == last[key].config, key
        for name, value in net.state_dict().items():
            assert torch.equal(last[key].state_dict()[name], value), (key, name)
    images = {}
    for network in (pkl, ros):
        out = tmp_path / f"img-{network.suffix}"
        result = run("generate", "--network", str(network), "--seeds", "0-1", "--outdir", str(out))
        assert result.exit_code == 0, result.output
        images[network.suffix] = pngs(out)
    assert all(np.array_equal(images[".pkl"][k], images[".pt"][k]) for k in images[".pkl"])


def _one_line_error(result, message: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_convert_never_deletes_an_existing_folder(pkl, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(b"\xff\xd8 mine")
    (photos / "sub").mkdir()
    (photos / "sub" / "more.txt").write_text("mine too")
    before = tree_digest(tmp_path)
    _one_line_error(CliRunner().invoke(cli, ["convert", str(pkl), str(photos)]), "already exists")
    result = CliRunner().invoke(cli, ["convert", str(pkl), str(photos), "--overwrite"])
    _one_line_error(result, "refusing to replace it even with --overwrite")
    assert tree_digest(tmp_path) == before


def test_convert_overwrite_replaces_our_checkpoint(pkl, tmp_path):
    out = tmp_path / "net"
    assert run("convert", str(pkl), str(out), "--net", "G_ema").exit_code == 0
    _one_line_error(CliRunner().invoke(cli, ["convert", str(pkl), str(out)]), "--overwrite")
    assert run("convert", str(pkl), str(out), "--overwrite").exit_code == 0
    info = json.loads(run("inspect", str(out), "--json").output)
    assert sorted(info["networks"]) == ["D", "G", "G_ema"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["net", pkl.name])


def test_convert_to_official_replaces_only_a_torch_file(pkl, tmp_path):
    official = tmp_path / "official.pt"
    assert run("convert", str(pkl), str(official), "--to", "official", "--net", "G").exit_code == 0
    before = tree_digest(tmp_path)
    result = CliRunner().invoke(cli, ["convert", str(pkl), str(official), "--to", "official"])
    _one_line_error(result, "already exists")
    assert tree_digest(tmp_path) == before
    assert run("convert", str(pkl), str(official), "--to", "official", "--overwrite").exit_code == 0
    assert sorted(torch.load(official, weights_only=True)["state_dicts"]) == ["D", "G", "G_ema"]

    notes = tmp_path / "notes.pt"  # named like an export, but a user's text
    notes.write_text("not a checkpoint")
    before = tree_digest(tmp_path)
    args = ["convert", str(pkl), str(notes), "--to", "official", "--overwrite"]
    result = CliRunner().invoke(cli, args)
    _one_line_error(result, "is not a PyTorch file like those --to official writes")
    assert tree_digest(tmp_path) == before


def test_convert_destination_is_checked_before_reading(pkl, tmp_path, monkeypatch):
    from stylegan.io import formats

    monkeypatch.setattr(formats, "load_any", lambda *a, **k: pytest.fail("read before checking"))
    monkeypatch.chdir(tmp_path)
    _one_line_error(CliRunner().invoke(cli, ["convert", str(pkl), "."]), "current folder")
    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(cli, ["convert", str(pkl), str(tmp_path / "file" / "net")])
    _one_line_error(result, "file is a file, not a folder")
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(  # root ignores permission bits; answer as for a regular user
        os, "access", lambda p, mode: os.fspath(p) != str(locked) and real_access(p, mode)
    )
    result = CliRunner().invoke(cli, ["convert", str(pkl), str(locked / "net")])
    _one_line_error(result, "not writable")
