"""Write pickles with the structure of NVIDIA's TensorFlow StyleGAN releases, without TensorFlow.

A release pickle is ``pickle.dump((G, D, Gs))`` of ``dnnlib.tflib.network.Network`` objects,
whose ``__getstate__`` writes ``version`` (4 for StyleGAN2, 3 for the original StyleGAN),
``name``, ``static_kwargs``, ``components`` (sub-networks, e.g. ``mapping`` and ``synthesis`` of
a generator), ``build_module_src``, ``build_func_name`` and ``variables`` (``[(local name, numpy
array)]`` of that network only). :class:`FakeTFNetwork` pickles the same way: the global
``dnnlib.tflib.network.Network`` plus that state. Its build source is a line that raises, so
nothing could be run from it.

:func:`make_variables` draws random variables with the names and shapes the TensorFlow graphs
create for a small configuration (``G_main`` / ``D_main`` of stylegan2-ada, or the stylegan2
repository's ``G_main`` / ``D_stylegan2`` / ``D_stylegan``, including the progressive-growing
``ToRGB_lod{k}`` / ``FromRGB_lod{k}`` names, or with ``flavor='sg1'`` the original StyleGAN's
``G_style`` / ``D_basic``: :func:`stylegan1_variables`, :func:`stylegan1_networks`). Values are
rounded to float16 precision, so a fixture can store them as float16 and give back exactly the
same float32 arrays.
"""

from __future__ import annotations

import contextlib
import copy
import pickle
import re
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np

PROTOCOL = 4
NEVER_RUN_SRC = "raise RuntimeError('never run')"
NET_KEYS = ("G", "D", "Gs")  # order in the pickle


class FakeTFNetwork:
    """Pickles exactly as ``dnnlib.tflib.network.Network`` does (global + state dict)."""

    def __init__(self, state: dict[str, Any]):
        self.state = state

    def __getstate__(self) -> dict[str, Any]:
        return self.state


FakeTFNetwork.__module__ = "dnnlib.tflib.network"
FakeTFNetwork.__name__ = FakeTFNetwork.__qualname__ = "Network"


def tf_network(
    name: str,
    build_func_name: str,
    static_kwargs: dict[str, Any],
    variables: list[tuple[str, np.ndarray]],
    components: dict[str, FakeTFNetwork] | None = None,
    version: int = 4,
) -> FakeTFNetwork:
    """One network with the fields of ``Network.__getstate__``."""
    return FakeTFNetwork(
        {
            "version": version,
            "name": name,
            "static_kwargs": dict(static_kwargs),
            "components": dict(components or {}),
            "build_module_src": NEVER_RUN_SRC,
            "build_func_name": build_func_name,
            "variables": list(variables),
        }
    )


@contextlib.contextmanager
def _fake_dnnlib_modules():
    """Let pickle find ``dnnlib.tflib.network.Network`` while dumping; restore afterwards."""
    names = ("dnnlib", "dnnlib.tflib", "dnnlib.tflib.network")
    saved = {n: sys.modules.get(n) for n in names}
    module = types.ModuleType("dnnlib.tflib.network")
    module.Network = FakeTFNetwork
    for n in names[:2]:
        sys.modules.setdefault(n, types.ModuleType(n))
    sys.modules["dnnlib.tflib.network"] = module
    try:
        yield
    finally:
        for n, old in saved.items():
            if old is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = old


def dumps(obj: Any) -> bytes:
    with _fake_dnnlib_modules():
        return pickle.dumps(obj, protocol=PROTOCOL)


def write_tf_pickle(path: str | Path, nets: tuple[FakeTFNetwork, ...]) -> Path:
    """``pickle.dump((G, D, Gs))`` as the TensorFlow releases did."""
    path = Path(path)
    path.write_bytes(dumps(tuple(nets)))
    return path


# ---- variables of the TensorFlow graphs ----------------------------------------------------------


def _nf(kw: dict[str, Any], stage: int) -> int:
    """Feature maps of a stage (``fmap_decay`` 1, ``fmap_min`` 1), as the TF graphs compute."""
    return int(np.clip(int(kw.get("fmap_base", 16384) / 2.0**stage), 1, kw.get("fmap_max", 512)))


class Draw:
    """Random values in float16 precision, returned as float32."""

    def __init__(self, rng: np.random.RandomState):
        self.rng = rng

    def __call__(self, shape, scale: float = 1.0, offset: float = 0.0) -> np.ndarray:
        x = self.rng.randn(*shape) * scale + offset
        return x.astype(np.float16).astype(np.float32)

    def strength(self) -> np.float32:
        sign = 1.0 if self.rng.rand() < 0.5 else -1.0
        return np.float32(np.float16(sign * (0.1 + 0.4 * self.rng.rand())))


def generator_variables(
    kw: dict[str, Any], draw: Draw, flavor: str = "ada", lod_torgb: bool = False
) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Own, ``mapping`` and ``synthesis`` variables of ``G_main`` for static kwargs ``kw``.

    ``flavor='sg2'`` adds the stylegan2 repository's ``lod`` variable; ``lod_torgb`` names the
    RGB layers ``ToRGB_lod{k}`` at every resolution, as the progressive (configs B-D) graph does.
    """
    latent, dlatent = kw.get("latent_size", 512), kw.get("dlatent_size", 512)
    labels, channels = kw.get("label_size", 0), kw.get("num_channels", 3)
    log2 = int(np.log2(kw.get("resolution", 1024)))
    lrmul = kw.get("mapping_lrmul", 0.01)
    arch = "orig" if lod_torgb else kw.get("architecture", "skip")
    use_noise = kw.get("use_noise", True)

    mapping: list[tuple[str, np.ndarray]] = []
    width = latent
    if labels:
        embed = kw.get("label_fmaps") or latent
        mapping += [
            ("LabelEmbed/weight", draw([labels, embed])),
            ("LabelEmbed/bias", draw([embed], 0.2)),
        ]
        width += embed
    layers = kw.get("mapping_layers", 8)
    for i in range(layers):
        out = dlatent if i == layers - 1 else (kw.get("mapping_fmaps") or dlatent)
        mapping += [
            (f"Dense{i}/weight", draw([width, out], 1 / lrmul)),
            (f"Dense{i}/bias", draw([out], 0.2 / lrmul)),
        ]
        width = out

    synthesis: list[tuple[str, np.ndarray]] = [("lod", np.float32(0))] if lod_torgb else []
    if use_noise:
        for i in range(2 * log2 - 3):
            r = 2 ** ((i + 5) // 2)
            synthesis.append((f"noise{i}", draw([1, 1, r, r])))

    def modconv(scope: str, cin: int, cout: int, k: int, noise: bool) -> None:
        synthesis.extend(
            [
                (f"{scope}/weight", draw([k, k, cin, cout])),
                (f"{scope}/mod_weight", draw([dlatent, cin])),
                (f"{scope}/mod_bias", draw([cin], 0.2)),
            ]
        )
        if noise and use_noise:
            synthesis.append((f"{scope}/noise_strength", draw.strength()))
        synthesis.append((f"{scope}/bias", draw([cout], 0.2)))

    def torgb(res: int, cin: int) -> None:
        scope = f"ToRGB_lod{log2 - res}" if lod_torgb else f"{2**res}x{2**res}/ToRGB"
        modconv(scope, cin, channels, 1, noise=False)

    synthesis.append(("4x4/Const/const", draw([1, _nf(kw, 1), 4, 4])))
    modconv("4x4/Conv", _nf(kw, 1), _nf(kw, 1), 3, noise=True)
    if arch == "skip" or lod_torgb:
        torgb(2, _nf(kw, 1))
    for res in range(3, log2 + 1):
        scope, cin, cout = f"{2**res}x{2**res}", _nf(kw, res - 2), _nf(kw, res - 1)
        modconv(f"{scope}/Conv0_up", cin, cout, 3, noise=True)
        modconv(f"{scope}/Conv1", cout, cout, 3, noise=True)
        if arch == "resnet":
            synthesis.append((f"{scope}/Skip/weight", draw([1, 1, cin, cout])))
        if arch == "skip" or lod_torgb or res == log2:
            torgb(res, cout)

    own = [("lod", np.float32(0))] if flavor == "sg2" else []
    own.append(("dlatent_avg", draw([dlatent], 0.5, 0.3)))
    return {"": own, "mapping": mapping, "synthesis": synthesis}


def discriminator_variables(
    kw: dict[str, Any], draw: Draw, lod_fromrgb: bool = False
) -> list[tuple[str, np.ndarray]]:
    """Variables of ``D_main`` / ``D_stylegan2`` (or ``D_stylegan`` with ``lod_fromrgb``)."""
    labels, channels = kw.get("label_size", 0), kw.get("num_channels", 3)
    log2 = int(np.log2(kw.get("resolution", 1024)))
    arch = "orig" if lod_fromrgb else kw.get("architecture", "resnet")
    cmap = kw.get("mapping_fmaps") or _nf(kw, 0)
    lrmul = kw.get("mapping_lrmul", 0.1)
    out: list[tuple[str, np.ndarray]] = [("lod", np.float32(0))] if lod_fromrgb else []

    def layer(scope: str, shape: list[int], scale: float = 1.0) -> None:
        out.extend(
            [
                (f"{scope}/weight", draw(shape, scale)),
                (f"{scope}/bias", draw(shape[-1:], 0.2 * scale)),
            ]
        )

    if labels:
        layer("LabelEmbed", [labels, cmap])
        for i in range(kw.get("mapping_layers", 0)):
            layer(f"Mapping{i}", [cmap, cmap], 1 / lrmul)

    def fromrgb(res: int) -> None:
        scope = f"FromRGB_lod{log2 - res}" if lod_fromrgb else f"{2**res}x{2**res}/FromRGB"
        layer(scope, [1, 1, channels, _nf(kw, res - 1)])

    for res in range(log2, 2, -1):
        scope, cin, cout = f"{2**res}x{2**res}", _nf(kw, res - 1), _nf(kw, res - 2)
        if arch == "skip" or lod_fromrgb or res == log2:
            fromrgb(res)
        layer(f"{scope}/Conv0", [3, 3, cin, cin])
        layer(f"{scope}/Conv1_down", [3, 3, cin, cout])
        if arch == "resnet":
            out.append((f"{scope}/Skip/weight", draw([1, 1, cin, cout])))
    if arch == "skip" or lod_fromrgb:
        fromrgb(2)
    mbstd = kw.get("mbstd_num_features", 1)
    layer("4x4/Conv", [3, 3, _nf(kw, 1) + mbstd, _nf(kw, 1)])
    layer("4x4/Dense0", [_nf(kw, 1) * 16, _nf(kw, 0)])
    layer("Output", [_nf(kw, 0), cmap if labels else 1])
    return out


def make_variables(spec: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    """All variables of ``(G, D, Gs)`` for a fixture spec, flat: ``G/mapping/Dense0/weight``.

    ``spec``: ``G_static``, ``D_static`` (TF static kwargs), ``flavor`` ('ada', 'sg2' or 'sg1'),
    ``D_func``, and optionally ``lod_torgb`` / ``lod_fromrgb``.
    """
    if spec.get("flavor") == "sg1":
        return stylegan1_variables(spec["G_static"], spec["D_static"], seed, with_g=True)
    draw = Draw(np.random.RandomState(seed))
    flat: dict[str, np.ndarray] = {}
    for key in NET_KEYS:
        if key == "D":
            parts = {
                "": discriminator_variables(spec["D_static"], draw, spec.get("lod_fromrgb", False))
            }
        else:
            parts = generator_variables(
                spec["G_static"], draw, spec.get("flavor", "ada"), spec.get("lod_torgb", False)
            )
        for component, variables in parts.items():
            for name, value in variables:
                flat["/".join(p for p in (key, component, name) if p)] = value
    return flat


def tf_networks(
    spec: dict[str, Any], flat: dict[str, np.ndarray]
) -> tuple[FakeTFNetwork, FakeTFNetwork, FakeTFNetwork]:
    """``(G, D, Gs)`` networks holding the variables of :func:`make_variables` (or a fixture)."""
    if spec.get("flavor") == "sg1":
        return stylegan1_networks(flat, spec["G_static"], spec["D_static"])
    sg2 = spec.get("flavor", "ada") == "sg2"
    nets = []
    for key in NET_KEYS:
        prefix = key + "/"
        variables = {
            k[len(prefix) :]: np.asarray(v, np.float32)
            for k, v in flat.items()
            if k.startswith(prefix)
        }
        for name, value in variables.items():
            if value.ndim == 0:
                variables[name] = np.float32(value)  # TensorFlow returns scalars as numpy scalars
        if key == "D":
            nets.append(tf_network(key, spec["D_func"], spec["D_static"], list(variables.items())))
            continue
        static = spec["G_static"]
        parts: dict[str, list] = {"": [], "mapping": [], "synthesis": []}
        for name, value in variables.items():
            head, _, rest = name.partition("/")
            if head in ("mapping", "synthesis"):
                parts[head].append((rest, value))
            else:
                parts[""].append((name, value))
        synthesis_func = "G_synthesis_stylegan2" if sg2 else "G_synthesis"
        components = {
            "synthesis": tf_network("G_synthesis", synthesis_func, static, parts["synthesis"]),
            "mapping": tf_network(
                "G_mapping",
                "G_mapping",
                {**static, "dlatent_broadcast": 2 * int(np.log2(static["resolution"])) - 2},
                parts["mapping"],
            ),
        }
        nets.append(tf_network(key, "G_main", static, parts[""], components))
    return tuple(nets)


def with_torgb_lod(
    spec: dict[str, Any], flat: dict[str, np.ndarray]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The generators renamed as progressive graphs name them: ``synthesis/{R}x{R}/ToRGB/x`` ->
    ``synthesis/ToRGB_lod{k}/x`` (``R = resolution / 2**k``), and no ``architecture`` kwarg."""
    spec = copy.deepcopy(spec)
    spec["G_static"].pop("architecture", None)
    log2 = int(np.log2(spec["G_static"]["resolution"]))

    def rename(m: re.Match) -> str:
        return f"{m.group(1)}/synthesis/ToRGB_lod{log2 - int(m.group(2)).bit_length() + 1}/"

    pattern = re.compile(r"^(Gs?)/synthesis/(\d+)x\d+/ToRGB/")
    return spec, {pattern.sub(rename, k): v for k, v in flat.items()}


# ---- the original StyleGAN (v1): G_style / D_basic of NVlabs/stylegan ---------------------------

SG1_VERSION = 3  # what NVlabs/stylegan's Network.__getstate__ writes
# Arguments G_style consumes itself; the rest of its static kwargs reach G_mapping / G_synthesis.
G_STYLE_OWN = (
    "truncation_psi",
    "truncation_cutoff",
    "truncation_psi_val",
    "truncation_cutoff_val",
    "dlatent_avg_beta",
    "style_mixing_prob",
    "is_training",
    "is_validation",
    "is_template_graph",
    "components",
)


def _sg1_nf(kw: dict[str, Any], stage: int) -> int:
    """``nf(stage)`` of networks_stylegan.py (``fmap_decay`` 1): ``fmap_base`` 8192 by default."""
    return min(int(kw.get("fmap_base", 8192) / 2.0**stage), kw.get("fmap_max", 512))


class Zeros(Draw):
    """Stand-in for :class:`Draw` that only gives shapes: read-only zero-stride zero arrays, so
    a 1024 px network's variables take no memory."""

    def __init__(self):
        super().__init__(np.random.RandomState(0))

    def __call__(self, shape, scale: float = 1.0, offset: float = 0.0) -> np.ndarray:
        return np.broadcast_to(np.float32(0), tuple(shape))


def stylegan1_generator_variables(kw: dict[str, Any], draw: Draw) -> dict[str, np.ndarray]:
    """Variables of ``G_style`` for static kwargs ``kw``, named and ordered as its template graph
    creates them: ``lod``, ``dlatent_avg``, ``synthesis/...``, ``mapping/...``.

    Synthesis layers: ``4x4/Const`` (learned constant + epilogue), ``4x4/Conv``,
    ``{R}x{R}/Conv0_up`` and ``{R}x{R}/Conv1``, each with ``Noise/weight`` (if ``use_noise``),
    ``bias`` and ``StyleMod/{weight,bias}``; ``ToRGB_lod{k}`` per resolution (only ``ToRGB_lod0``
    for ``structure='fixed'``); noise inputs ``noise{i}`` ``[1, 1, R, R]``.
    """
    latent, dlatent = kw.get("latent_size", 512), kw.get("dlatent_size", 512)
    labels, channels = kw.get("label_size", 0), kw.get("num_channels", 3)
    log2 = int(np.log2(kw.get("resolution", 1024)))
    num_layers = 2 * log2 - 2
    lrmul = kw.get("mapping_lrmul", 0.01)
    use_noise = kw.get("use_noise", True)
    fixed = kw.get("structure", "auto") == "fixed"
    out: dict[str, np.ndarray] = {
        "lod": np.float32(0),
        "dlatent_avg": draw([dlatent], 0.5, 0.3),
    }

    syn = "synthesis/"
    out[syn + "lod"] = np.float32(0)
    if use_noise:
        for i in range(num_layers):
            r = 2 ** (i // 2 + 2)
            out[f"{syn}noise{i}"] = draw([1, 1, r, r])

    def epilogue(scope: str, fmaps: int) -> None:
        if use_noise:
            out[f"{syn}{scope}/Noise/weight"] = draw([fmaps], 0.5)
        out[f"{syn}{scope}/bias"] = draw([fmaps], 0.3)
        out[f"{syn}{scope}/StyleMod/weight"] = draw([dlatent, 2 * fmaps])
        out[f"{syn}{scope}/StyleMod/bias"] = draw([2 * fmaps], 0.3)

    def torgb(res: int, fmaps: int) -> None:
        if fixed and res != log2:
            return
        out[f"{syn}ToRGB_lod{log2 - res}/weight"] = draw([1, 1, fmaps, channels])
        out[f"{syn}ToRGB_lod{log2 - res}/bias"] = draw([channels], 0.3)

    nf1 = _sg1_nf(kw, 1)
    out[syn + "4x4/Const/const"] = draw([1, nf1, 4, 4], 0.5, 1.0)
    epilogue("4x4/Const", nf1)
    out[syn + "4x4/Conv/weight"] = draw([3, 3, nf1, nf1])
    epilogue("4x4/Conv", nf1)
    torgb(2, nf1)
    for res in range(3, log2 + 1):
        scope, cin, cout = f"{2**res}x{2**res}", _sg1_nf(kw, res - 2), _sg1_nf(kw, res - 1)
        out[f"{syn}{scope}/Conv0_up/weight"] = draw([3, 3, cin, cout])
        epilogue(f"{scope}/Conv0_up", cout)
        out[f"{syn}{scope}/Conv1/weight"] = draw([3, 3, cout, cout])
        epilogue(f"{scope}/Conv1", cout)
        torgb(res, cout)

    width = latent
    if labels:
        out["mapping/LabelConcat/weight"] = draw([labels, latent])
        width += latent
    layers = kw.get("mapping_layers", 8)
    for i in range(layers):
        fmaps = dlatent if i == layers - 1 else kw.get("mapping_fmaps", 512)
        out[f"mapping/Dense{i}/weight"] = draw([width, fmaps], 1 / lrmul)
        out[f"mapping/Dense{i}/bias"] = draw([fmaps], 0.3 / lrmul)
        width = fmaps
    return out


def stylegan1_discriminator_variables(kw: dict[str, Any], draw: Draw) -> dict[str, np.ndarray]:
    """Variables of ``D_basic`` for static kwargs ``kw``, in its template graph's order:
    ``lod``, ``FromRGB_lod0``, ``{R}x{R}/Conv0``, ``{R}x{R}/Conv1_down``, ``FromRGB_lod1``, ...,
    ``4x4/Conv``, ``4x4/Dense0``, ``4x4/Dense1`` (only ``FromRGB_lod0`` when ``structure='fixed'``).
    """
    labels, channels = kw.get("label_size", 0), kw.get("num_channels", 1)
    log2 = int(np.log2(kw.get("resolution", 32)))
    fixed = kw.get("structure", "auto") == "fixed"
    group, features = kw.get("mbstd_group_size", 4), kw.get("mbstd_num_features", 1)
    out: dict[str, np.ndarray] = {"lod": np.float32(0)}

    def layer(scope: str, shape: list[int]) -> None:
        out[f"{scope}/weight"] = draw(shape)
        out[f"{scope}/bias"] = draw(shape[-1:], 0.3)

    def fromrgb(res: int) -> None:
        if not fixed or res == log2:
            layer(f"FromRGB_lod{log2 - res}", [1, 1, channels, _sg1_nf(kw, res - 1)])

    fromrgb(log2)
    for res in range(log2, 2, -1):
        scope, cin, cout = f"{2**res}x{2**res}", _sg1_nf(kw, res - 1), _sg1_nf(kw, res - 2)
        layer(f"{scope}/Conv0", [3, 3, cin, cin])
        layer(f"{scope}/Conv1_down", [3, 3, cin, cout])
        fromrgb(res - 1)
    nf1 = _sg1_nf(kw, 1)
    layer("4x4/Conv", [3, 3, nf1 + (features if group > 1 else 0), nf1])
    layer("4x4/Dense0", [nf1 * 16, _sg1_nf(kw, 0)])
    layer("4x4/Dense1", [_sg1_nf(kw, 0), max(labels, 1)])
    return out


def stylegan1_variables(
    g_static: dict[str, Any], d_static: dict[str, Any], seed: int | Draw, with_g: bool = False
) -> dict[str, np.ndarray]:
    """All variables of an original StyleGAN ``(G, D, Gs)``, flat: ``Gs/mapping/Dense0/weight``,
    ``Gs/synthesis/4x4/Const/const``, ``Gs/dlatent_avg``, ``D/4x4/Dense1/bias``; random
    (``seed``, float16 precision) or, with a :class:`Zeros` as ``seed``, shapes only. ``G/...``
    (own values) only ``with_g``; otherwise :func:`stylegan1_networks` gives ``G`` Gs's."""
    draw = seed if isinstance(seed, Draw) else Draw(np.random.RandomState(seed))
    keys = ("G", "D", "Gs") if with_g else ("D", "Gs")
    flat: dict[str, np.ndarray] = {}
    for key in keys:
        if key == "D":
            variables = stylegan1_discriminator_variables(d_static, draw)
        else:
            variables = stylegan1_generator_variables(g_static, draw)
        flat.update({f"{key}/{name}": value for name, value in variables.items()})
    return flat


def stylegan1_networks(
    flat: dict[str, np.ndarray],
    g_static: dict[str, Any],
    d_static: dict[str, Any],
    version: int = SG1_VERSION,
) -> tuple[FakeTFNetwork, FakeTFNetwork, FakeTFNetwork]:
    """``(G, D, Gs)`` as an original StyleGAN (v1) release pickles them: ``G_style`` with its
    ``G_mapping`` / ``G_synthesis`` components and ``D_basic``, from flat variables named
    ``Gs/mapping/...``, ``Gs/synthesis/...``, ``Gs/<own>`` and ``D/...`` (``G`` gets its own
    ``G/...`` if there are any, else Gs's values). Static kwargs as ``G_style`` hands them on:
    the components get those it does not consume, the mapping also ``dlatent_broadcast``."""

    def variables(prefix: str) -> list[tuple[str, np.ndarray]]:
        out = []
        for name, value in flat.items():
            if name.startswith(prefix):
                value = np.asarray(value, np.float32)
                out.append((name[len(prefix) :], np.float32(value) if value.ndim == 0 else value))
        return out

    sub_static = {k: v for k, v in g_static.items() if k not in G_STYLE_OWN}
    num_layers = 2 * int(np.log2(g_static.get("resolution", 1024))) - 2

    def generator(name: str) -> FakeTFNetwork:
        prefix = name if any(k.startswith(name + "/") for k in flat) else "Gs"
        components = {
            "synthesis": tf_network(
                "G_synthesis",
                "G_synthesis",
                sub_static,
                variables(f"{prefix}/synthesis/"),
                version=version,
            ),
            "mapping": tf_network(
                "G_mapping",
                "G_mapping",
                {**sub_static, "dlatent_broadcast": num_layers},
                variables(f"{prefix}/mapping/"),
                version=version,
            ),
        }
        own = [(n, v) for n, v in variables(f"{prefix}/") if "/" not in n]
        return tf_network(name, "G_style", g_static, own, components, version=version)

    d = tf_network("D", "D_basic", d_static, variables("D/"), version=version)
    return generator("G"), d, generator("Gs")
