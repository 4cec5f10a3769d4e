"""Everything a run needs to continue exactly where it stopped, in one object.

:class:`TrainingState` holds G, D, G_ema, both Adam optimisers, the progress counters, the path
length mean, the augmentation probability, the position in the data stream and the RNG states
(torch, CUDA, numpy, python). ``state.save(path)`` writes a checkpoint folder with all of it
and ``TrainingState.load(path)`` brings it back whole, so a resumed run follows the same curve.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from stylegan.errors import StyleGANError
from stylegan.networks.presets import NetworkPreset, create_pair, stylegan3_magnitude_ema_beta
from stylegan.training.config import TrainingConfig, lazy_ratio

STATE_VERSION = 1


# The architecture options a training config spells as NetworkPreset does, copied one to one.
_PRESET_FIELDS = (
    "generator",
    "z_dim",
    "w_dim",
    "map_depth",
    "channel_base",
    "channel_max",
    "num_fp16_res",
    "conv_clamp",
    "g_architecture",
    "d_architecture",
    "mbstd_group_size",
)


def network_preset(
    config: TrainingConfig, resolution: int, img_channels: int, c_dim: int
) -> NetworkPreset:
    """The architecture part of a training config, for :mod:`stylegan.networks.presets`."""
    return NetworkPreset(
        img_resolution=resolution,
        img_channels=img_channels,
        c_dim=c_dim,
        freeze_layers=config.freezed,
        magnitude_ema_beta=stylegan3_magnitude_ema_beta(config.batch_size),
        **{name: getattr(config, name) for name in _PRESET_FIELDS},
    )


def build_networks(
    config: TrainingConfig, resolution: int, img_channels: int, c_dim: int
) -> tuple[nn.Module, nn.Module]:
    """A fresh generator and discriminator for the config (see :mod:`stylegan.networks.presets`):
    StyleGAN 1's pair, starting at the schedule's first level of detail, or a StyleGAN2 or
    StyleGAN3 generator with the StyleGAN2 discriminator."""
    if config.generator == "stylegan1" and config.freezed:
        raise StyleGANError("--freezed needs the StyleGAN2 discriminator, not StyleGAN 1's")
    G, D = create_pair(network_preset(config, resolution, img_channels, c_dim))
    if config.generator == "stylegan1":
        from stylegan.training.progressive import schedule_at, set_lod

        set_lod([G, D], schedule_at(config, 0, resolution).lod)
    return G, D


def freeze_layers(D: nn.Module) -> int:
    """How many of D's first layers are frozen (Freeze-D); 0 for discriminators without it."""
    return getattr(D.config, "freeze_layers", 0)


def with_frozen_layers(D: nn.Module, n: int) -> nn.Module:
    """``D`` rebuilt with its first ``n`` layers frozen (kept as buffers), same weights."""
    if freeze_layers(D) == n:
        return D
    if not hasattr(D.config, "freeze_layers"):
        raise StyleGANError("--freezed needs the StyleGAN2 discriminator (freeze_layers)")
    frozen = type(D).from_config(D.config.replace(freeze_layers=n))
    frozen.load_state_dict(D.state_dict())
    buffer = next(iter(D.buffers()), None)
    return frozen.to(buffer.device if buffer is not None else "cpu")


def lazy_adam(
    params, lr: float, betas: tuple[float, float], eps: float, reg_interval: int | None
) -> torch.optim.Adam:
    """Adam for a network regularised every ``reg_interval`` steps.

    The learning rate and the betas are corrected with :func:`lazy_ratio`'s ``c``: ``lr * c`` and
    ``beta ** c``.
    """
    c = lazy_ratio(reg_interval)
    return torch.optim.Adam(params, lr=lr * c, betas=tuple(b**c for b in betas), eps=eps)


def capture_rng() -> dict[str, Any]:
    """The state of every random number generator the training step draws from."""
    version, internal, gauss_next = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {
            "version": version,
            "internal": torch.tensor(internal, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    torch.set_rng_state(state["torch"].to(torch.uint8).cpu())
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["kind"], keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    internal = tuple(int(v) for v in p["internal"].tolist())
    random.setstate((p["version"], internal, p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = [s.to(torch.uint8).cpu() for s in state["cuda"]]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)


@dataclass
class TrainingState:
    """Networks, optimisers, counters and RNG: the whole of a run that is not configuration."""

    G: nn.Module
    D: nn.Module
    G_ema: nn.Module
    G_opt: torch.optim.Optimizer
    D_opt: torch.optim.Optimizer
    pl_mean: torch.Tensor
    cur_nimg: int = 0  # real images shown to D so far
    cur_tick: int = 0  # ticks completed
    batch_idx: int = 0  # training steps done
    data_position: int = 0  # images drawn from the shuffled data stream
    augment_p: float = 0.0  # the augmentation probability p (ADA's, adapted as training goes)
    lod: float | None = None  # level of detail of the last step (progressive growing)
    nonfinite_streak: int = 0  # consecutive steps with a non-finite loss
    counters: dict[str, int] = field(default_factory=dict)  # e.g. phase runs, non-finite events
    augment_pipe: nn.Module | None = None  # set up by the loop from the config
    ada: Any = None  # the ADA controller (training.ada.AdaController), if adaptive
    ada_state: dict[str, Any] | None = None  # the controller's saved state, read on resume

    @classmethod
    def create(cls, config: TrainingConfig, G: nn.Module, D: nn.Module) -> TrainingState:
        """Wrap fresh networks: G_ema starts as a copy of G; optimisers get the lazy correction."""
        import copy

        device = next(G.parameters()).device
        G.train().requires_grad_(False)
        D.train().requires_grad_(False)
        G_ema = copy.deepcopy(G).eval().requires_grad_(False)
        G_opt = lazy_adam(
            G.parameters(), config.g_lr, config.adam_betas, config.adam_eps, config.g_reg_interval
        )
        D_opt = lazy_adam(
            D.parameters(), config.d_lr, config.adam_betas, config.adam_eps, config.d_reg_interval
        )
        pl_mean = torch.zeros([], device=device)
        return cls(G=G, D=D, G_ema=G_ema, G_opt=G_opt, D_opt=D_opt, pl_mean=pl_mean)

    @property
    def kimg(self) -> float:
        """Thousands of real images shown so far."""
        return self.cur_nimg / 1000

    def count(self, name: str, n: int = 1) -> None:
        """Add to a named counter (kept in the state, so totals survive a resume)."""
        self.counters[name] = self.counters.get(name, 0) + n

    # -- saving and loading -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything but the networks, as a nested dict of tensors and plain values."""
        return {
            "version": STATE_VERSION,
            "cur_nimg": self.cur_nimg,
            "cur_tick": self.cur_tick,
            "batch_idx": self.batch_idx,
            "data_position": self.data_position,
            "augment_p": self.augment_p,
            "ada": self.ada.state_dict() if self.ada is not None else None,
            "lod": self.lod,
            "nonfinite_streak": self.nonfinite_streak,
            "counters": dict(self.counters),
            "pl_mean": self.pl_mean.detach().cpu(),
            "G_opt": self.G_opt.state_dict(),
            "D_opt": self.D_opt.state_dict(),
            "rng": capture_rng(),
        }

    def load_state_dict(self, state: dict[str, Any], restore_random: bool = True) -> None:
        """Restore what :meth:`state_dict` returned (networks are loaded separately)."""
        if state.get("version") != STATE_VERSION:
            raise StyleGANError(
                f"training state version {state.get('version')} is not supported "
                f"(this stylegan writes version {STATE_VERSION})"
            )
        self.cur_nimg = int(state["cur_nimg"])
        self.cur_tick = int(state["cur_tick"])
        self.batch_idx = int(state["batch_idx"])
        self.data_position = int(state["data_position"])
        self.augment_p = float(state["augment_p"])
        self.ada_state = state.get("ada")
        self.lod = state.get("lod")  # absent in checkpoints of runs that never grew
        self.nonfinite_streak = int(state["nonfinite_streak"])
        self.counters = {str(k): int(v) for k, v in state["counters"].items()}
        self.pl_mean = state["pl_mean"].to(self.pl_mean.device, self.pl_mean.dtype)
        # Adam's moments come back; lr, betas and eps follow the (possibly changed) config,
        # which they already equal on a plain resume.
        for opt, saved in ((self.G_opt, state["G_opt"]), (self.D_opt, state["D_opt"])):
            hyper = [{k: g[k] for k in ("lr", "betas", "eps")} for g in opt.param_groups]
            opt.load_state_dict(saved)
            for group, h in zip(opt.param_groups, hyper, strict=True):
                group.update(h)
        if restore_random:
            restore_rng(state["rng"])

    def networks(self) -> dict[str, nn.Module]:
        """The three networks by their checkpoint names."""
        return {"G": self.G, "D": self.D, "G_ema": self.G_ema}

    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
        """Write a resumable checkpoint folder (networks + this state).

        An earlier checkpoint of the same name (a run's own snapshot, e.g. every one below
        1 kimg) is replaced atomically; anything else there is refused.
        """
        from stylegan.io.checkpoint import save_checkpoint

        meta = {"kimg": self.kimg, "cur_nimg": self.cur_nimg, "cur_tick": self.cur_tick}
        meta.update(metadata or {})
        state = self.state_dict()
        return save_checkpoint(
            path, self.networks(), training_state=state, metadata=meta, overwrite=True
        )

    @classmethod
    def load(
        cls,
        path: str | Path,
        config: TrainingConfig,
        device: torch.device | str = "cpu",
        restore_random: bool = True,
    ) -> TrainingState:
        """Rebuild a state from a checkpoint folder written by :meth:`save`."""
        from stylegan.io.checkpoint import load_checkpoint

        ckpt = load_checkpoint(path, device=device)
        return cls.from_checkpoint(ckpt, config, restore_random=restore_random)

    @classmethod
    def from_checkpoint(
        cls, ckpt, config: TrainingConfig, restore_random: bool = True
    ) -> TrainingState:
        """Rebuild a state from a loaded :class:`~stylegan.io.checkpoint.Checkpoint`.

        A checkpoint without training state (e.g. exported networks) gives its networks fresh
        optimisers and counters at zero: fine-tuning rather than resuming.
        """
        nets = ckpt.networks
        if "G" not in nets and "G_ema" not in nets:
            raise StyleGANError(f"{ckpt.path} holds no generator (G or G_ema); cannot train it")
        if "D" not in nets:
            raise StyleGANError(
                f"{ckpt.path} holds no discriminator; training needs D (resume from a training "
                "snapshot, network-snapshot-*)"
            )
        G = nets.get("G", nets.get("G_ema"))
        state = cls.create(config, G, nets["D"])
        if "G" in nets and "G_ema" in nets:
            state.G_ema = nets["G_ema"].eval().requires_grad_(False)
        if ckpt.training_state is not None:
            state.load_state_dict(ckpt.training_state, restore_random=restore_random)
        return state
