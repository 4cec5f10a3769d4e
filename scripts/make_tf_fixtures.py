"""Regenerate ``tests/fixtures/tensorflow/``: TensorFlow-format pickles through NVIDIA's converter.

Usage::

    python scripts/make_tf_fixtures.py --official /path/to/stylegan3 \
        --official-commit c233a919a6faee6e36a316ddd4eddababad1adf9 --out tests/fixtures/tensorflow

For each small configuration below, random TensorFlow variables (names and shapes as the TF
graphs create them, fixed numpy seed) are drawn by ``tests/io/tf_pickle_writer.py``, which also
writes them as a ``(G, D, Gs)`` pickle with the structure of NVIDIA's TensorFlow releases into a
temporary folder. NVIDIA's own ``legacy.load_network_pkl`` (imported from ``--official``; it
needs no TensorFlow) converts that pickle, and the converted ``G_ema`` (from ``Gs``), ``G`` and
``D`` are run on the CPU in fp32 on fixed inputs. Saved per configuration, arrays only: the TF
variables, the spec (static kwargs), the inputs and the official outputs. No pickle is kept.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "io"))

import tf_pickle_writer  # noqa: E402  (tests/io: our TF-format pickle writer)

import make_official_fixtures  # noqa: E402  (import shims, official commit)

BATCH_SEEDS = [0, 1, 2, 3]  # z row i = RandomState(seed i).randn(z_dim), as gen_images.py
TRUNCATION_PSI = 0.7
TRUNCATION_CUTOFF = 2

# name -> spec for tf_pickle_writer: static kwargs as the TF networks carry them, the flavour
# (stylegan2-ada's G_main/D_main or the stylegan2 repository's), and the variables' seed.
CONFIGS: dict[str, dict] = {
    # (a) StyleGAN2-ADA, unconditional 32 px: G skip, D resnet, fp16/clamp settings of ADA's
    # train.py (no effect on the CPU in fp32), 2 mapping layers.
    "ada_uncond32_skip_resnet": {
        "seed": 11,
        "flavor": "ada",
        "D_func": "D_main",
        "G_static": {
            "num_channels": 3,
            "resolution": 32,
            "label_size": 0,
            "latent_size": 16,
            "dlatent_size": 16,
            "fmap_base": 128,
            "fmap_max": 16,
            "mapping_layers": 2,
            "num_fp16_res": 4,
            "conv_clamp": 256,
            "architecture": "skip",
        },
        "D_static": {
            "num_channels": 3,
            "resolution": 32,
            "label_size": 0,
            "fmap_base": 128,
            "fmap_max": 16,
            "mbstd_group_size": 4,
            "num_fp16_res": 4,
            "conv_clamp": 256,
            "architecture": "resnet",
        },
    },
    # (b) StyleGAN2-ADA, conditional (4 classes) 16 px: G resnet, D skip; label embedding, mapping
    # widths and lr, D label mapping (2 layers, cmap 24) and a 2-feature minibatch-stddev.
    "ada_cond16_resnet_skip": {
        "seed": 22,
        "flavor": "ada",
        "D_func": "D_main",
        "G_static": {
            "num_channels": 3,
            "resolution": 16,
            "label_size": 4,
            "latent_size": 24,
            "dlatent_size": 32,
            "label_fmaps": 16,
            "mapping_fmaps": 48,
            "mapping_layers": 2,
            "mapping_lrmul": 0.05,
            "fmap_base": 64,
            "fmap_max": 32,
            "architecture": "resnet",
            "truncation_psi": 0.5,
        },
        "D_static": {
            "num_channels": 3,
            "resolution": 16,
            "label_size": 4,
            "fmap_base": 64,
            "fmap_max": 32,
            "mapping_layers": 2,
            "mapping_fmaps": 24,
            "mbstd_group_size": 2,
            "mbstd_num_features": 2,
            "architecture": "skip",
        },
    },
    # (c) StyleGAN2 repository, unconditional one-channel 16 px: G 'orig' (own 'lod' variable as
    # in that repository's G_main), D_stylegan with progressive FromRGB_lod{k} names ('orig').
    "sg2_uncond16_orig": {
        "seed": 33,
        "flavor": "sg2",
        "D_func": "D_stylegan",
        "lod_fromrgb": True,
        "G_static": {
            "num_channels": 1,
            "resolution": 16,
            "label_size": 0,
            "latent_size": 16,
            "dlatent_size": 24,
            "mapping_layers": 3,
            "fmap_base": 64,
            "fmap_max": 16,
            "architecture": "orig",
        },
        "D_static": {
            "num_channels": 1,
            "resolution": 16,
            "label_size": 0,
            "fmap_base": 64,
            "fmap_max": 16,
        },
    },
}


def import_legacy(official: str | Path):
    """``legacy`` of the official stylegan3 checkout (after the same shims as the other script)."""
    make_official_fixtures.import_official_networks(official)  # shims + sys.path
    import legacy  # the official checkout's, on sys.path now

    return legacy


def as_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().contiguous().numpy()


@torch.no_grad()
def make_fixture(legacy, name: str, spec: dict, meta: dict, tmp: Path) -> dict[str, np.ndarray]:
    flat = tf_pickle_writer.make_variables(spec, spec["seed"])
    path = tf_pickle_writer.write_tf_pickle(
        tmp / f"{name}.pkl", tf_pickle_writer.tf_networks(spec, flat)
    )
    with open(path, "rb") as f:
        data = legacy.load_network_pkl(f)
    G_ema, G, D = (data[k].eval() for k in ("G_ema", "G", "D"))

    n = len(BATCH_SEEDS)
    z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(G.z_dim) for s in BATCH_SEEDS]))
    z = z.to(torch.float32)
    c = torch.zeros([n, G.c_dim])
    if G.c_dim > 0:
        c[torch.arange(n), torch.arange(n) % G.c_dim] = 1
    trunc = dict(truncation_psi=TRUNCATION_PSI, truncation_cutoff=TRUNCATION_CUTOFF)
    out = {
        "ws": G_ema.mapping(z, c),
        "ws_psi07": G_ema.mapping(z, c, truncation_psi=TRUNCATION_PSI),
        "ws_psi07_cutoff2": G_ema.mapping(z, c, **trunc),
        "img_const": G_ema(z, c, noise_mode="const"),
        "img_const_psi07_cutoff2": G_ema(z, c, noise_mode="const", **trunc),
        "G_ws": G.mapping(z, c),
        "G_img_const": G(z, c, noise_mode="const"),
    }
    out["logits_img_const"] = D(out["img_const"], c)
    out["logits_G_img_const"] = D(out["G_img_const"], c)

    # The official converter on the same generator with progressive ToRGB_lod{k} names.
    lod_spec, lod_flat = tf_pickle_writer.with_torgb_lod(spec, flat)
    lod_nets = tf_pickle_writer.tf_networks(lod_spec, lod_flat)
    try:
        legacy.load_network_pkl(io.BytesIO(tf_pickle_writer.dumps(lod_nets)))
        lod_result = "converted"
    except Exception as err:  # recorded: what the official converter does here
        lod_result = f"{type(err).__name__}: {err}"

    arrays: dict[str, np.ndarray] = {
        "spec": np.array(json.dumps(spec, sort_keys=True)),
        "meta": np.array(json.dumps({**meta, "config": name, "official_on_torgb_lod": lod_result})),
        "seeds": np.array(BATCH_SEEDS, dtype=np.int64),
        "z": as_numpy(z),
        "c": as_numpy(c),
    }
    arrays.update({k: as_numpy(v) for k, v in out.items()})
    for key, value in flat.items():
        half = np.asarray(value, dtype=np.float16)
        assert np.array_equal(half.astype(np.float32), value), key  # exact by construction
        arrays[key] = half
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--official", required=True, help="path to an NVlabs/stylegan3 checkout")
    parser.add_argument("--official-commit", default=None, help="commit of that checkout")
    parser.add_argument("--out", default="tests/fixtures/tensorflow", help="output folder")
    args = parser.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    legacy = import_legacy(args.official)
    meta = {
        "official_repo": "NVlabs/stylegan3",
        "official_module": "legacy.py (load_network_pkl), training/networks_stylegan2.py",
        "official_commit": make_official_fixtures.official_commit(
            Path(args.official), args.official_commit
        ),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "device": "cpu",
        "dtype": "float32",
        "pickle_protocol": tf_pickle_writer.PROTOCOL,
        "seeds": BATCH_SEEDS,
        "truncation_psi": TRUNCATION_PSI,
        "truncation_cutoff": TRUNCATION_CUTOFF,
    }
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in CONFIGS.items():
            arrays = make_fixture(legacy, name, spec, meta, Path(tmp))
            path = out_dir / f"{name}.npz"
            np.savez_compressed(path, **arrays)
            lod = json.loads(str(arrays["meta"]))["official_on_torgb_lod"]
            size = path.stat().st_size / 1024
            print(f"{path}: {len(arrays)} arrays, {size:.0f} KiB; official on ToRGB_lod: {lod}")


if __name__ == "__main__":
    main()
