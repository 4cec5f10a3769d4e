"""One file format for latent directions, whichever method found them.

A :class:`DirectionSet` is K directions in one space of one network:

- ``space="w"``: vectors of ``w_dim`` added to the ws of ``layers`` (the indices into
  ``[N, num_ws, w_dim]``; SeFa, GANSpace, InterFaceGAN in W);
- ``space="z"``: vectors of ``z_dim`` added to z before the mapping (InterFaceGAN's z
  boundaries);
- ``space="s"``: vectors over all style channels (the affine outputs of every synthesis
  layer, in :func:`stylegan.tools.styles.style_layers` order; StyleSpace).

An edit of strength ``a`` along direction k moves by ``a * unit[k] * vectors[k]``: ``unit`` is
what one step of strength means (GANSpace: the standard deviation of w along the component;
StyleSpace: the channel's standard deviation; SeFa and InterFaceGAN: 1, a distance).

Saved as ``.npz`` with keys ``directions [K, D]``, ``unit [K]``, ``layers``, ``method``,
``space``, ``names``, ``dim`` and ``num_ws``, plus optional ``mean``, ``eigenvalues`` and
``info`` (a JSON object of how the set was made: sample count, validation accuracy, ...). Files are
read with ``allow_pickle=False``: a direction file from the internet cannot run code. The
published formats load too: InterFaceGAN's ``boundary.npy`` (``[1, D]``) and GANSpace's cached
``.npz`` (``lat_comp``, ``lat_mean``, ``lat_stdev``).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stylegan.errors import StyleGANError
from stylegan.io.atomic import write_atomically

SPACES = ("w", "z", "s")
FORMAT_VERSION = 1


@dataclass
class DirectionSet:
    """K directions of one space, with the layers they move and the size of one unit."""

    vectors: np.ndarray  # [K, D] float32
    method: str
    space: str = "w"
    layers: tuple[int, ...] | None = None  # ws indices moved (space "w"); None: all of them
    names: list[str] = field(default_factory=list)
    unit: np.ndarray | None = None  # [K]; None: ones
    num_ws: int | None = None  # of the network the set was made for (None: any)
    mean: np.ndarray | None = None  # [D], e.g. GANSpace's mean w
    eigenvalues: np.ndarray | None = None  # [K], SeFa / PCA
    info: dict = field(default_factory=dict)  # how it was made (JSON-able): samples, accuracy, ...

    def __post_init__(self) -> None:
        vectors = np.asarray(self.vectors, dtype=np.float32)
        if vectors.ndim == 1:
            vectors = vectors[None]
        if vectors.ndim != 2 or vectors.shape[0] == 0 or not np.isfinite(vectors).all():
            raise StyleGANError(
                f"directions must be a finite [K, D] array with K >= 1, got shape "
                f"{list(np.shape(self.vectors))}"
            )
        self.vectors = vectors
        if self.space not in SPACES:
            raise StyleGANError(f"unknown direction space {self.space!r}: use one of {SPACES}")
        k = len(vectors)
        self.unit = (
            np.ones(k, np.float32) if self.unit is None else np.asarray(self.unit, np.float32)
        )
        if self.unit.shape != (k,):
            raise StyleGANError(
                f"unit must hold one value per direction ({k}), got {self.unit.shape}"
            )
        self.names = list(self.names) or [f"{self.method}_{i}" for i in range(k)]
        if len(self.names) != k:
            raise StyleGANError(
                f"names must hold one name per direction ({k}), got {len(self.names)}"
            )
        if self.layers is not None:
            self.layers = tuple(int(i) for i in self.layers)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.vectors)

    def index(self, key: int | str) -> int:
        """The index of direction ``key``: a number, or one of ``names``."""
        if isinstance(key, str) and not key.lstrip("-").isdigit():
            if key not in self.names:
                raise StyleGANError(
                    f"no direction named {key!r} in this file; it has: {', '.join(self.names[:20])}"
                )
            return self.names.index(key)
        k = int(key)
        if not 0 <= k < len(self):
            raise StyleGANError(
                f"direction {k} out of range: the file holds {len(self)} (0-{len(self) - 1})"
            )
        return k

    def scaled(self, key: int | str) -> np.ndarray:
        """Direction ``key`` times its unit: what strength 1 adds."""
        k = self.index(key)
        return self.vectors[k] * self.unit[k]

    def check_network(self, G) -> None:
        """Raise a one-line error if this set was made for a network of another shape."""
        if self.space == "s":
            from stylegan.tools.styles import style_layers

            expected, what = sum(layer.channels for layer in style_layers(G)), "style channels"
        elif self.space == "z":
            expected, what = int(G.z_dim), "z_dim"
        else:
            expected, what = int(G.w_dim), "w_dim"
        if self.dim != expected:
            raise StyleGANError(
                f"this direction file is for {what} {self.dim}, but the network has {expected}: "
                f"use directions made for this network"
            )
        num_ws = int(G.num_ws)
        if self.num_ws is not None and self.space != "z" and self.num_ws != num_ws:
            raise StyleGANError(
                f"this direction file is for a network with num_ws {self.num_ws}, but this one has "
                f"{num_ws}: use directions made for this network"
            )
        if self.layers is not None and any(not 0 <= i < num_ws for i in self.layers):
            raise StyleGANError(
                f"direction layers {list(self.layers)} are outside 0-{num_ws - 1} of this network"
            )

    def save(self, path: str | Path) -> Path:
        """Write the set as ``.npz`` (atomically: an interrupted save leaves no partial file)."""
        arrays = {
            "format_version": np.int64(FORMAT_VERSION),
            "directions": self.vectors,
            "unit": self.unit,
            "layers": np.asarray(self.layers if self.layers is not None else [], np.int64),
            "all_layers": np.bool_(self.layers is None),
            "method": np.str_(self.method),
            "space": np.str_(self.space),
            "names": np.asarray(self.names, dtype=np.str_),
            "dim": np.int64(self.dim),
            "num_ws": np.int64(self.num_ws if self.num_ws is not None else -1),
        }
        if self.mean is not None:
            arrays["mean"] = np.asarray(self.mean, np.float32)
        if self.eigenvalues is not None:
            arrays["eigenvalues"] = np.asarray(self.eigenvalues, np.float32)
        if self.info:
            arrays["info"] = np.str_(json.dumps(self.info))
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        data = buffer.getvalue()
        return write_atomically(
            Path(path), lambda tmp: tmp.write_bytes(data), len(data), overwrite=True
        )


def load_directions(path: str | Path) -> DirectionSet:
    """Read ours (``.npz``), InterFaceGAN's ``boundary.npy`` or GANSpace's components ``.npz``."""
    path = Path(path)
    if not path.is_file():
        raise StyleGANError(f"direction file {path} does not exist: give a .npz or .npy file")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as error:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise StyleGANError(
            f"cannot read direction file {path} ({type(error).__name__}): give an .npz written by "
            f"`stylegan directions`, an InterFaceGAN boundary .npy or a GANSpace .npz"
        ) from None
    if isinstance(data, np.ndarray):  # InterFaceGAN: one boundary, [1, D]
        return DirectionSet(
            _finite(data.reshape(1, -1), path), method="interfacegan", names=[path.stem]
        )
    with data:
        keys = set(data.files)
        if {"directions", "method"} <= keys:
            return _load_ours(data, path)
        if "lat_comp" in keys:
            comp = data["lat_comp"]
            vectors = comp.reshape(len(comp), -1)
            stdev = data["lat_stdev"].reshape(-1) if "lat_stdev" in keys else None
            mean = data["lat_mean"].reshape(-1) if "lat_mean" in keys else None
            return DirectionSet(
                _finite(vectors, path), method="ganspace", unit=stdev, mean=mean,
                names=[f"pc{i}" for i in range(len(vectors))],
            )  # fmt: skip
    raise StyleGANError(
        f"{path} is not a direction file (keys: {', '.join(sorted(keys))}): expected `directions` "
        f"(ours) or `lat_comp` (GANSpace)"
    )


def _load_ours(data, path: Path) -> DirectionSet:
    def get(key: str, default=None):
        return data[key] if key in data.files else default

    all_layers = bool(get("all_layers", True))
    num_ws = int(get("num_ws", -1))
    return DirectionSet(
        _finite(data["directions"], path),
        method=str(data["method"]),
        space=str(get("space", "w")),
        layers=None if all_layers else tuple(int(i) for i in data["layers"]),
        names=[str(n) for n in get("names", [])],
        unit=get("unit"),
        num_ws=num_ws if num_ws >= 0 else None,
        mean=get("mean"),
        eigenvalues=get("eigenvalues"),
        info=_info(get("info"), path),
    )


def _info(text, path: Path) -> dict:
    if text is None:
        return {}
    try:
        info = json.loads(str(text))
    except ValueError:
        info = None
    if not isinstance(info, dict):
        raise StyleGANError(f"direction file {path} has an unreadable `info` entry: remake it")
    return info


def _finite(array: np.ndarray, path: Path) -> np.ndarray:
    if not np.issubdtype(array.dtype, np.number) or not np.isfinite(array).all():
        raise StyleGANError(f"direction file {path} holds non-numeric or non-finite values")
    return array


# SeFa's layer presets (0-1 / 2-5 / 6-13 of 18 ws) as [start, end) in eighteenths of num_ws.
LAYER_PRESET_EIGHTEENTHS = {"coarse": (0, 2), "middle": (2, 6), "fine": (6, 14)}


def layer_presets(num_ws: int) -> dict[str, tuple[int, int]]:
    """``coarse``/``middle``/``fine`` as inclusive ws ranges for a network with ``num_ws`` ws.

    SeFa's 0-1 / 2-5 / 6-13 at 18 ws, scaled: each bound is ``num_ws * b / 18`` rounded half up
    (18 ws give SeFa's own, 14 give 0-1 / 2-4 / 5-10), then pushed up so every preset keeps at
    least one layer (6 ws: 0 / 1 / 2-4). The top 2/9 of the ws are in none, as in SeFa.
    """
    presets, start = {}, 0
    for name, (_, end) in LAYER_PRESET_EIGHTEENTHS.items():
        stop = min(max(int(num_ws * end / 18 + 0.5), start + 1), num_ws)
        presets[name] = (start, max(stop - 1, start))
        start = min(stop, num_ws - 1)
    return presets


_RANGE = re.compile(r"^\s*(-?\d+)\s*-\s*(-?\d+)\s*$")


def parse_layers(spec: str | None, num_ws: int, presets: dict[str, tuple[int, int]] | None = None):
    """``"all"``, a preset name, ``"2-5"`` (inclusive), ``"0,1,4"`` or None (all) -> ws indices."""
    if spec is None or spec.strip() in ("", "all"):
        return tuple(range(num_ws))
    spec = spec.strip()
    if presets and spec in presets:
        lo, hi = presets[spec]
        return tuple(range(max(lo, 0), min(hi, num_ws - 1) + 1))
    layers: list[int] = []
    for part in spec.split(","):
        match = _RANGE.match(part)
        if match:
            lo, hi = int(match[1]), int(match[2])
            layers.extend(range(lo, hi + 1))
        elif part.strip().isdigit():
            layers.append(int(part))
        else:
            names = ", ".join(["all", *(presets or {})])
            raise StyleGANError(
                f"cannot read layers {spec!r}: give {names}, a range like 2-5 or a list like 0,1,4"
            )
    bad = [i for i in layers if not 0 <= i < num_ws]
    if bad or not layers:
        raise StyleGANError(f"layers {spec!r} must lie in 0-{num_ws - 1} (this network's ws)")
    return tuple(sorted(set(layers)))
