"""Time ``stylegan.ops.filtered_lrelu`` against NVIDIA's reference ``_filtered_lrelu_ref``.

The layer shapes are those of the official StyleGAN3 synthesis networks: for each configuration
(T or R, 64 or 256 px) the official ``training/networks_stylegan3.SynthesisNetwork`` is built and
every ``SynthesisLayer``'s call to ``filtered_lrelu`` is re-created from its attributes (input
``[batch, out_channels, in_size + conv_kernel - 1, ...]``, its up/down filters, factors, padding,
gain, slope and clamp). Inputs are random (x ~ N(0, 1), bias ~ N(0, 0.1)). Both ops run under
``torch.no_grad()`` on the CPU, calls alternate (ours, official, ours, ...) after a warm-up call
each, and the table gives medians per layer and their sum. Each layer also checks that both give
the same numbers (max abs diff), and that our literal ``filtered_lrelu_reference`` agrees with the
official op on a slice of the channels.

    python benchmarks/filtered_lrelu.py --official /path/to/stylegan3 [--configs T64 R64]
    python benchmarks/filtered_lrelu.py --official /path/to/stylegan3 --device cuda --batch 8

``--device cuda`` runs both on the GPU (timings synchronised); NVIDIA's reference there is the
same composed PyTorch path as on the CPU, not their compiled plugin.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from stylegan.ops.filtered_lrelu import filtered_lrelu, filtered_lrelu_reference  # noqa: E402

CONFIGS = {
    # Official train.py: stylegan3-t keeps cbase/cmax; stylegan3-r doubles both, uses 1x1 convs
    # and radially symmetric (2-D, non-separable) down filters.
    "T": dict(channel_base=32768, channel_max=512),
    "R": dict(channel_base=65536, channel_max=1024, conv_kernel=1, use_radial_filters=True),
}


def import_official(official: str) -> tuple[object, object]:
    root = Path(official).expanduser().resolve()
    if not (root / "training" / "networks_stylegan3.py").is_file():
        sys.exit(
            f"error: {root} is not a checkout of NVlabs/stylegan3 "
            "(no training/networks_stylegan3.py); pass --official /path/to/stylegan3"
        )
    from make_official_fixtures import _install_import_shims

    _install_import_shims()
    sys.path.insert(0, str(root))
    nets = importlib.import_module("training.networks_stylegan3")
    ops = importlib.import_module("torch_utils.ops.filtered_lrelu")
    return nets, ops


def layer_calls(nets: object, arch: str, res: int) -> list[tuple[str, list[int], dict]]:
    """``(name, x_shape_without_batch, kwargs)`` for each layer, as ``SynthesisLayer`` calls it."""
    net = nets.SynthesisNetwork(w_dim=512, img_resolution=res, img_channels=3, **CONFIGS[arch])
    calls = []
    for name in net.layer_names:
        layer = getattr(net, name)
        size = [int(s) + layer.conv_kernel - 1 for s in layer.in_size]
        kwargs = dict(
            fu=layer.up_filter,
            fd=layer.down_filter,
            up=layer.up_factor,
            down=layer.down_factor,
            padding=layer.padding,
            gain=1 if layer.is_torgb else np.sqrt(2),
            slope=1 if layer.is_torgb else 0.2,
            clamp=layer.conv_clamp,
        )
        calls.append((name, [layer.out_channels, size[1], size[0]], kwargs))
    return calls


def describe(kwargs: dict) -> str:
    def f(t: torch.Tensor | None) -> str:
        return "-" if t is None else "x".join(str(s) for s in t.shape)

    return f"up{kwargs['up']} dn{kwargs['down']} fu {f(kwargs['fu'])} fd {f(kwargs['fd'])}"


def _now(device: torch.device) -> float:
    """Wall time after the device's queued work is done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


@torch.no_grad()
def bench_layer(official_op, x, b, kwargs, repeats: int, warmup: int) -> dict:
    ours_t, off_t = [], []
    kwargs = {k: v.to(x.device) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
    for i in range(warmup + repeats):
        t0 = _now(x.device)
        ours = filtered_lrelu(x, b=b, **kwargs)
        t1 = _now(x.device)
        official = official_op(x, b=b, **kwargs)
        t2 = _now(x.device)
        if i >= warmup:
            ours_t.append(t1 - t0)
            off_t.append(t2 - t1)
    diff = (ours - official).abs().max().item()
    scale = official.abs().max().item()
    # Our literal reference on a few channels (it is slow): same numbers as the official op?
    c = min(4, x.shape[1])
    ref = filtered_lrelu_reference(x[:, :c].double(), b=b[:c].double(), **kwargs)
    ref_diff = (ref - official[:, :c].double()).abs().max().item()
    return dict(
        ours_s=statistics.median(ours_t),
        official_s=statistics.median(off_t),
        max_abs_diff=diff,
        max_abs_official=scale,
        reference_max_abs_diff=ref_diff,
    )


def write_fixture(nets: object, official_op, path: Path) -> None:
    """Store a few small official outputs (numbers only) for ``tests/ops/test_filtered_lrelu.py``.

    Filters come from the official ``SynthesisLayer.design_lowpass_filter`` (Kaiser-windowed
    separable, and the radially symmetric 2-D one of StyleGAN3-R); shapes are tiny versions
    of the network's calls. float32, CPU; the keys are ``<case>.<argument>`` and ``<case>.out``.
    """
    design = nets.SynthesisLayer.design_lowpass_filter
    gen = torch.Generator().manual_seed(2021)
    cases = {
        "t_up2": dict(up=2, down=2, padding=[9, 8, 9, 8], size=[12, 12], radial=False),
        "t_up4_crop": dict(up=4, down=2, padding=[-6, -9, -6, -9], size=[14, 15], radial=False),
        "r_radial": dict(up=2, down=2, padding=[11, 10, 11, 10], size=[10, 10], radial=True),
        "flip_asym": dict(up=2, down=1, padding=[3, 12, 7, 1], size=[9, 11], radial=True),
        "torgb": dict(up=1, down=1, padding=[0, 0, 0, 0], size=[8, 8], radial=None),
    }
    arrays = {}
    for name, case in cases.items():
        up, down, radial = case["up"], case["down"], case["radial"]
        fs = 16 * max(up, down)
        fu = fd = None
        if radial is not None:
            fu = design(numtaps=6 * up, cutoff=5.0, width=4.0, fs=fs)
            fd = design(numtaps=6 * max(down, 2), cutoff=6.0, width=5.0, fs=fs, radial=radial)
        x = 2.0 * torch.randn([2, 3, *case["size"]], generator=gen)
        b = 0.3 * torch.randn([3], generator=gen)
        kwargs = dict(
            up=up,
            down=down,
            padding=case["padding"],
            gain=1.0 if radial is None else float(np.sqrt(2)),
            slope=1.0 if radial is None else 0.2,
            clamp=2.5,
            flip_filter=name == "flip_asym",
        )
        out = official_op(x, fu=fu, fd=fd, b=b, **kwargs)
        empty = np.zeros([0], np.float32)
        arrays.update(
            {
                f"{name}.x": x.numpy(),
                f"{name}.fu": empty if fu is None else fu.numpy(),
                f"{name}.fd": empty if fd is None else fd.numpy(),
                f"{name}.b": b.numpy(),
                f"{name}.out": out.numpy(),
                **{f"{name}.{k}": np.asarray(v) for k, v in kwargs.items()},
            }
        )
    np.savez_compressed(path, **arrays)
    print(f"wrote {path} ({path.stat().st_size} bytes, {len(cases)} cases)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--official", required=True, help="path to an NVlabs/stylegan3 checkout")
    parser.add_argument("--configs", nargs="+", default=["T64", "R64", "T256", "R256"])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--layers", nargs="*", default=None, help="only these layer indices")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--write-fixture", type=Path, default=None, help="only write the test fixture (.npz)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    nets, ops = import_official(args.official)
    official_op = ops._filtered_lrelu_ref
    if args.write_fixture:
        write_fixture(nets, official_op, args.write_fixture)
        return
    gen = torch.Generator().manual_seed(0)
    env = dict(
        torch=torch.__version__,
        numpy=np.__version__,
        python=platform.python_version(),
        threads=torch.get_num_threads(),
        batch=args.batch,
        repeats=args.repeats,
        device=args.device,
        load_average_start=round(os.getloadavg()[0], 2),
    )
    print(json.dumps(env))
    results = {}
    for config in args.configs:
        arch, res = config[0].upper(), int(config[1:])
        rows = []
        print(f"\n## StyleGAN3-{arch} {res} px, batch {args.batch}")
        print(
            f"{'layer':<12} {'x shape':<16} {'op':<24} {'ours ms':>9} {'official ms':>12} "
            f"{'speed-up':>9} {'max|diff|':>9} {'ref|diff|':>9}"
        )
        for i, (name, shape, kwargs) in enumerate(layer_calls(nets, arch, res)):
            if args.layers and str(i) not in args.layers:
                continue
            x = torch.randn([args.batch, *shape], generator=gen).to(args.device)
            b = (0.1 * torch.randn([shape[0]], generator=gen)).to(args.device)
            r = bench_layer(official_op, x, b, kwargs, args.repeats, args.warmup)
            r.update(layer=name, shape=shape, op=describe(kwargs))
            rows.append(r)
            print(
                f"{name:<12} {'x'.join(map(str, shape)):<16} {r['op']:<24} "
                f"{r['ours_s'] * 1e3:9.1f} {r['official_s'] * 1e3:12.1f} "
                f"{r['official_s'] / r['ours_s']:8.1f}x {r['max_abs_diff']:9.1e} "
                f"{r['reference_max_abs_diff']:9.1e}",
                flush=True,
            )
        ours = sum(r["ours_s"] for r in rows)
        off = sum(r["official_s"] for r in rows)
        worst = max(r["max_abs_diff"] for r in rows)
        print(
            f"{'total':<12} {'':<16} {'':<24} {ours * 1e3:9.1f} {off * 1e3:12.1f} "
            f"{off / ours:8.1f}x {worst:9.1e}"
        )
        load = round(os.getloadavg()[0], 2)
        print(f"(load average now {load})")
        results[config] = dict(
            layers=rows, ours_s=ours, official_s=off, speedup=off / ours, load_average_end=load
        )
    if args.out:
        args.out.write_text(json.dumps(dict(env=env, results=results), indent=1))


if __name__ == "__main__":
    main()
