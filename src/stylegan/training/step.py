"""One training step, as the StyleGAN2 paper describes it: a table of phases and a walk over it.

D sees one minibatch of real images; up to four phases each take one optimiser step::

    Gmain  every step                 non-saturating loss on fresh fakes
    Greg   every g_reg_interval steps path length regularisation, loss x interval
    Dmain  every step                 logistic loss on fakes and reals (w_avg moves here)
    Dreg   every d_reg_interval steps R1 on reals, loss x interval

A network regularised on every step (interval None) takes one step on the sum instead
(``Gboth`` / ``Dboth``, as the official code). Then G_ema follows G, the counters move and
ADA adjusts p. How a phase sums its micro-batches is :mod:`stylegan.training.accumulate`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from stylegan.training import distributed, loss
from stylegan.training.accumulate import (
    MicroBatches,
    accumulate_phase,
    float_buffers,
    gather_reports,
)
from stylegan.training.config import TrainingConfig
from stylegan.training.data_stream import sample_labels
from stylegan.training.ema import ema_beta, update_ema
from stylegan.training.state import TrainingState

LATENT_ROWS = 4  # one row of latents and labels per loss term: G main, G reg, D main, D reg


@dataclass
class StepResult:
    """What one step did: each phase's loss value, its non-finite gradient count, its report."""

    losses: dict[str, float] = field(default_factory=dict)
    nonfinite_grads: dict[str, int] = field(default_factory=dict)
    reports: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)

    @property
    def nonfinite_phases(self) -> list[str]:
        """Phases whose loss was NaN or infinite."""
        return [name for name, value in self.losses.items() if not np.isfinite(value)]


@dataclass
class StepBatch:
    """What the loss terms of one step see: the state, the config, this rank's reals and its
    latents and labels per row (``[4, n, ...]``), D's blur sigma."""

    state: TrainingState
    config: TrainingConfig
    real_img: torch.Tensor
    real_c: torch.Tensor
    gen_z: torch.Tensor
    gen_c: torch.Tensor
    sigma: float

    @property
    def wgan(self) -> bool:
        """Whether the run uses the WGAN-GP losses instead of the logistic ones."""
        return self.config.loss == "wgan-gp"


# ---- the loss terms (each on the micro-batch `part` of this rank's share) ----------------------


def generator_main(b: StepBatch, part: slice) -> loss.PhaseLoss:
    """Make D call the fakes real."""
    G, D, aug = b.state.G, b.state.D, b.state.augment_pipe
    z, c, mixing = b.gen_z[0][part], b.gen_c[0][part], b.config.style_mixing_prob
    if b.wgan:
        return loss.generator_wgan(G, D, z, c, mixing, aug)
    return loss.generator_main(G, D, z, c, mixing, b.sigma, aug)


def generator_reg(b: StepBatch, part: slice) -> loss.PhaseLoss:
    """Path length regularisation."""
    config = b.config
    return loss.generator_path_length(
        b.state.G,
        b.gen_z[1][part],
        b.gen_c[1][part],
        b.state.pl_mean,
        weight=config.pl_weight,
        batch_shrink=config.pl_batch_shrink,
        decay=config.pl_decay,
        style_mixing_prob=config.style_mixing_prob,
    )


def discriminator_main(b: StepBatch, part: slice) -> loss.PhaseLoss:
    """Fakes down, reals up."""
    G, D, aug, config = b.state.G, b.state.D, b.state.augment_pipe, b.config
    x, xc, z, c = b.real_img[part], b.real_c[part], b.gen_z[2][part], b.gen_c[2][part]
    mixing = config.style_mixing_prob
    if b.wgan:
        return loss.discriminator_wgan(G, D, x, xc, z, c, mixing, config.wgan_epsilon, aug)
    return loss.discriminator_main(G, D, x, xc, z, c, mixing, b.sigma, aug)


def discriminator_reg(b: StepBatch, part: slice) -> loss.PhaseLoss:
    """R1 on the reals (or the WGAN gradient penalty)."""
    G, D, aug, config = b.state.G, b.state.D, b.state.augment_pipe, b.config
    x, xc = b.real_img[part], b.real_c[part]
    if b.wgan:
        return loss.discriminator_gradient_penalty(
            G, D, x, xc, b.gen_z[3][part], config.wgan_lambda, config.wgan_target, aug
        )
    return loss.discriminator_r1(D, x, xc, config.r1_gamma, b.sigma, aug)


# ---- the phase table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    """One optimiser step of one network on the sum of its loss terms."""

    name: str
    network: str  # "G" or "D": the network, and its optimiser, that this phase steps
    terms: tuple[Callable[[StepBatch, slice], loss.PhaseLoss], ...]
    when: str  # "main", "lazy" or "combined" (see PHASES)
    stream: int  # the RNG stream of its micro-batches (accumulate.micro_batch_rng)
    tracks_emas: bool  # G's running averages (w_avg, magnitude_ema) move in this phase


# The phases of a step, in order. "main" runs every step; "lazy" every interval steps with its
# loss x interval; "combined" (main + regulariser, one optimiser step) replaces both when the
# network's interval is None. A network without a regulariser runs its main phase alone.
# fmt: off
PHASES = (
    #     name     net  loss terms                                 when        stream  EMAs
    Phase("Gmain", "G", (generator_main,),                         "main",     0,      False),
    Phase("Greg",  "G", (generator_reg,),                          "lazy",     1,      False),
    Phase("Gboth", "G", (generator_main, generator_reg),           "combined", 0,      False),
    Phase("Dmain", "D", (discriminator_main,),                     "main",     2,      True),
    Phase("Dreg",  "D", (discriminator_reg,),                      "lazy",     3,      False),
    Phase("Dboth", "D", (discriminator_main, discriminator_reg),   "combined", 2,      True),
)
# fmt: on


def regularised(config: TrainingConfig, network: str) -> bool:
    """Whether the network has a regulariser at all (path length for G, R1 or GP for D)."""
    if network == "G":
        return config.pl_weight > 0
    return config.wgan_lambda > 0 if config.loss == "wgan-gp" else config.r1_gamma > 0


def reg_interval(config: TrainingConfig, network: str) -> int | None:
    """The network's lazy regularisation interval (None = every step, in one phase)."""
    return config.g_reg_interval if network == "G" else config.d_reg_interval


def phase_gain(phase: Phase, config: TrainingConfig, step: int) -> int | None:
    """The gain of the phase's loss at step ``step``; None when the phase does not run."""
    has_reg = regularised(config, phase.network)
    interval = reg_interval(config, phase.network)
    combined = has_reg and interval is None
    if phase.when == "main":
        return None if combined else 1
    if phase.when == "combined":
        return 1 if combined else None
    lazy_due = has_reg and interval is not None and step % interval == 0
    return interval if lazy_due else None


def scheduled_phases(config: TrainingConfig, step: int) -> list[tuple[Phase, int]]:
    """The phases of step ``step`` in table order, with the gain of their losses."""
    due = [(phase, phase_gain(phase, config, step)) for phase in PHASES]
    return [(phase, gain) for phase, gain in due if gain is not None]


def _sum_of_terms(batch: StepBatch, phase: Phase) -> Callable[[slice], loss.PhaseLoss]:
    """The phase's loss on one micro-batch: its term, or the sum of main and regulariser."""
    if len(phase.terms) == 1:
        return lambda part: phase.terms[0](batch, part)
    main, reg = phase.terms
    return lambda part: loss.combine(main(batch, part), reg(batch, part))


# ---- the step -----------------------------------------------------------------------------------


def step_latents(
    dataset, seed: int, step: int, batch_size: int, z_dim: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The latents and labels of every phase of step ``step`` for the whole global batch,
    ``[4, batch, z_dim]`` and ``[4, batch, c_dim]``: drawn from generators seeded by (seed,
    step), so they are the same on every rank, on any device, and after a resume."""
    state = np.random.SeedSequence([seed, step]).generate_state(2)
    gen = torch.Generator().manual_seed(int(state[0]))
    z = torch.randn([LATENT_ROWS, batch_size, z_dim], generator=gen).to(device)
    rng = np.random.default_rng(int(state[1]))
    c = sample_labels(dataset, LATENT_ROWS * batch_size, device, rng)
    return z, c.reshape(LATENT_ROWS, batch_size, -1)


def training_step(
    state: TrainingState,
    config: TrainingConfig,
    real_img: torch.Tensor,
    real_c: torch.Tensor,
    gen_z: torch.Tensor,
    gen_c: torch.Tensor,
    context: distributed.Context = distributed.SINGLE,
    batch_gpu: int | None = None,
) -> StepResult:
    """One minibatch: the scheduled phases, the G_ema update, the counters, ADA.

    ``real_img`` is this rank's ``[n, C, H, W]`` in [-1, 1] (the whole batch in one process);
    ``gen_z`` and ``gen_c`` hold this rank's latents and labels per row (``[4, n, ...]``).
    Each phase runs ``n / batch_gpu`` micro-batches and takes one optimiser step
    (:func:`~stylegan.training.accumulate.accumulate_phase`): the update is that of the global
    batch, the same whichever way the micro-batches are spread over ranks and rounds.
    """
    batches = MicroBatches.split(
        real_img.shape[0], batch_gpu, config.random_seed, state.batch_idx, context, real_img.device
    )
    sigma = loss.blur_sigma(state.cur_nimg, config.blur_init_sigma, config.blur_fade_kimg)
    batch = StepBatch(state, config, real_img, real_c, gen_z, gen_c, sigma)
    optimisers = {"G": (state.G, state.G_opt), "D": (state.D, state.D_opt)}
    outcomes = {}
    for phase, gain in scheduled_phases(config, state.batch_idx):
        module, optimizer = optimisers[phase.network]
        tracked = float_buffers(state.G) if phase.tracks_emas else []
        compute = _sum_of_terms(batch, phase)
        outcomes[phase.name] = accumulate_phase(
            batches, phase.stream, module, optimizer, compute, gain, tracked, state.pl_mean
        )
        state.count(f"phase/{phase.name}")

    # G_ema follows G with a half-life of ema_kimg (ramped up early in training).
    batch_size = batches.global_batch
    beta = ema_beta(batch_size, state.cur_nimg, config.ema_kimg, config.ema_rampup)
    update_ema(state.G_ema, state.G, beta)
    state.cur_nimg += batch_size
    state.batch_idx += 1

    # Every rank gets the whole batch's per-sample reports (statistics and ADA's signs).
    result = StepResult()
    result.reports = gather_reports({n: o.report for n, o in outcomes.items()}, context)

    # ADA: every interval steps, move p by the sign of (E[sign(D(real))] - target).
    if state.ada is not None:
        for report in result.reports.values():
            if "Loss/signs/real" in report:
                state.ada.accumulate(report["Loss/signs/real"])
        if state.batch_idx % state.ada.interval == 0:
            state.ada.update(state.augment_pipe, batch_size)
            # p only moves here; reading it (a device sync) once per adjustment is enough.
            state.augment_p = float(state.augment_pipe.p)

    # One synchronisation per step: read every phase's loss and non-finite gradient count.
    losses = torch.stack([o.loss.float() for o in outcomes.values()])
    distributed.all_reduce_sum_([losses], context)  # the global batch's mean loss per phase
    bad = torch.stack([o.nonfinite_grads.float() for o in outcomes.values()])
    values = torch.stack([losses, bad], dim=1).tolist()
    for name, (value, bad_count) in zip(outcomes, values, strict=True):
        result.losses[name] = value
        result.nonfinite_grads[name] = int(bad_count)
    return result
