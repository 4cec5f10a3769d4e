"""Network configs: table-driven official-kwargs translators, and checks where configs are made."""

import json
import random

import pytest
import torch
from click.testing import CliRunner

from stylegan.errors import StyleGANError
from stylegan.io import checkpoint
from stylegan.networks import config as cfgmod
from stylegan.networks import config_checks, config_stylegan3
from stylegan.networks.config import (
    DiscriminatorConfig,
    GeneratorConfig,
    MappingConfig,
)
from stylegan.networks.config_stylegan1 import (
    StyleGAN1DiscriminatorConfig,
    StyleGAN1GeneratorConfig,
)
from stylegan.networks.config_stylegan3 import StyleGAN3GeneratorConfig
from stylegan.networks.presets import create

TOP = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3)


def _random_configs(seed: int, n: int):
    """Many valid configs of every generation, with fields off their defaults."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        top = dict(
            z_dim=rng.choice([1, 8]),
            c_dim=rng.choice([0, 3]),
            w_dim=rng.choice([8, 16]),
            img_resolution=rng.choice([8, 16, 32]),
            img_channels=rng.choice([1, 3]),
        )
        mapping = MappingConfig(
            num_layers=rng.choice([0, 1, 2, 8]),
            embed_features=rng.choice([None, 8]),
            layer_features=rng.choice([None, 4]),
            activation=rng.choice(["lrelu", "relu"]),
            lr_multiplier=rng.choice([0.01, 1.0]),
            w_avg_beta=rng.choice([None, 0.995]),
        )
        out.append(
            GeneratorConfig(
                **top,
                mapping=mapping,
                channel_base=rng.choice([256, 32768]),
                channel_max=rng.choice([16, 512]),
                num_fp16_res=rng.choice([0, 4]),
                conv_clamp=rng.choice([None, 256, 10.5]),
                architecture=rng.choice(config_checks.ARCHITECTURES),
                resample_filter=rng.choice([(1, 3, 3, 1), (1, 2, 1)]),
                use_noise=rng.choice([True, False]),
                kernel_size=rng.choice([1, 3]),
                fused_modconv_default=rng.choice(cfgmod.FUSED_MODCONV_CHOICES),
            )
        )
        out.append(
            DiscriminatorConfig(
                c_dim=top["c_dim"],
                img_resolution=top["img_resolution"],
                img_channels=top["img_channels"],
                architecture=rng.choice(config_checks.ARCHITECTURES),
                channel_max=rng.choice([16, 512]),
                conv_clamp=rng.choice([None, 256]),
                cmap_dim=rng.choice([None, 8]),
                activation=rng.choice(["lrelu", "relu"]),
                freeze_layers=rng.choice([0, 2]),
                mbstd_group_size=rng.choice([None, 2]),
                mbstd_num_channels=rng.choice([0, 1, 2]),
                mapping=mapping.replace(w_avg_beta=None),
            )
        )
        out.append(
            StyleGAN3GeneratorConfig(
                **top,
                mapping=MappingConfig(
                    num_layers=rng.choice([1, 2]), lr_multiplier=rng.choice([0.01, 0.1])
                ),
                num_layers=rng.choice([4, 14]),
                num_critical=rng.choice([0, 2]),
                first_cutoff=rng.choice([2, 1.5]),
                margin_size=rng.choice([0, 10]),
                conv_kernel=rng.choice([1, 3]),
                use_radial_filters=rng.choice([True, False]),
                magnitude_ema_beta=0.5 ** (rng.choice([4, 32]) / 20e3),
            )
        )
        out.append(
            StyleGAN1GeneratorConfig(
                **top,
                mapping=MappingConfig(
                    num_layers=rng.choice([1, 8]),
                    layer_features=rng.choice([None, 4]),
                    w_avg_beta=rng.choice([0.995, 0.9]),
                ),
                channel_max=rng.choice([16, 512]),
                use_noise=rng.choice([True, False]),
                resample_filter=rng.choice([(1, 2, 1), ()]),
                truncation_psi=rng.choice([0.7, 1.0]),
                truncation_cutoff=rng.choice([None, 8]),
            )
        )
        out.append(
            StyleGAN1DiscriminatorConfig(
                c_dim=top["c_dim"],
                img_resolution=top["img_resolution"],
                img_channels=top["img_channels"],
                channel_max=rng.choice([16, 512]),
                mbstd_group_size=rng.choice([None, 4]),
                mbstd_num_channels=rng.choice([0, 1]),
            )
        )
    return out


@pytest.mark.parametrize("config", _random_configs(seed=7, n=40), ids=lambda c: type(c).__name__)
def test_translators_round_trip(config):
    cls = type(config)
    kwargs = config.to_init_kwargs()
    assert cls.from_init_kwargs(kwargs) == config
    # JSON in between (lists instead of tuples) changes nothing either way.
    assert cls.from_init_kwargs(json.loads(json.dumps(kwargs))) == config
    assert cls.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_exported_layout_is_the_official_one():
    d = DiscriminatorConfig(c_dim=2, img_resolution=16, img_channels=3, activation="relu")
    kwargs = d.to_init_kwargs()
    assert list(kwargs) == [
        *("c_dim", "img_resolution", "img_channels", "architecture", "channel_base"),
        *("channel_max", "num_fp16_res", "conv_clamp", "cmap_dim"),
        *("block_kwargs", "mapping_kwargs", "epilogue_kwargs"),
    ]
    assert kwargs["block_kwargs"] == {
        "activation": "relu",
        "resample_filter": [1, 3, 3, 1],
        "freeze_layers": 0,
    }
    assert kwargs["epilogue_kwargs"] == {
        "mbstd_group_size": 4,
        "mbstd_num_channels": 1,
        "activation": "relu",
    }
    assert "w_avg_beta" not in kwargs["mapping_kwargs"]
    g = StyleGAN3GeneratorConfig(**TOP).to_init_kwargs()
    assert g["mapping_kwargs"] == {"num_layers": 2, "lr_multiplier": 0.01, "w_avg_beta": 0.998}
    assert list(g)[:6] == [*TOP, "mapping_kwargs"]
    assert MappingConfig().to_init_kwargs() == MappingConfig().to_dict()


def test_translator_rules_for_omitted_and_shared_arguments():
    # Omitted arguments take the config's defaults, or the named repository's.
    assert StyleGAN3GeneratorConfig.from_init_kwargs(TOP).mapping.num_layers == 2
    assert StyleGAN1GeneratorConfig.from_init_kwargs(TOP).mapping.w_avg_beta == 0.995
    ada = GeneratorConfig.from_init_kwargs(TOP, defaults="stylegan2-ada")
    assert ada.mapping.w_avg_beta == 0.995 and ada.conv_clamp is None
    # One field read from two paths: given once (the other at its default) they disagree.
    d = dict(c_dim=0, img_resolution=16, img_channels=3)
    same = dict(block_kwargs={"activation": "relu"}, epilogue_kwargs={"activation": "relu"})
    assert DiscriminatorConfig.from_init_kwargs({**d, **same}).activation == "relu"
    with pytest.raises(StyleGANError, match="different activations"):
        DiscriminatorConfig.from_init_kwargs({**d, "epilogue_kwargs": {"activation": "relu"}})
    # The caller's dict is left alone.
    kwargs = {**TOP, "mapping_kwargs": {"num_layers": 3}, "channels_last": True}
    GeneratorConfig.from_init_kwargs(kwargs)
    assert kwargs["mapping_kwargs"] == {"num_layers": 3} and kwargs["channels_last"]


G_BASE = GeneratorConfig(**TOP).to_dict()
BAD_GENERATOR_VALUES = [
    (dict(z_dim=32.0), "z_dim must be a whole number, got 32.0 (float)"),
    (dict(z_dim=True), "z_dim must be a whole number"),
    (dict(z_dim=0), "z_dim >= 1 or c_dim >= 1"),
    (dict(z_dim="16"), "z_dim must be a whole number"),
    (dict(mapping=[1, 2]), "MappingConfig needs a dict, got list"),
    (dict(mapping={"num_layers": 2.5}), "num_layers must be a whole number"),
    (dict(mapping={"lr_multiplier": 0}), "lr_multiplier must be > 0"),
    (dict(mapping={"w_avg_beta": 2}), "w_avg_beta must lie in"),
    (dict(mapping={"activation": "gelu"}), "unknown activation 'gelu'"),
    (dict(z_dim=2**26, w_dim=512), "z_dim=67108864 is too large"),
    (dict(img_resolution=2**20), "img_resolution"),
    (dict(img_resolution=2**20, channel_base=2**21), "img_resolution=1048576 is too large"),
    (dict(channel_base=2**30, channel_max=2**20), "channel_base=.*, channel_max=.* are too"),
    (dict(conv_clamp=-1), "conv_clamp must be null"),
    (dict(conv_clamp=0), "conv_clamp must be null"),
    (dict(conv_clamp=float("nan")), "conv_clamp must be a finite number"),
    (dict(architecture="dense"), "unknown architecture 'dense'"),
    (dict(img_resolution=100), "power of two"),
    (dict(img_resolution="64"), "power of two"),
    (dict(num_fp16_res=-1), "num_fp16_res must be >= 0"),
    (dict(resample_filter=["a"]), "resample_filter must be a list of numbers"),
    (dict(use_noise="yes"), "use_noise must be true or false"),
    (dict(kernel_size=0), "kernel_size must be >= 1"),
]


@pytest.mark.parametrize("change, message", BAD_GENERATOR_VALUES)
def test_bad_generator_configs_fail_where_they_are_made(change, message):
    with pytest.raises(StyleGANError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GeneratorConfig.from_dict({**G_BASE, **change})


@pytest.mark.parametrize(
    "cls, data, message",
    [
        (DiscriminatorConfig, dict(conv_clamp=-1), "conv_clamp"),
        (DiscriminatorConfig, dict(channel_base=2**30, channel_max=2**16), "too large"),
        (DiscriminatorConfig, dict(mbstd_group_size=0), "mbstd_group_size must be >= 1"),
        (DiscriminatorConfig, dict(freeze_layers=-2), "freeze_layers must be >= 0"),
        (DiscriminatorConfig, dict(img_channels=2.0), "img_channels must be a whole number"),
        (StyleGAN3GeneratorConfig, dict(TOP, num_layers=10**6), "num_layers=1000000"),
        (StyleGAN3GeneratorConfig, dict(TOP, conv_clamp=-1), "conv_clamp"),
        (StyleGAN3GeneratorConfig, dict(TOP, first_cutoff=float("inf")), "finite"),
        (StyleGAN3GeneratorConfig, dict(TOP, z_dim=0), "z_dim >= 1 or c_dim >= 1"),
        (StyleGAN1GeneratorConfig, dict(TOP, w_dim=2**22), "w_dim=4194304 is too large"),
        (StyleGAN1GeneratorConfig, dict(TOP, truncation_psi="0.7"), "truncation_psi"),
        (StyleGAN1DiscriminatorConfig, dict(channel_base=2**30, channel_max=2**16), "too large"),
    ],
)
def test_bad_configs_of_every_generation(cls, data, message):
    base = {"c_dim": 0, "img_resolution": 16, "img_channels": 3}
    with pytest.raises(StyleGANError, match=message):
        cls.from_dict({**base, **data})


def test_official_kwargs_of_the_wrong_shape_are_user_errors():
    with pytest.raises(StyleGANError, match="mapping_kwargs must be a dict"):
        GeneratorConfig.from_init_kwargs({**TOP, "mapping_kwargs": [8]})
    with pytest.raises(StyleGANError, match="synthesis_kwargs must be a dict"):
        GeneratorConfig.from_init_kwargs({**TOP, "synthesis_kwargs": "skip"})
    with pytest.raises(StyleGANError, match="block_kwargs must be a dict"):
        DiscriminatorConfig.from_init_kwargs(
            dict(c_dim=0, img_resolution=16, img_channels=3, block_kwargs=3)
        )
    with pytest.raises(StyleGANError, match="arguments must be a dict"):
        StyleGAN3GeneratorConfig.from_init_kwargs([1, 2])


def test_numpy_scalars_become_python_numbers():
    np = pytest.importorskip("numpy")
    c = GeneratorConfig(**{**TOP, "z_dim": np.int64(16)}, conv_clamp=np.float32(256))
    assert type(c.z_dim) is int and type(c.conv_clamp) is float
    json.dumps(c.to_dict())


def test_every_preset_and_official_size_is_accepted():
    for name in ("paper1024", "stylegan3-r", "stylegan1"):
        with torch.device("meta"):
            net = create(name)
        assert net.config.img_resolution == 1024
    r = StyleGAN3GeneratorConfig(
        **{**TOP, "img_resolution": 1024},
        channel_base=65536,
        channel_max=1024,
        conv_kernel=1,
        use_radial_filters=True,
    )
    assert config_stylegan3._stylegan3_size(r) < config_checks.MAX_NETWORK_SIZE / 10


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    G, D = create("tiny", img_resolution=8), create("tiny", net="D", img_resolution=8)
    return checkpoint.save_checkpoint(tmp_path / "ckpt", {"G_ema": G, "D": D})


@pytest.mark.parametrize(
    "net, change, message",
    [
        ("G_ema", dict(z_dim=32.0), "z_dim must be a whole number"),
        ("G_ema", dict(z_dim=2**27), "z_dim=134217728 is too large"),
        ("G_ema", dict(channel_base=2**30, channel_max=2**20), "too large"),
        ("G_ema", dict(mapping=[8]), "MappingConfig needs a dict"),
        ("G_ema", dict(conv_clamp=-1), "conv_clamp must be null"),
        ("G_ema", dict(architecture="unet"), "unknown architecture"),
        ("D", dict(img_resolution=12), "power of two"),
        ("D", dict(channel_base=2**30, channel_max=2**16), "too large"),
    ],
)
def test_hostile_config_json_fails_before_allocating(saved, monkeypatch, net, change, message):
    path = saved / checkpoint.CONFIG_FILE
    doc = json.loads(path.read_text())
    doc["networks"][net]["config"].update(change)
    path.write_text(json.dumps(doc))

    def no_allocation(*args, **kwargs):
        raise AssertionError("a network was built from a config that should have been refused")

    from stylegan.networks import stylegan2, stylegan2_discriminator

    monkeypatch.setattr(stylegan2.SynthesisNetwork, "__init__", no_allocation)
    monkeypatch.setattr(stylegan2_discriminator.DiscriminatorBlock, "__init__", no_allocation)
    with pytest.raises(StyleGANError, match=message) as err:
        checkpoint.load_checkpoint(saved, nets=[net])
    assert "\n" not in str(err.value)

    from stylegan.cli import cli

    args = ["generate", "--network", str(saved), "--seeds", "0", "--outdir", str(saved / "out")]
    result = CliRunner().invoke(cli, args)
    if net == "G_ema":
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and lines[-1].startswith("error: "), result.output
        assert message.split("=")[0] in lines[-1] and "Traceback" not in result.output
