"""The StyleGAN2 objectives (Karras et al. 2020, sections 2 and 3, with Mescheder et al.'s R1).

Each phase of a training step has one function here returning a :class:`PhaseLoss`: the scalar
to backpropagate (before the lazy-regularisation gain, which the loop applies) and per-sample
values to report. Logits are D's raw outputs; ``softplus(-x) = -log sigmoid(x)``.

* ``generator_main``: non-saturating loss, G wants D to call its images real.
* ``generator_path_length``: path length regularisation on ``ws``, around a running mean.
* ``discriminator_main``: logistic loss, fakes down and reals up.
* ``discriminator_r1``: R1, the squared gradient norm of D at real images, times gamma / 2.

WGAN-GP (Gulrajani et al. 2017, the ProGAN loss, an option for StyleGAN 1):
``generator_wgan`` (``-D(G(z))``), ``discriminator_wgan`` (``D(fake) - D(real)`` plus the drift
term ``epsilon * D(real)^2``) and ``discriminator_gradient_penalty`` on random interpolates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from stylegan.ops import upfirdn2d


@dataclass
class PhaseLoss:
    """What one phase computed: ``loss`` to backpropagate and per-sample values to report."""

    loss: torch.Tensor
    report: dict[str, torch.Tensor] = field(default_factory=dict)
    pl_mean: torch.Tensor | None = None  # the updated running mean (path length phase only)


def _logit_report(**logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """The official report of D's logits: ``Loss/scores/<name>`` and ``Loss/signs/<name>``."""
    report = {}
    for name, value in logits.items():
        report[f"Loss/scores/{name}"] = value
        report[f"Loss/signs/{name}"] = value.sign()
    return report


def mix_styles(
    G: nn.Module, ws: torch.Tensor, z: torch.Tensor, c: torch.Tensor, prob: float
) -> torch.Tensor:
    """Style mixing regularisation: with probability ``prob`` the layers from a random cutoff in
    ``[1, num_ws)`` on take their w from a second latent (w_avg is not updated by it).

    One decision and one cutoff per minibatch, as in the official code. The draws use the global
    torch RNG on the CPU, so they are reproducible and independent of the device.
    """
    num_ws = ws.shape[1]
    # A growing network (StyleGAN 1) mixes only among the layers it is using.
    active = getattr(G.synthesis, "active_num_ws", None)
    if active is not None:
        num_ws = active()
    if prob <= 0 or num_ws < 2 or torch.rand([]).item() >= prob:
        return ws
    cutoff = int(torch.randint(1, num_ws, []).item())
    mixed = G.mapping(torch.randn_like(z), c, update_emas=False)
    take_second = torch.arange(ws.shape[1], device=ws.device) >= cutoff
    return torch.where(take_second[None, :, None], mixed, ws)


def run_generator(
    G: nn.Module,
    z: torch.Tensor,
    c: torch.Tensor,
    style_mixing_prob: float = 0.0,
    update_emas: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Map, maybe mix styles, synthesise with random noise: returns ``(images, ws)``."""
    ws = G.mapping(z, c, update_emas=update_emas)
    ws = mix_styles(G, ws, z, c, style_mixing_prob)
    img = G.synthesis(ws, update_emas=update_emas)
    return img, ws


def blur_sigma(cur_nimg: int, init_sigma: float, fade_kimg: float) -> float:
    """Sigma of the blur on D's inputs: ``init_sigma`` fading linearly to 0 over ``fade_kimg``."""
    if fade_kimg <= 0 or init_sigma <= 0:
        return 0.0
    return max(1 - cur_nimg / (fade_kimg * 1e3), 0.0) * init_sigma


def blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian-like blur of D's inputs (StyleGAN3-R): ``2^-(x/sigma)^2`` taps over 3 sigma,
    normalised, applied separably; the identity when the support is below one pixel."""
    size = math.floor(sigma * 3)
    if size <= 0:
        return img
    taps = torch.arange(-size, size + 1, device=img.device).div(sigma).square().neg().exp2()
    return upfirdn2d.filter2d(img, taps / taps.sum())


def run_discriminator(
    D: nn.Module,
    img: torch.Tensor,
    c: torch.Tensor,
    blur_sigma: float = 0.0,
    augment_pipe: nn.Module | None = None,
    update_emas: bool = False,
) -> torch.Tensor:
    """D's logits for ``img`` as the official loss feeds it: blurred (StyleGAN3-R, early on),
    then augmented (ADA / DiffAugment, reals and fakes alike), then D."""
    img = blur(img, blur_sigma)
    if augment_pipe is not None:
        img = augment_pipe(img)
    return D(img, c, update_emas=update_emas)


def _generator_loss(loss: torch.Tensor, fake_logits: torch.Tensor) -> PhaseLoss:
    """A generator's main phase: its per-sample ``loss`` and the report of D's logits."""
    return PhaseLoss(loss.mean(), {**_logit_report(fake=fake_logits), "Loss/G/loss": loss})


def _gradient(output: torch.Tensor, wrt: torch.Tensor) -> torch.Tensor:
    """``d output / d wrt`` of a scalar, kept differentiable: the penalties backpropagate it."""
    (grads,) = torch.autograd.grad(
        outputs=[output], inputs=[wrt], create_graph=True, only_inputs=True
    )
    return grads


def generator_main(
    G: nn.Module,
    D: nn.Module,
    z: torch.Tensor,
    c: torch.Tensor,
    style_mixing_prob: float,
    blur_sigma: float = 0.0,
    augment_pipe: nn.Module | None = None,
) -> PhaseLoss:
    """Non-saturating generator loss ``softplus(-D(G(z)))``."""
    fake_img, _ = run_generator(G, z, c, style_mixing_prob)
    fake_logits = run_discriminator(D, fake_img, c, blur_sigma, augment_pipe)
    return _generator_loss(F.softplus(-fake_logits), fake_logits)


def generator_path_length(
    G: nn.Module,
    z: torch.Tensor,
    c: torch.Tensor,
    pl_mean: torch.Tensor,
    *,
    weight: float,
    batch_shrink: int,
    decay: float,
    style_mixing_prob: float,
) -> PhaseLoss:
    """Path length regularisation: ``weight * (|J_w^T y| - a)^2`` with ``y`` random image-space
    noise scaled by ``1/sqrt(H*W)``, on a batch shrunk by ``batch_shrink``.

    ``a`` is an exponential moving average of the lengths (``decay``); the returned
    ``PhaseLoss.pl_mean`` is its new value. As in the official code the penalty is taken around
    the freshly updated mean, gradient included.
    """
    n = max(z.shape[0] // batch_shrink, 1)
    fake_img, ws = run_generator(G, z[:n], c[:n], style_mixing_prob)
    height, width = fake_img.shape[2], fake_img.shape[3]
    noise = torch.randn_like(fake_img) / math.sqrt(height * width)
    grads = _gradient((fake_img * noise).sum(), ws)
    lengths = grads.square().sum(2).mean(1).sqrt()
    new_mean = pl_mean.lerp(lengths.mean(), decay)
    penalty = (lengths - new_mean).square()
    loss = penalty * weight
    report = {"Loss/pl_penalty": penalty, "Loss/G/reg": loss}
    return PhaseLoss(loss.mean(), report, pl_mean=new_mean.detach())


def discriminator_main(
    G: nn.Module,
    D: nn.Module,
    real_img: torch.Tensor,
    real_c: torch.Tensor,
    z: torch.Tensor,
    c: torch.Tensor,
    style_mixing_prob: float,
    blur_sigma: float = 0.0,
    augment_pipe: nn.Module | None = None,
) -> PhaseLoss:
    """Logistic discriminator loss ``softplus(D(G(z))) + softplus(-D(x))``.

    Also the one place where running averages move (``update_emas=True``): G's ``w_avg`` is
    tracked on the latents drawn for D's fakes, as in the stylegan3 repository.
    """
    fake_img, _ = run_generator(G, z, c, style_mixing_prob, update_emas=True)
    fake_logits = run_discriminator(D, fake_img, c, blur_sigma, augment_pipe, update_emas=True)
    real_logits = run_discriminator(D, real_img, real_c, blur_sigma, augment_pipe)
    loss_fake = F.softplus(fake_logits)
    loss_real = F.softplus(-real_logits)
    report = {
        **_logit_report(fake=fake_logits, real=real_logits),
        "Loss/D/loss": loss_fake + loss_real,
    }
    return PhaseLoss(loss_fake.mean() + loss_real.mean(), report)


def discriminator_r1(
    D: nn.Module,
    real_img: torch.Tensor,
    real_c: torch.Tensor,
    gamma: float,
    blur_sigma: float = 0.0,
    augment_pipe: nn.Module | None = None,
) -> PhaseLoss:
    """R1 regularisation ``gamma / 2 * |grad_x D(x)|^2`` on real images (x before any blur or
    augmentation: the gradient flows through both, as in the official code)."""
    real_img = real_img.detach().requires_grad_(True)
    real_logits = run_discriminator(D, real_img, real_c, blur_sigma, augment_pipe)
    penalty = _gradient(real_logits.sum(), real_img).square().sum([1, 2, 3])
    loss = penalty * (gamma / 2)
    report = {**_logit_report(real=real_logits), "Loss/r1_penalty": penalty, "Loss/D/reg": loss}
    return PhaseLoss(loss.mean(), report)


def generator_wgan(
    G: nn.Module,
    D: nn.Module,
    z: torch.Tensor,
    c: torch.Tensor,
    style_mixing_prob: float,
    augment_pipe: nn.Module | None = None,
) -> PhaseLoss:
    """WGAN generator loss ``-D(G(z))``."""
    fake_img, _ = run_generator(G, z, c, style_mixing_prob)
    fake_logits = run_discriminator(D, fake_img, c, augment_pipe=augment_pipe)
    return _generator_loss(-fake_logits, fake_logits)


def discriminator_wgan(
    G: nn.Module,
    D: nn.Module,
    real_img: torch.Tensor,
    real_c: torch.Tensor,
    z: torch.Tensor,
    c: torch.Tensor,
    style_mixing_prob: float,
    epsilon: float,
    augment_pipe: nn.Module | None = None,
) -> PhaseLoss:
    """WGAN critic loss ``D(fake) - D(real) + epsilon * D(real)^2`` (w_avg moves here)."""
    fake_img, _ = run_generator(G, z, c, style_mixing_prob, update_emas=True)
    fake_logits = run_discriminator(D, fake_img, c, augment_pipe=augment_pipe, update_emas=True)
    real_logits = run_discriminator(D, real_img, real_c, augment_pipe=augment_pipe)
    loss = fake_logits - real_logits + real_logits.square() * epsilon
    report = {**_logit_report(fake=fake_logits, real=real_logits), "Loss/D/loss": loss}
    return PhaseLoss(loss.mean(), report)


def discriminator_gradient_penalty(
    G: nn.Module,
    D: nn.Module,
    real_img: torch.Tensor,
    real_c: torch.Tensor,
    z: torch.Tensor,
    weight: float,
    target: float,
    augment_pipe: nn.Module | None = None,
) -> PhaseLoss:
    """WGAN-GP: ``weight / target^2 * (|grad_x D(x)| - target)^2`` at ``x`` drawn uniformly on
    the segment between each real image and a fake (made with the real image's label)."""
    with torch.no_grad():
        fake_img, _ = run_generator(G, z, real_c)
    t = torch.rand([real_img.shape[0], 1, 1, 1], device=real_img.device, dtype=real_img.dtype)
    mixed = real_img.detach().lerp(fake_img, t).requires_grad_(True)
    mixed_logits = run_discriminator(D, mixed, real_c, augment_pipe=augment_pipe)
    norms = _gradient(mixed_logits.sum(), mixed).square().sum([1, 2, 3]).sqrt()
    loss = (norms - target).square() * (weight / target**2)
    report = {"Loss/scores/mixed": mixed_logits, "Loss/mixed_norms": norms, "Loss/D/reg": loss}
    return PhaseLoss(loss.mean(), report)


def combine(main: PhaseLoss, reg: PhaseLoss) -> PhaseLoss:
    """One optimiser step for both losses (a network regularised on every step, no lazy
    interval, takes a single step on their sum as the official ``Gboth`` / ``Dboth``)."""
    return PhaseLoss(main.loss + reg.loss, {**main.report, **reg.report}, pl_mean=reg.pl_mean)
