"""Reference outputs of NVIDIA's original StyleGAN (TensorFlow) for tests/io/test_tensorflow_sg1.py.

    python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu==2.16.1
    /tmp/tfenv/bin/python scripts/make_tf_sg1_fixtures.py --official <NVlabs/stylegan checkout>

Builds ``G_style`` and ``D_basic`` of ``training/networks_stylegan.py`` with the official code,
run in graph mode under ``tf.compat.v1`` (TF 1.x does not install on current Pythons), sets every
variable to random values (float16-representable, so the .npz holds them exactly), and records
``Gs`` images (constant noise) and ``D`` logits at several levels of detail, with and without
truncation. Only numbers are written; no official code or pickle is stored.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

CONFIGS = {
    # 32 px: unfused up/down convolutions; every lod from fully grown to mid-fade at 8 px.
    "sg1_32": dict(
        G=dict(resolution=32, num_channels=3, label_size=0, fmap_base=128, fmap_max=32,
               latent_size=32, dlatent_size=32, mapping_layers=3, mapping_fmaps=24),
        D=dict(resolution=32, num_channels=3, label_size=0, fmap_base=128, fmap_max=32),
        lods=[0.0, 0.5, 1.7], num=2, truncated=True,
    ),
    # 128 px: TensorFlow switches to the fused transposed / strided convolutions at 128.
    "sg1_128": dict(
        G=dict(resolution=128, num_channels=3, label_size=0, fmap_base=64, fmap_max=16,
               latent_size=16, dlatent_size=16, mapping_layers=2, mapping_fmaps=16),
        D=dict(resolution=128, num_channels=3, label_size=0, fmap_base=64, fmap_max=16,
               mbstd_group_size=2),
        lods=[0.0], num=1, truncated=False,
    ),
}  # fmt: skip


def discriminator_inputs(resolution: int) -> np.ndarray:
    """D's test images, drawn again by the test instead of stored (the same function there)."""
    return np.random.RandomState(7).randn(4, 3, resolution, resolution).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", required=True, help="NVlabs/stylegan checkout")
    parser.add_argument("--out", default="tests/fixtures/tensorflow_sg1")
    args = parser.parse_args()

    import tensorflow as tf2

    tf = tf2.compat.v1
    tf.disable_v2_behavior()
    sys.modules["tensorflow"] = tf  # the official code imports TF 1.x names
    sys.path.insert(0, args.official)
    import dnnlib.tflib as tflib

    tflib.init_tf({"rnd.np_random_seed": 1, "rnd.tf_random_seed": 1, "allow_soft_placement": True})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, cfg in CONFIGS.items():
        rng = np.random.RandomState(123)
        Gs = tflib.Network("Gs", func_name="training.networks_stylegan.G_style", **cfg["G"])
        D = tflib.Network("D", func_name="training.networks_stylegan.D_basic", **cfg["D"])
        arrays: dict[str, np.ndarray] = {}
        values = {}
        for prefix, net in (("Gs", Gs), ("D", D)):
            for var_name, var in net.vars.items():
                shape = var.shape.as_list()
                if var_name.endswith("lod"):
                    value = np.zeros(shape, np.float32)
                elif "Const/const" in var_name:
                    value = rng.randn(*shape) * 0.5 + 1
                elif var_name.endswith(("bias", "Noise/weight")):
                    value = rng.randn(*shape) * 0.3
                else:
                    value = rng.randn(*shape)
                value = np.asarray(value, np.float16).astype(np.float32)
                values[var] = value
                key = var_name.replace("G_synthesis/", "synthesis/").replace(
                    "G_mapping/", "mapping/"
                )
                arrays[f"{prefix}/{key}"] = value
        tflib.set_vars(values)
        z = rng.randn(cfg["num"], cfg["G"]["latent_size"]).astype(np.float32)
        labels = np.zeros([cfg["num"], 0], np.float32)
        reals = discriminator_inputs(cfg["D"]["resolution"])
        arrays["z"] = z
        arrays["lods"] = np.asarray(cfg["lods"], np.float32)
        for i, lod in enumerate(cfg["lods"]):
            tflib.set_vars({Gs.vars["lod"]: np.float32(lod), D.vars["lod"]: np.float32(lod)})
            arrays[f"images_psi1_lod{i}"] = Gs.run(
                z, labels, truncation_psi=None, randomize_noise=False
            )
            if cfg["truncated"]:
                arrays[f"images_psi07_cut4_lod{i}"] = Gs.run(
                    z, labels, truncation_psi=0.7, truncation_cutoff=4, randomize_noise=False
                )
            arrays[f"logits_lod{i}"] = D.run(reals, np.zeros([4, 0], np.float32))
        np.savez_compressed(out / f"{name}.npz", **arrays)
        size = (out / f"{name}.npz").stat().st_size
        print(f"{name}: {len(arrays)} arrays, {size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
