"""Check our safe loader against pickles written by NVIDIA's own code (local check, not CI).

Usage::

    python scripts/check_official_pickles.py --official /path/to/stylegan3 [--ada /path/to/ada]

For each configuration of ``scripts/make_official_fixtures.py`` this builds the official
Generator, Discriminator and AugmentPipe with the fixture weights, pickles them exactly as the
official training loop does (into a temporary folder, never into this repository), and then:

1. lists the globals the real pickle names and checks each is on our allowlist;
2. loads the pickle with ``stylegan.load`` (no official code involved) and compares ws, images
   and D logits with the official networks' outputs on the same inputs;
3. exports our networks with ``--to official`` and loads that file into the official classes
   (``Generator(**init_kwargs).load_state_dict``), comparing outputs again;
4. compares the persistent-object layout with the one ``tests/io/nvidia_pickle_writer.py``
   writes, so the committed tests read the same structure as the real files;
5. exports our networks with ``--to nvidia-pickle --nvidia-src <the checkout>`` and loads that
   file with the checkout's own ``legacy.load_network_pkl``, comparing outputs again.

``--ada`` runs steps 1-3 and 5 with stylegan2-ada-pytorch's ``training/networks.py`` in a separate
process (its modules share names with the stylegan3 repository's).
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import pickle
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "io"))

import make_official_fixtures as fixtures  # noqa: E402


class _Inert(dict):
    """Accepts any construction, state or items: stands in for every global while listing."""

    def __new__(cls, *args, **kwargs):
        return dict.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


class GlobalRecorder(pickle.Unpickler):
    """Lists the globals of a pickle, including those inside tensor storages, running nothing."""

    def __init__(self, file, names: set[tuple[str, str]]):
        super().__init__(file)
        self.names = names

    def find_class(self, module, name):
        self.names.add((module, name))
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return self.inner_stream
        return type(name, (_Inert,), {})

    def persistent_load(self, pid):
        return _Inert()

    def inner_stream(self, data):
        f = io.BytesIO(data)
        for _ in range(5):  # magic, protocol, sys info, storage, keys
            GlobalRecorder(f, self.names).load()
        return _Inert()


def official_globals(data: bytes) -> set[tuple[str, str]]:
    names: set[tuple[str, str]] = set()
    GlobalRecorder(io.BytesIO(data), names).load()
    return names


def ada_kwargs(kwargs: dict, nested: bool) -> dict:
    """stylegan3-repository kwargs in stylegan2-ada-pytorch's layout (synthesis nested)."""
    kwargs = copy.deepcopy(kwargs)
    kwargs.pop("fused_modconv_default", None)
    if not nested:
        return kwargs
    top = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs")
    out = {k: kwargs.pop(k) for k in top if k in kwargs}
    out["synthesis_kwargs"] = kwargs
    return out


def full_convolve(a, b) -> np.ndarray:
    """``scipy.signal.convolve(a, b)`` (mode 'full') for 1-D and 2-D arrays."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    out = np.zeros((a.shape[0] + b.shape[0] - 1, a.shape[1] + b.shape[1] - 1))
    for i in range(b.shape[0]):
        for j in range(b.shape[1]):
            out[i : i + a.shape[0], j : j + a.shape[1]] += b[i, j] * a
    return out


def stub_scipy() -> None:
    """augment.py imports scipy.signal for its filter bank; numpy's convolve does the same."""
    try:
        import scipy.signal  # noqa: F401
    except ImportError:
        signal = types.ModuleType("scipy.signal")
        signal.convolve = full_convolve
        sys.modules["scipy"] = types.ModuleType("scipy")
        sys.modules["scipy"].signal = signal
        sys.modules["scipy.signal"] = signal


@torch.no_grad()
def check_repository(root: Path, repo: str) -> list[str]:
    import stylegan
    from stylegan.io.formats import save_as
    from stylegan.io.safe_pickle import ALLOWED

    fixtures._install_import_shims()
    stub_scipy()
    sys.path.insert(0, str(root))
    module = "training.networks_stylegan2" if repo == "stylegan3" else "training.networks"
    import importlib

    nets = importlib.import_module(module)
    augment = importlib.import_module("training.augment")
    import dnnlib

    report = []
    fixture_dir = ROOT / "tests" / "fixtures" / "official"
    for name, cfg in fixtures.CONFIGS.items():
        fx = dict(np.load(fixture_dir / f"{name}.npz", allow_pickle=False))
        g_kwargs = ada_kwargs(cfg["G"], nested=repo == "ada")
        d_kwargs = ada_kwargs(cfg["D"], nested=False)
        G = nets.Generator(**dnnlib.EasyDict(g_kwargs)).eval().requires_grad_(False)
        D = nets.Discriminator(**dnnlib.EasyDict(d_kwargs)).eval().requires_grad_(False)
        for prefix, net in (("G", G), ("D", D)):
            state = {k[2:]: torch.from_numpy(v) for k, v in fx.items() if k[:2] == prefix + "."}
            net.load_state_dict(state, strict=True)
        pipe = augment.AugmentPipe(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1)
        pipe.p.copy_(torch.as_tensor(0.3))
        snapshot = {
            "training_set_kwargs": dnnlib.EasyDict(path="data.zip", resolution=G.img_resolution),
            "G": G,
            "D": D,
            "G_ema": copy.deepcopy(G),
            "augment_pipe": pipe,
        }
        data = pickle.dumps(snapshot)
        names = official_globals(data)
        refused = sorted(f"{m}.{n}" for m, n in names if (m, n) not in ALLOWED)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"network-snapshot-{name}.pkl"
            path.write_bytes(data)
            ckpt = stylegan.io.formats.load_any(path)
            ours_G, ours_D = ckpt.networks["G_ema"], ckpt.networks["D"]
            z, c = torch.from_numpy(fx["z"]), torch.from_numpy(fx["c"])
            img_rand = torch.from_numpy(fx["img_random"])
            diffs = {
                "ws": (ours_G.mapping(z, c) - G.mapping(z, c)).abs().max().item(),
                "img": (ours_G(z, c, noise_mode="const") - G(z, c, noise_mode="const"))
                .abs()
                .max()
                .item(),
                "img_psi0.7": (
                    ours_G(z, c, truncation_psi=0.7, noise_mode="const")
                    - G(z, c, truncation_psi=0.7, noise_mode="const")
                )
                .abs()
                .max()
                .item(),
                "D": (ours_D(img_rand, c) - D(img_rand, c)).abs().max().item(),
            }
            export = save_as(Path(tmp) / "official.pt", ckpt.networks, to="official")
            raw = torch.load(export, weights_only=True)
            kwargs_key = "init_kwargs" if repo == "stylegan3" else "init_kwargs_stylegan2_ada"
            G2 = nets.Generator(**raw[kwargs_key]["G_ema"]).eval()
            G2.load_state_dict(raw["state_dicts"]["G_ema"])
            D2 = nets.Discriminator(**raw[kwargs_key]["D"]).eval()
            D2.load_state_dict(raw["state_dicts"]["D"])
            diffs["export_img"] = (
                (G2(z, c, noise_mode="const") - G(z, c, noise_mode="const")).abs().max().item()
            )
            diffs["export_D"] = (D2(img_rand, c) - D(img_rand, c)).abs().max().item()
            # 5. --to nvidia-pickle, read back by their own legacy.load_network_pkl.
            pkl = save_as(Path(tmp) / "export.pkl", ckpt.networks, "nvidia-pickle", nvidia_src=root)
            legacy = importlib.import_module("legacy")
            with open(pkl, "rb") as f:
                theirs = legacy.load_network_pkl(f)
            G3, D3 = theirs["G_ema"], theirs["D"]
            diffs["nvpkl_img"] = (
                (G3(z, c, noise_mode="const") - G(z, c, noise_mode="const")).abs().max().item()
            )
            diffs["nvpkl_D"] = (D3(img_rand, c) - D(img_rand, c)).abs().max().item()
        meta = ckpt.metadata
        line = (
            f"{repo:9s} {name:22s} repository={meta['source']['repository']:13s} "
            f"augment p={meta['augment_pipe']['p']:.2f} globals={len(names)} "
            f"refused={refused or 'none'} " + " ".join(f"{k}={v:.2g}" for k, v in diffs.items())
        )
        ok = not refused and max(diffs.values()) <= 1e-4
        expected_repo = "stylegan3" if repo == "stylegan3" else "stylegan2-ada"
        ok = ok and meta["source"]["repository"] == expected_repo
        report.append(("OK   " if ok else "FAIL ") + line)
        if repo == "stylegan3" and name == next(iter(fixtures.CONFIGS)):
            report.append("     globals: " + ", ".join(sorted(f"{m}.{n}" for m, n in names)))
            report.append("     " + compare_with_writer(data, G, cfg["G"]))
    if repo == "stylegan3":
        report += check_stylegan3(root, nets, dnnlib, ALLOWED)
    return report


@torch.no_grad()
def check_stylegan3(root: Path, nets2, dnnlib, allowed) -> list[str]:
    """A real StyleGAN3 snapshot (alias-free G_ema + StyleGAN2 D) through our loader."""
    import importlib

    import stylegan

    nets3 = importlib.import_module("training.networks_stylegan3")
    report = []
    for name in ("t16", "r16"):
        fx = dict(np.load(ROOT / "tests" / "fixtures" / "official_sg3" / f"{name}.npz"))
        kwargs = json.loads(str(fx["G_init_kwargs"]))
        G = nets3.Generator(**dnnlib.EasyDict(kwargs)).eval().requires_grad_(False)
        G.load_state_dict({k[2:]: torch.from_numpy(v) for k, v in fx.items() if k[:2] == "G."})
        D = nets2.Discriminator(c_dim=0, img_resolution=16, img_channels=3).eval()
        data = pickle.dumps({"G": G, "D": D, "G_ema": G, "augment_pipe": None})
        names = official_globals(data)
        refused = sorted(f"{m}.{n}" for m, n in names if (m, n) not in allowed)
        z, c = torch.from_numpy(fx["z"]), torch.from_numpy(fx["c"])
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "sg3.pkl"
            path.write_bytes(data)
            ours = stylegan.load(path)
            # 5. --to nvidia-pickle, read back by their legacy.load_network_pkl.
            networks = stylegan.io.formats.load_any(path).networks
            pkl = Path(tmp) / "export.pkl"
            stylegan.io.formats.save_as(pkl, networks, "nvidia-pickle", nvidia_src=root)
            with open(pkl, "rb") as f:
                theirs = importlib.import_module("legacy").load_network_pkl(f)["G_ema"]
        diff = (ours(z, c) - G(z, c)).abs().max().item()
        exported = (theirs(z, c) - G(z, c)).abs().max().item()
        ok = not refused and max(diff, exported) <= 1e-4
        report.append(
            f"{'OK   ' if ok else 'FAIL '}stylegan3 sg3-{name:18s} globals={len(names)} "
            f"refused={refused or 'none'} img={diff:.2g} nvpkl_img={exported:.2g}"
        )
    return report


def compare_with_writer(data: bytes, G: torch.nn.Module, g_kwargs: dict) -> str:
    """Same persistent-object layout as our test writer's?"""
    from nvidia_pickle_writer import write_snapshot

    from stylegan.io.safe_pickle import safe_load
    from stylegan.networks.stylegan2 import Generator

    real = safe_load(io.BytesIO(data))["G_ema"]
    ours_net = Generator(**g_kwargs)
    ours_net.load_state_dict(G.state_dict())
    with tempfile.TemporaryDirectory() as tmp:
        path = write_snapshot(Path(tmp) / "w.pkl", {"G_ema": (ours_net, g_kwargs)})
        written = safe_load(path)["G_ema"]

    def tree(obj, prefix=""):
        out = {prefix or "<root>": obj.class_name}
        for key, child in obj.children.items():
            out.update(tree(child, f"{prefix}{key}."))
        return out

    same_tree = tree(real) == tree(written)
    same_tensors = real.state_dict().keys() == written.state_dict().keys()
    missing_fields = sorted(set(written.state) - set(real.state))
    return (
        f"writer layout: class tree equal={same_tree}, tensor names equal={same_tensors}, "
        f"state fields the writer has but the real file lacks={missing_fields or 'none'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--official", help="NVlabs/stylegan3 checkout")
    parser.add_argument("--ada", help="NVlabs/stylegan2-ada-pytorch checkout")
    parser.add_argument("--only", choices=["stylegan3", "ada"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    if args.only:
        root = args.official if args.only == "stylegan3" else args.ada
        print(json.dumps(check_repository(Path(root), args.only)))
        return
    lines = []
    for repo, root in (("stylegan3", args.official), ("ada", args.ada)):
        if not root:
            continue
        cmd = [
            sys.executable,
            __file__,
            "--only",
            repo,
            f"--{'official' if repo == 'stylegan3' else 'ada'}",
            root,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"{repo} check failed:\n{out.stderr[-3000:]}")
        lines += json.loads(out.stdout.strip().splitlines()[-1])
    print("\n".join(lines))
    if any(line.startswith("FAIL") for line in lines):
        sys.exit(1)


if __name__ == "__main__":
    main()
