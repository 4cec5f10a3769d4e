"""ADA's presets and its adaptive controller: the ``--augpipe`` pipelines of NVIDIA's train.py
(:data:`AUGPIPE_SPECS`, built by :func:`make_augment_pipe`), :class:`AdaController`, which moves
the pipe's ``p`` so that the overfitting heuristic ``r_t = E[sign(D(real))]`` stays near a
target, and :func:`setup_augmentation`, which turns NVIDIA's ``--aug/--augpipe/--target/--p``
options into a pipe and a controller. The pipeline itself is
:class:`stylegan.training.augment.AugmentPipe`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import torch

from stylegan.errors import StyleGANError
from stylegan.training.augment import AugmentPipe

_BLIT = dict(xflip=1, rotate90=1, xint=1)
_GEOM = dict(scale=1, rotate=1, aniso=1, xfrac=1)
_COLOR = dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)

# The presets of NVIDIA's train.py (``--augpipe``); ``bgc`` is the paper's default.
AUGPIPE_SPECS: dict[str, dict[str, float]] = {
    "blit": dict(_BLIT),
    "geom": dict(_GEOM),
    "color": dict(_COLOR),
    "filter": dict(imgfilter=1),
    "noise": dict(noise=1),
    "cutout": dict(cutout=1),
    "bg": {**_BLIT, **_GEOM},
    "bgc": {**_BLIT, **_GEOM, **_COLOR},
    "bgcf": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1},
    "bgcfn": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1, "noise": 1},
    "bgcfnc": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1, "noise": 1, "cutout": 1},
}


def make_augment_pipe(name: str, **overrides: Any) -> AugmentPipe:
    """The pipeline of preset ``name`` (see :data:`AUGPIPE_SPECS`), at ``p = 1`` like the
    official class; ``overrides`` change its constructor arguments (e.g. ``rotate_max``)."""
    if name not in AUGPIPE_SPECS:
        raise StyleGANError(
            f"unknown augmentation pipeline {name!r}: choose one of {', '.join(AUGPIPE_SPECS)}"
        )
    return AugmentPipe(**{**AUGPIPE_SPECS[name], **overrides})


# ---- the adaptive controller -----------------------------------------------------------------

AUG_MODES = ("noaug", "ada", "fixed")


class AdaAdjustment(NamedTuple):
    """What one ADA adjustment measured and did."""

    p: float  # the augmentation probability after the adjustment
    rt: float  # the overfitting heuristic r_t = E[sign(D(real))] over the interval


class AdaController:
    """Adjusts the pipe's ``p`` so that ``r_t = E[sign(D(real))]`` (how sure D is that reals
    are real, +1 when it has memorised them) stays near ``target``.

    Call :meth:`accumulate` with D's logits on the (augmented) reals of every step and
    :meth:`update` every ``interval`` steps: ``p`` moves by ``sign(r_t - target) * batch_size *
    interval / (speed_kimg * 1000)`` (so it can go from 0 to 1 in ``speed_kimg`` thousand
    images) and is clamped at 0 from below only, as in NVIDIA's training loop.
    """

    def __init__(self, target: float = 0.6, interval: int = 4, speed_kimg: float = 500):
        if not 0 < target < 1:
            raise StyleGANError(f"the ADA --target must lie in (0, 1), got {target}")
        if int(interval) != interval or interval < 1:
            raise StyleGANError(
                f"the ADA interval must be a whole number of steps >= 1, got {interval}"
            )
        if not speed_kimg > 0:
            raise StyleGANError(
                f"the ADA speed (kimg per unit of p) must be positive, got {speed_kimg}"
            )
        self.target = float(target)
        self.interval = int(interval)
        self.speed_kimg = float(speed_kimg)
        # The sum stays a device tensor between adjustments, so accumulating costs no sync.
        self._sign_sum: torch.Tensor | float = 0.0
        self.count = 0  # how many logits the sum holds
        self.last_rt: float | None = None
        self.p: float | None = None  # the p this controller last set (or started from)

    @property
    def sign_sum(self) -> float:
        """The sum of ``sign(D(real))`` since the last adjustment."""
        return float(self._sign_sum)

    @sign_sum.setter
    def sign_sum(self, value: float) -> None:
        # Settable so that a distributed loop can replace it by the sum over ranks.
        self._sign_sum = float(value)

    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Add D's logits on one step's (augmented) reals."""
        signs = real_logits.detach().sign()
        self._sign_sum = self._sign_sum + signs.sum(dtype=torch.float32)
        self.count += signs.numel()

    def update(self, pipe: AugmentPipe, batch_size: int) -> AdaAdjustment | None:
        """Move ``pipe.p`` by one step towards the target; ``batch_size`` is the global batch
        of one training step. Returns ``None``, leaving p alone, when no logits were
        accumulated (the official loop would make p NaN)."""
        if self.count == 0:
            return None
        rt = self.sign_sum / self.count
        adjust = np.sign(rt - self.target) * (batch_size * self.interval) / (self.speed_kimg * 1000)
        with torch.no_grad():
            pipe.p.copy_((pipe.p + float(adjust)).clamp(min=0))
        self._sign_sum, self.count = 0.0, 0
        self.last_rt, self.p = rt, float(pipe.p)
        return AdaAdjustment(self.p, rt)

    def state_dict(self) -> dict[str, Any]:
        """What a resume needs: the accumulators, the last r_t and p (plus the settings, for
        the record)."""
        return {
            "target": self.target,
            "interval": self.interval,
            "speed_kimg": self.speed_kimg,
            "sign_sum": self.sign_sum,
            "count": self.count,
            "last_rt": self.last_rt,
            "p": self.p,
        }

    def load_state_dict(self, state: Mapping[str, Any], pipe: AugmentPipe | None = None) -> None:
        """Restore the accumulators, r_t and p (into ``pipe`` too, when given). The settings
        (target, interval, speed) stay as constructed: they come from the run's options, which
        may change on resume (NVIDIA's train.py speeds ADA up when fine-tuning)."""
        self.sign_sum = float(state.get("sign_sum", 0.0))
        self.count = int(state.get("count", 0))
        last_rt = state.get("last_rt")
        self.last_rt = None if last_rt is None else float(last_rt)
        p = state.get("p")
        if p is not None:
            self.p = float(p)
            if pipe is not None:
                with torch.no_grad():
                    pipe.p.fill_(self.p)


def setup_augmentation(
    aug: str = "ada",
    augpipe: str = "bgc",
    target: float | None = None,
    p: float | None = None,
    speed_kimg: float = 500,
    interval: int = 4,
) -> tuple[AugmentPipe | None, AdaController | None]:
    """``(pipe, controller)`` for NVIDIA's ``--aug/--augpipe/--target/--p`` options.

    ``noaug`` gives neither; ``fixed`` a pipe at ``p`` (required; none at all when ``p`` is 0,
    as in the official loop); ``ada`` a pipe starting at ``p`` (default 0) and a controller
    aiming at ``target`` (default 0.6). Unlike NVIDIA's train.py, which accepts ``--p`` with
    ``fixed`` only, ``ada`` takes it as the starting probability (to continue from a known p).
    """
    if aug not in AUG_MODES:
        raise StyleGANError(f"--aug must be one of {', '.join(AUG_MODES)}, got {aug!r}")
    if p is not None and not 0 <= p <= 1:
        raise StyleGANError(f"--p must lie in [0, 1], got {p}")
    if target is not None and aug != "ada":
        raise StyleGANError(f"--target applies to --aug=ada only, not --aug={aug}: drop it")
    if aug == "noaug":
        if p is not None:
            raise StyleGANError("--p needs augmentation: drop it or use --aug=fixed")
        return None, None
    if aug == "fixed":
        if p is None:
            raise StyleGANError("--aug=fixed needs --p (the fixed augmentation probability)")
        pipe = make_augment_pipe(augpipe)
        if p == 0:
            return None, None  # nothing would ever fire
        pipe.p.fill_(p)
        return pipe, None
    pipe = make_augment_pipe(augpipe)
    controller = AdaController(0.6 if target is None else target, interval, speed_kimg)
    pipe.p.fill_(0.0 if p is None else p)
    controller.p = float(pipe.p)
    return pipe, controller
