"""Presets mirror NVIDIA's cfg_specs; every field can be overridden; bad settings fail early."""

from __future__ import annotations

import json

import pytest

from stylegan.errors import StyleGANError
from stylegan.training import PRESETS, TrainingConfig, make_config
from stylegan.training.presets import auto_settings


def test_presets_table_is_complete():
    assert set(PRESETS) == {
        "auto",
        "stylegan2",
        "paper256",
        "paper512",
        "paper1024",
        "cifar",
        "stylegan3-t",
        "stylegan3-r",
        "stylegan1",
        "stylegan1-small",
        "tiny",
        "small",
    }
    for name in PRESETS:
        config = make_config(name, resolution=64 if name == "auto" else None)
        assert config.preset == name


def test_stylegan3_presets_follow_the_official_train_py():
    t, r = make_config("stylegan3-t"), make_config("stylegan3-r")
    for c in (t, r):
        assert (c.map_depth, c.pl_weight, c.style_mixing_prob) == (2, 0.0, 0.0)
        assert (c.g_lr, c.d_lr, c.ema_rampup) == (0.0025, 0.002, 0.05)
    assert (t.generator, t.blur_init_sigma) == ("stylegan3-t", 0.0)
    assert (r.generator, r.blur_init_sigma, r.blur_fade_kimg) == ("stylegan3-r", 10.0, 200.0)
    with pytest.raises(StyleGANError, match="unknown generator"):
        make_config("tiny", generator="stylegan4")


# (preset, batch, mbstd group, channel_base, lr, gamma, ema kimg, ramp, map depth, kimg): the
# cfg_specs rows of stylegan2-ada-pytorch's train.py (anchors.md 3.9).
OFFICIAL = [
    ("stylegan2", 32, 4, 32768, 0.002, 10, 10, None, 8, 25000),
    ("paper256", 64, 8, 16384, 0.0025, 1, 20, None, 8, 25000),
    ("paper512", 64, 8, 32768, 0.0025, 0.5, 20, None, 8, 25000),
    ("paper1024", 32, 4, 32768, 0.002, 2, 10, None, 8, 25000),
    ("cifar", 64, 32, 32768, 0.0025, 0.01, 500, 0.05, 2, 100000),
]


@pytest.mark.parametrize("name,batch,mbstd,cbase,lr,gamma,ema,ramp,depth,kimg", OFFICIAL)
def test_official_presets(name, batch, mbstd, cbase, lr, gamma, ema, ramp, depth, kimg):
    c = make_config(name)
    assert (c.batch_size, c.mbstd_group_size, c.channel_base) == (batch, mbstd, cbase)
    assert (c.g_lr, c.d_lr, c.r1_gamma, c.ema_kimg) == (lr, lr, gamma, ema)
    assert (c.ema_rampup, c.map_depth, c.total_kimg) == (ramp, depth, kimg)
    assert c.channel_max == 512 and c.num_fp16_res == 4 and c.conv_clamp == 256
    assert c.adam_betas == (0.0, 0.99) and c.adam_eps == 1e-8
    assert (c.g_reg_interval, c.d_reg_interval) == (4, 16)
    assert (c.pl_batch_shrink, c.pl_decay) == (2, 0.01)


def test_stylegan2_regularisation_and_cifar_exceptions():
    sg2 = make_config("stylegan2")
    assert (sg2.pl_weight, sg2.style_mixing_prob, sg2.d_architecture) == (2.0, 0.9, "resnet")
    cifar = make_config("cifar")
    assert (cifar.pl_weight, cifar.style_mixing_prob, cifar.d_architecture) == (0, 0, "orig")


@pytest.mark.parametrize(
    "res,batch,mbstd,cbase,lr,gamma,ema",
    [
        (32, 32, 4, 16384, 0.0025, 0.0002 * 32**2 / 32, 10.0),
        (256, 16, 4, 16384, 0.0025, 0.0002 * 256**2 / 16, 5.0),
        (512, 8, 4, 32768, 0.0025, 0.0002 * 512**2 / 8, 2.5),
        (1024, 4, 4, 32768, 0.002, 0.0002 * 1024**2 / 4, 1.25),
    ],
)
def test_auto_derives_from_resolution(res, batch, mbstd, cbase, lr, gamma, ema):
    c = make_config("auto", resolution=res)
    assert (c.batch_size, c.mbstd_group_size, c.channel_base) == (batch, mbstd, cbase)
    assert c.g_lr == c.d_lr == lr
    assert c.r1_gamma == pytest.approx(gamma) and c.ema_kimg == pytest.approx(ema)
    assert (c.ema_rampup, c.map_depth, c.resolution) == (0.05, 2, res)
    # With 8 GPUs ADA's formula gives batch 64 and group 4 at 256 px.
    assert auto_settings(256, num_gpus=8)["batch_size"] == 64


def test_auto_needs_a_resolution():
    with pytest.raises(StyleGANError, match="resolution"):
        make_config("auto")


def test_cpu_presets_are_small():
    tiny, small = make_config("tiny"), make_config("small")
    assert tiny.channel_max <= 64 and tiny.batch_size == 4 and tiny.map_depth == 2
    assert small.channel_max <= 256 and 16 <= small.batch_size <= 32
    assert small.style_mixing_prob == 0.9 and small.pl_weight == 2  # still full StyleGAN2


def test_every_field_can_be_overridden():
    c = make_config("paper256", batch_size=16, r1_gamma=3.5, g_lr=0.001, keep_snapshots=9)
    assert (c.batch_size, c.r1_gamma, c.g_lr, c.keep_snapshots) == (16, 3.5, 0.001, 9)
    assert c.d_lr == 0.0025  # untouched fields keep the preset's value
    assert c.replace(total_kimg=7).total_kimg == 7


def test_unknown_preset_and_field():
    with pytest.raises(StyleGANError, match="unknown preset"):
        make_config("stylegan9")
    with pytest.raises(StyleGANError, match="unknown training option"):
        make_config("tiny", batchsize=4)


def test_batch_must_divide_into_mbstd_groups():
    with pytest.raises(StyleGANError, match="not divisible by the minibatch-std group"):
        make_config("stylegan2", batch_size=6)
    make_config("stylegan2", batch_size=6, mbstd_group_size=2)


@pytest.mark.parametrize(
    "field,value",
    [
        ("style_mixing_prob", 1.5),
        ("g_lr", -1.0),
        ("d_reg_interval", 0),
        ("map_depth", 0),
        ("metrics", ("fid50",)),
        ("metrics_ticks", 0),
        ("keep_snapshots", 0),
        ("d_architecture", "deep"),
    ],
)
def test_invalid_values(field, value):
    with pytest.raises(StyleGANError):
        make_config("tiny", **{field: value})


def test_json_round_trip():
    c = make_config("small", grid_size=(3, 2), data="x.zip")
    again = TrainingConfig.from_dict(json.loads(json.dumps(c.to_dict())))
    assert again == c
    assert again.adam_betas == (0.0, 0.99) and again.grid_size == (3, 2)


def test_lazy_ratios():
    c = make_config("stylegan2")
    assert c.g_lazy_ratio == 4 / 5 and c.d_lazy_ratio == 16 / 17
    assert c.replace(g_reg_interval=None).g_lazy_ratio == 1.0


def test_stylegan3_gamma_follows_the_resolution_unless_given():
    assert make_config("stylegan3-t", resolution=256).r1_gamma == 2.0
    assert make_config("stylegan3-r", resolution=512).r1_gamma == 8.2
    assert make_config("stylegan3-t", resolution=1024).r1_gamma == 32.0
    assert make_config("stylegan3-t", resolution=64).r1_gamma == pytest.approx(2.0 / 16)
    assert make_config("stylegan3-t", resolution=512, r1_gamma=1.0).r1_gamma == 1.0
    assert make_config("stylegan3-t").r1_gamma == 8.2  # no resolution known: the AFHQ example


def test_bad_values_fail_where_the_config_is_made():
    good = make_config("tiny").to_dict()
    with pytest.raises(StyleGANError, match="batch_size must be an integer"):
        TrainingConfig.from_dict({**good, "batch_size": "four"})
    with pytest.raises(StyleGANError, match="r1_gamma must be a finite number"):
        TrainingConfig.from_dict({**good, "r1_gamma": float("nan")})
    with pytest.raises(StyleGANError, match="not divisible"):
        make_config("tiny").replace(batch_size=6, mbstd_group_size=4)
    with pytest.raises(StyleGANError, match="unknown loss"):
        TrainingConfig(loss="hinge")
    with pytest.raises(StyleGANError, match="mirror must be true or false"):
        TrainingConfig(mirror="yes")
