"""Progressive growing (StyleGAN 1): schedule, real-image fading, optimiser resets, resume
mid-fade, WGAN-GP, and the single-step "both" phases of non-lazy regularisation."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from test_train import _assert_same_state

from stylegan.errors import StyleGANError
from stylegan.io.checkpoint import load_checkpoint
from stylegan.networks.stylegan1 import Discriminator, Generator
from stylegan.ops.box_resample import box_downsample, nearest_upsample
from stylegan.training import find_latest_snapshot, loss, make_config, train
from stylegan.training.progressive import new_layers_added, process_reals, schedule_at


def test_schedule_follows_the_original_ffhq_config():
    config = make_config("stylegan1")
    at = lambda kimg: schedule_at(config, round(kimg * 1000), 1024)  # noqa: E731
    s = at(0)  # 8 px (lod 7) for the first 600 kimg, at batch 256
    assert (s.lod, s.resolution, s.batch_size, s.g_lr, s.d_lr) == (7, 8, 256, 0.001, 0.001)
    assert at(600).lod == 7
    s = at(900)  # half way through fading in 16 px
    assert (s.lod, s.resolution, s.batch_size) == (6.5, 16, 128)
    assert at(1200).lod == 6 and at(1800).lod == 6
    s = at(6000)  # phase 5: 256 px stable
    assert (s.lod, s.resolution, s.batch_size, s.g_lr) == (2, 256, 32, 0.002)
    s = at(25000)
    assert (s.lod, s.resolution, s.batch_size, s.g_lr, s.d_lr) == (0, 1024, 32, 0.003, 0.003)
    flat = make_config("tiny")  # no growing: lod 0 and the config's batch and rates
    s = schedule_at(flat, 0, 16)
    assert (s.lod, s.resolution, s.batch_size, s.g_lr) == (0, 16, 4, flat.g_lr)


def test_process_reals_fades_like_the_original():
    x = torch.randn(2, 3, 16, 16)
    assert process_reals(x, 0) is x
    torch.testing.assert_close(process_reals(x, 2), nearest_upsample(box_downsample(x, 4), 4))
    at1 = box_downsample(x, 2)
    lower = nearest_upsample(box_downsample(at1, 2), 2)
    want = nearest_upsample(at1 + (lower - at1) * 0.25, 2)
    torch.testing.assert_close(process_reals(x, 1.25), want)


def test_new_layers_added():
    assert not new_layers_added(None, 3.0)
    assert not new_layers_added(3.0, 3.0)
    assert new_layers_added(3.0, 2.9)  # a fade begins
    assert not new_layers_added(2.9, 2.5)
    assert new_layers_added(2.1, 2.0)  # the fade ends
    assert not new_layers_added(2.0, 2.0)


def test_config_checks():
    with pytest.raises(StyleGANError, match="needs the StyleGAN 1"):
        make_config("tiny", lod_initial_resolution=4)
    with pytest.raises(StyleGANError, match="power of two"):
        make_config("tiny", generator="stylegan1", lod_initial_resolution=6)
    with pytest.raises(StyleGANError, match="minibatch-std"):
        make_config("tiny", generator="stylegan1", batch_per_resolution={8: 5})
    with pytest.raises(StyleGANError, match="unknown loss"):
        make_config("tiny", loss="hinge")
    config = make_config("tiny", generator="stylegan1", batch_per_resolution={"8": 8})
    assert config.batch_per_resolution == {8: 8}  # JSON's string keys come back as ints


def _grow_config(tiny_config, total_images: int, **overrides):
    # 16 px data grown from 4 px: 16 images stable, 16 fading (per phase), batch 8 at 4 px
    # and 4 above; style mixing on, R1 on every step.
    values = dict(
        generator="stylegan1",
        lod_initial_resolution=4,
        lod_training_kimg=0.016,
        lod_transition_kimg=0.016,
        batch_per_resolution={4: 8},
        lr_per_resolution={16: 0.001},
        total_kimg=total_images / 1000,
        d_reg_interval=None,
        g_reg_interval=None,
        pl_weight=0.0,
        style_mixing_prob=0.9,
    )
    values.update(overrides)
    return tiny_config(**values)


def test_growing_run_and_resume_mid_fade(tiny_config, tmp_path):
    straight = train(_grow_config(tiny_config, 72), tmp_path / "straight", progress=False)
    ckpt = load_checkpoint(find_latest_snapshot(straight))
    state = ckpt.training_state
    # Steps of 8 at 4 px while lod is 2 (images 0-23), then steps of 4: fading in 8 px at
    # images 24 and 28, 8 px at 32-48, fading in 16 px at 52-60, 16 px from 64: 15 steps.
    # Adam is reset when each fade begins and ends; one optimiser step per network and step
    # (R1 in the same step as the main loss).
    assert state["batch_idx"] == 15 and state["cur_nimg"] == 72
    assert state["counters"]["lod/optimizer_resets"] == 4
    assert state["counters"]["phase/Dboth"] == 15 and "phase/Dreg" not in state["counters"]
    assert state["lod"] == 0
    for net in ("G", "G_ema"):
        assert float(ckpt.networks[net].synthesis.lod) == 0
    assert float(ckpt.networks["D"].lod) == 0
    assert ckpt.networks["G"].synthesis.b16.conv0.weight.shape[-1] == 3
    assert state["G_opt"]["param_groups"][0]["lr"] == pytest.approx(0.001)
    log = (straight / "log.txt").read_text()
    assert "lod 2.00" in log and "lod 0.00" in log

    # Stop during the first fade (last step at lod 1.25; the fade ends with the next step, so
    # the resumed run must reset Adam from the restored lod), then resume in a fresh "process".
    first = train(_grow_config(tiny_config, 32), tmp_path / "split", progress=False)
    mid = load_checkpoint(find_latest_snapshot(first)).training_state
    assert mid["lod"] == 1.25 and mid["counters"]["lod/optimizer_resets"] == 1
    torch.manual_seed(12345)
    np.random.seed(12345)
    random.seed(12345)
    resumed = train(
        _grow_config(tiny_config, 72), tmp_path / "split", resume="latest", progress=False
    )
    _assert_same_state(find_latest_snapshot(straight), find_latest_snapshot(resumed))


def test_wgan_gp_training_runs(tiny_config, tmp_path):
    run = train(_grow_config(tiny_config, 24, loss="wgan-gp"), tmp_path, progress=False)
    state = load_checkpoint(find_latest_snapshot(run)).training_state
    assert state["counters"]["phase/Dboth"] == 3  # three steps of 8 images at 4 px
    assert "mixed_norms" in (run / "stats.jsonl").read_text()


class _LinearCritic(torch.nn.Module):
    """D(x) = <a, x>: its gradient is ``a`` everywhere, so the penalty is known exactly."""

    def __init__(self, a: torch.Tensor):
        super().__init__()
        self.a = torch.nn.Parameter(a)

    def forward(self, img, c=None, update_emas=False):
        return (img * self.a).flatten(1).sum(1, keepdim=True)


class _FixedGenerator(torch.nn.Module):
    z_dim = 2

    def __init__(self, img: torch.Tensor):
        super().__init__()
        self.img = img
        self.mapping = lambda z, c, update_emas=False: z[:, None, :]
        self.synthesis = lambda ws, update_emas=False: self.img[: ws.shape[0]]


def test_wgan_losses_on_a_linear_critic():
    a = torch.full([1, 3, 4, 4], 0.1)  # |grad| = 0.1 * sqrt(48)
    D = _LinearCritic(a)
    real = torch.randn(2, 3, 4, 4)
    fake = torch.randn(2, 3, 4, 4)
    G = _FixedGenerator(fake)
    z, c = torch.randn(2, 2), torch.zeros(2, 0)
    gp = loss.discriminator_gradient_penalty(G, D, real, c, z, weight=10, target=1)
    norm = 0.1 * 48**0.5
    torch.testing.assert_close(gp.loss, torch.tensor((norm - 1) ** 2 * 10))
    d = loss.discriminator_wgan(G, D, real, c, z, c, 0.0, epsilon=0.001)
    real_logits, fake_logits = D(real), D(fake)
    want = (fake_logits - real_logits + 0.001 * real_logits.square()).mean()
    torch.testing.assert_close(d.loss, want)
    g = loss.generator_wgan(G, D, z, c, 0.0)
    torch.testing.assert_close(g.loss, -fake_logits.mean())


def test_style_mixing_stays_within_the_active_layers():
    torch.manual_seed(0)
    G = Generator(8, 0, 8, 32, 3, channel_base=128, channel_max=8, mapping_kwargs={"num_layers": 1})
    G.synthesis.lod.fill_(2.0)  # 8 px: layers 0-3 of 8 are in use
    z = torch.randn(4, 8)
    ws = G.mapping(z, None)
    for _ in range(40):
        mixed = loss.mix_styles(G, ws, z, None, prob=1.0)
        changed = (mixed != ws).any(dim=2).any(dim=0)
        assert changed[1:4].any() and changed[4:].all()  # cutoff in [1, 4)


def test_stylegan1_discriminator_built_for_training(tiny_config):
    from stylegan.training.state import build_networks

    config = _grow_config(tiny_config, 8)
    G, D = build_networks(config, 16, 3, 0)
    assert isinstance(G, Generator) and isinstance(D, Discriminator)
    assert float(G.synthesis.lod) == 2 and float(D.lod) == 2


def test_cli_trains_and_resumes_a_growing_stylegan1(shapes_dataset, tmp_path):
    from click.testing import CliRunner

    from stylegan.cli import cli

    out = tmp_path / "runs"
    args = [
        "train",
        "--outdir",
        str(out),
        "--data",
        str(shapes_dataset),
        "--cfg",
        "stylegan1-small",
    ]
    args += [
        "--kimg",
        "0.012",
        "--batch",
        "4",
        "--mbstd-group",
        "2",
        "--cbase",
        "64",
        "--cmax",
        "8",
    ]
    args += ["--map", "1", "--lod-initial", "4", "--lod-training-kimg", "0.004"]
    args += ["--lod-transition-kimg", "0.008", "--tick", "0.004", "--snap", "1", "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    (run,) = out.iterdir()
    log = (run / "log.txt").read_text()
    assert "lod 2.00" in log and "lod 1.50" in log and "cpu, fp32" in log
    ckpt = load_checkpoint(find_latest_snapshot(run))
    assert type(ckpt.networks["G"]).__name__ == "Generator"
    assert ckpt.networks["G"].config.channel_base == 64
    assert float(ckpt.networks["D"].lod) == 1.5  # 3 steps of 4: stopped mid-fade
    more = ["train", "--outdir", str(out), "--resume", "latest", "--kimg", "0.024", "--no-progress"]
    result = CliRunner().invoke(cli, more)
    assert result.exit_code == 0, result.output
    state = load_checkpoint(find_latest_snapshot(run)).training_state
    assert state["cur_nimg"] == 24 and state["lod"] == 0.5  # in the second fade
