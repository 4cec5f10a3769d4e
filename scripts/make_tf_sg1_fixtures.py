"""Reference outputs of NVIDIA's original StyleGAN (TensorFlow) for tests/io/test_tensorflow_sg1.py.

    python3 -m venv /work/tfenv && /work/tfenv/bin/pip install tensorflow-cpu==2.16.1 numpy
    /work/tfenv/bin/python scripts/make_tf_sg1_fixtures.py --official /work/ref/sg1

Builds ``G_style`` and ``D_basic`` of ``training/networks_stylegan.py`` with the official code
(NVlabs/stylegan, read from ``--official``), run in graph mode under ``tf.compat.v1`` (TF 1.x
does not install on current Pythons; the only shim is ``tensorflow.compat.v1`` standing in for
the module ``tensorflow``). For each configuration it

* checks that the variables the official graphs create (names, order, shapes) are exactly those
  ``tests/io/tf_pickle_writer.py`` writes (``stylegan1_variables``);
* sets every variable to the writer's random values (float16-representable, so the .npz holds
  them exactly; noise strengths, biases and styles non-zero);
* records ``Gs`` images with constant noise (``randomize_noise=False``) at several levels of
  detail (the ``lod`` variable of ``Gs``), without truncation, with the network's default
  truncation and with an explicit psi / cutoff, the mapping output, and ``D`` logits at the same
  lods;
* checks on the way that ``is_validation=True`` (how the original's metrics run ``Gs``) gives
  the untruncated images, and (``sg1_32``) that the 'linear' graph structure gives the
  'recursive' one's outputs.

``--ffhq`` also builds the FFHQ 1024 configuration (graph only, no run) and checks the writer's
shapes and the published generator parameter count (26,219,627) against it.

Only numbers are written; no official code or pickle is stored.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "io"))
import tf_pickle_writer as writer  # noqa: E402  (tests/io: our TF-format pickle writer)

FFHQ_G_PARAMS = 26_219_627  # "Total" of Gs.print_layers() in NVlabs/stylegan's README

# name -> static kwargs of G (G_style) and D (D_basic), lods to run, number of z, D's batch,
# and which truncations to record: (lod index, psi, cutoff); psi "default" = G's own.
CONFIGS = {
    # 32 px, RGB: unfused up/down convolutions, every lod from grown to 4x4 only, D groups of 4.
    "sg1_32": dict(
        G=dict(resolution=32, num_channels=3, label_size=0, fmap_base=64, fmap_max=16,
               latent_size=20, dlatent_size=24, mapping_layers=3, mapping_fmaps=12),
        D=dict(resolution=32, num_channels=3, label_size=0, fmap_base=64, fmap_max=16),
        lods=[0.0, 0.5, 1.0, 1.7, 3.0], num=2, d_batch=8, seed=1,
        trunc=[(0, "default", None), (3, "default", None), (1, 0.5, 3)],
        check_linear=True,
    ),
    # 128 px (one channel, to keep the file small): the original switches to fused transposed /
    # strided convolutions from 128 px up.
    "sg1_128": dict(
        G=dict(resolution=128, num_channels=1, label_size=0, fmap_base=128, fmap_max=16,
               latent_size=16, dlatent_size=16, mapping_layers=2, mapping_fmaps=16),
        D=dict(resolution=128, num_channels=1, label_size=0, fmap_base=128, fmap_max=16,
               mbstd_group_size=2),
        lods=[0.0, 0.5, 1.0, 1.7], num=1, d_batch=4, seed=2,
        trunc=[(3, "default", None)],
    ),
    # Non-default options: fused convolutions at every resolution, no noise, no blur in G and a
    # 5-tap blur in D, mapping lr 0.1, truncation settings in the static kwargs, 3 classes in D
    # (LabelSwitch), minibatch-std groups of 2 with 2 features.
    "sg1_16_options": dict(
        G=dict(resolution=16, num_channels=3, label_size=0, fmap_base=64, fmap_max=16,
               latent_size=12, dlatent_size=16, mapping_layers=2, mapping_fmaps=8,
               mapping_lrmul=0.1, fused_scale=True, use_noise=False, blur_filter=None,
               truncation_psi=0.5, truncation_cutoff=3, dlatent_avg_beta=None,
               style_mixing_prob=None),
        D=dict(resolution=16, num_channels=3, label_size=3, fmap_base=64, fmap_max=16,
               fused_scale=True, blur_filter=[1, 4, 6, 4, 1], mbstd_group_size=2,
               mbstd_num_features=2),
        lods=[0.0, 1.5], num=2, d_batch=4, seed=3,
        trunc=[(0, "default", None), (1, "default", None)],
    ),
    # structure='fixed': no RGB layers below the top, lod ignored; D without minibatch std.
    "sg1_8_fixed": dict(
        G=dict(resolution=8, num_channels=3, label_size=0, fmap_base=32, fmap_max=16,
               latent_size=8, dlatent_size=8, mapping_layers=1, mapping_fmaps=8,
               structure="fixed"),
        D=dict(resolution=8, num_channels=3, label_size=0, fmap_base=32, fmap_max=16,
               structure="fixed", mbstd_group_size=0),
        lods=[0.0], num=2, d_batch=3, seed=4,
        trunc=[(0, "default", None)],
    ),
}  # fmt: skip


def discriminator_inputs(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """D's images and labels, drawn again by the test instead of stored (same function there)."""
    d = cfg["D"]
    reals = np.random.RandomState(7).randn(
        cfg["d_batch"], d["num_channels"], *[d["resolution"]] * 2
    )
    labels = np.zeros([cfg["d_batch"], d["label_size"]], np.float32)
    if d["label_size"]:
        labels[
            np.arange(cfg["d_batch"]),
            np.random.RandomState(8).randint(d["label_size"], size=cfg["d_batch"]),
        ] = 1
    return reals.astype(np.float32), labels


def local_names(net) -> list[tuple[str, list[int]]]:
    """The official network's variables as our flat names (component prefix = component key)."""
    rename = {"G_synthesis/": "synthesis/", "G_mapping/": "mapping/"}
    out = []
    for name, var in net.vars.items():
        for old, new in rename.items():
            if name.startswith(old):
                name = new + name[len(old) :]
        out.append((name, var.shape.as_list()))
    return out


def check_layout(net, key: str, expected: dict[str, np.ndarray]) -> None:
    ours = [
        (n[len(key) + 1 :], list(np.shape(v)))
        for n, v in expected.items()
        if n.startswith(key + "/")
    ]
    theirs = local_names(net)
    if ours != theirs:
        raise SystemExit(
            f"{key}: the writer's variables differ from the official graph's:\n"
            f"ours   {ours}\nofficial {theirs}"
        )


def make(name: str, cfg: dict, tf, tflib, out: Path) -> None:
    Gs = tflib.Network("Gs", func_name="training.networks_stylegan.G_style", **cfg["G"])
    D = tflib.Network("D", func_name="training.networks_stylegan.D_basic", **cfg["D"])
    flat = writer.stylegan1_variables(cfg["G"], cfg["D"], cfg["seed"])
    check_layout(Gs, "Gs", flat)
    check_layout(D, "D", flat)
    values = {}
    for key, net in (("Gs", Gs), ("D", D)):
        for local, var in zip(local_names(net), net.vars.values()):
            values[var] = flat[f"{key}/{local[0]}"]
    tflib.set_vars(values)

    G_cfg, lods = cfg["G"], cfg["lods"]
    z = np.random.RandomState(cfg["seed"] + 100).randn(cfg["num"], G_cfg["latent_size"])
    z = z.astype(np.float32)
    no_labels = np.zeros([cfg["num"], 0], np.float32)
    reals, d_labels = discriminator_inputs(cfg)
    arrays: dict[str, np.ndarray] = {
        k: np.asarray(v, np.float16)
        for k, v in flat.items()  # exact: float16-representable
    }
    arrays["z"] = z
    arrays["ws"] = Gs.components.mapping.run(z, no_labels)
    outputs = []
    linear = None
    if cfg.get("check_linear"):
        linear = (
            Gs.clone("Gs_linear", structure="linear"),
            D.clone("D_linear", structure="linear"),
        )
    for i, lod in enumerate(lods):
        tflib.set_vars({Gs.vars["lod"]: np.float32(lod), D.vars["lod"]: np.float32(lod)})
        key = f"images_lod{i}"
        arrays[key] = Gs.run(z, no_labels, truncation_psi=None, randomize_noise=False)
        outputs.append(dict(key=key, lod=lod, psi=1.0, cutoff=None))
        validation = Gs.run(z, no_labels, is_validation=True, randomize_noise=False)
        assert np.array_equal(validation, arrays[key]), "is_validation should not truncate"
        for index, psi, cutoff in cfg["trunc"]:
            if index != i:
                continue
            kwargs = {} if psi == "default" else dict(truncation_psi=psi, truncation_cutoff=cutoff)
            key = f"images_lod{i}_psi_{psi}" + (f"_cutoff{cutoff}" if cutoff else "")
            arrays[key] = Gs.run(z, no_labels, randomize_noise=False, **kwargs)
            outputs.append(dict(key=key, lod=lod, psi=psi, cutoff=cutoff))
        key = f"logits_lod{i}"
        arrays[key] = D.run(reals, d_labels)
        outputs.append(dict(key=key, lod=lod))
        if linear is not None:
            G_lin, D_lin = linear
            G_lin.copy_vars_from(Gs)
            D_lin.copy_vars_from(D)
            img = G_lin.run(z, no_labels, truncation_psi=None, randomize_noise=False)
            logits = D_lin.run(reals, d_labels)
            diff = max(np.abs(img - arrays[f"images_lod{i}"]).max(),
                       np.abs(logits - arrays[f"logits_lod{i}"]).max())  # fmt: skip
            print(f"  {name} lod {lod}: 'linear' vs 'recursive' structure max abs diff {diff:.2g}")
            assert diff < 1e-4
    arrays["spec"] = np.asarray(json.dumps(dict(
        G_static=cfg["G"], D_static=cfg["D"], lods=lods, d_batch=cfg["d_batch"],
        seed=cfg["seed"], outputs=outputs,
    )))  # fmt: skip
    path = out / f"{name}.npz"
    np.savez_compressed(path, **arrays)
    print(f"{name}: {len(arrays)} arrays, {path.stat().st_size / 1e3:.0f} kB")


def check_ffhq(tflib) -> None:
    """FFHQ 1024 (train.py passes num_channels, resolution, label_size from the dataset)."""
    static = dict(num_channels=3, resolution=1024, label_size=0)
    Gs = tflib.Network("Gs", func_name="training.networks_stylegan.G_style", **static)
    D = tflib.Network("D", func_name="training.networks_stylegan.D_basic", **static)
    flat = writer.stylegan1_variables(static, static, writer.Zeros())
    check_layout(Gs, "Gs", flat)
    check_layout(D, "D", flat)
    trainable = sum(int(np.prod(v.shape.as_list())) for v in Gs.trainables.values())
    print(f"FFHQ 1024: layouts equal the writer's; Gs trainable parameters {trainable:,}")
    assert trainable == FFHQ_G_PARAMS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", required=True, help="NVlabs/stylegan checkout")
    parser.add_argument("--out", default=str(ROOT / "tests/fixtures/tensorflow_sg1"))
    parser.add_argument("--only", nargs="*", help="configurations to make (default: all)")
    parser.add_argument("--ffhq", action="store_true", help="also check the FFHQ 1024 layout")
    args = parser.parse_args()

    import tensorflow as tf2

    tf = tf2.compat.v1
    tf.disable_v2_behavior()
    sys.modules["tensorflow"] = tf  # the official code imports TF 1.x names
    sys.path.insert(0, args.official)
    import dnnlib.tflib as tflib

    # Network.run places its graph on "/gpu:0"; soft placement runs it on the CPU.
    tflib.init_tf({"rnd.np_random_seed": 1, "rnd.tf_random_seed": 1, "allow_soft_placement": True})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, cfg in CONFIGS.items():
        if not args.only or name in args.only:
            make(name, cfg, tf, tflib, out)
    if args.ffhq:
        check_ffhq(tflib)


if __name__ == "__main__":
    main()
