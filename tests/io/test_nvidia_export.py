"""``--to nvidia-pickle``: snapshots for NVIDIA's ``legacy.load_network_pkl``, and the
``--to official`` export named for what it is.

CI has no NVIDIA checkout, so the tests make a stand-in one: the file paths of the two
repositories holding class definitions that name the attributes their constructors set (the
exporter reads them with ``ast``; the text is never run). The export is read back with our safe
loader. Checked once by hand with NVIDIA's own loader on real checkouts (see the report in
docs/checkpoints.md).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from stylegan.cli import cli
from stylegan.errors import StyleGANError
from stylegan.io import safe_pickle
from stylegan.io.checkpoint import save_checkpoint
from stylegan.io.formats import convert, load_any, save_as
from stylegan.io.nvidia import networks_from_pickle
from stylegan.io.nvidia_pickle import constructor_attributes, dump, snapshot
from stylegan.io.safe_pickle import PersistentObject, safe_load
from stylegan.networks.config import DiscriminatorConfig, GeneratorConfig
from stylegan.networks.config_stylegan3 import StyleGAN3GeneratorConfig
from stylegan.networks.stylegan2 import Generator
from stylegan.networks.stylegan2_discriminator import Discriminator
from stylegan.networks.stylegan3 import Generator as AliasFreeGenerator

PLAIN = (bool, int, float, str, type(None))
OURS_ONLY = ("low_precision",)  # attributes of ours that no official constructor sets
# Lines the official constructors have that ours do not mirror as attributes: a memory-format
# flag, an optional layer set to None, and a tensor assigned inside an ``if``.
OFFICIAL_EXTRA = {
    "SynthesisBlock": ["self.channels_last = (use_fp16 and fp16_channels_last)"],
    "DiscriminatorBlock": ["self.channels_last = (use_fp16 and fp16_channels_last)"],
    "MappingNetwork": ["self.embed = FullyConnectedLayer(c_dim, w_dim) if c_dim > 0 else None"],
    "Conv2dLayer": ["if trainable:", "    self.bias = None"],
}


def standin_module(*nets: torch.nn.Module, skip: tuple[str, ...] = OURS_ONLY) -> str:
    """A module text defining each class of ``nets`` with ``self.NAME = ...`` for the plain
    attributes our modules hold (as the official constructors set them), never executed."""
    classes: dict[str, set[str]] = {}
    for net in nets:
        for module in net.modules():
            names = classes.setdefault(type(module).__name__, set())
            names.update(
                k
                for k, v in module.__dict__.items()
                if not k.startswith("_") and k != "training" and k not in skip
                if isinstance(v, PLAIN) or (isinstance(v, list) and v and isinstance(v[0], int))
            )
    lines = ["raise RuntimeError('stand-in for NVIDIA network code; never executed')", ""]
    for cls, names in classes.items():
        lines += [f"class {cls}(torch.nn.Module):", "    def __init__(self, **kwargs):"]
        lines += [f"        self.{name} = kwargs['{name}']" for name in sorted(names)]
        lines += [f"        {line}" for line in OFFICIAL_EXTRA.get(cls, [])]
        lines += ["        super().__init__()", ""]
    return "\n".join(lines)


def sg2_networks(seed: int = 0) -> dict[str, torch.nn.Module]:
    torch.manual_seed(seed)
    common = dict(img_resolution=16, img_channels=3, channel_base=256, channel_max=32)
    G = Generator.from_config(
        GeneratorConfig(z_dim=16, c_dim=0, w_dim=16, num_fp16_res=1, conv_clamp=256, **common)
    )
    D = Discriminator.from_config(DiscriminatorConfig(c_dim=0, conv_clamp=256, **common))
    G_ema = Generator.from_config(G.config)
    with torch.no_grad():  # no zero-initialised tensors, so a dropped one would show
        for net in (G, D):
            buffers = [b for n, b in net.named_buffers() if not n.endswith("resample_filter")]
            for t in [*net.parameters(), *buffers]:
                t.add_(0.1 * torch.randn_like(t))
        G_ema.load_state_dict(G.state_dict())
        G_ema.mapping.w_avg.normal_()
    return {"G": G.eval(), "D": D.eval(), "G_ema": G_ema.eval()}


def sg3_networks() -> dict[str, torch.nn.Module]:
    torch.manual_seed(1)
    cfg = StyleGAN3GeneratorConfig(
        z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3, channel_base=512,
        channel_max=32,
    )  # fmt: skip
    G = AliasFreeGenerator.from_config(cfg).eval()
    with torch.no_grad():
        G.mapping.w_avg.normal_()
    D = sg2_networks()["D"]
    return {"G": G, "D": D, "G_ema": G}


def fake_checkout(root: Path, repository: str, nets: dict[str, torch.nn.Module]) -> Path:
    sg2 = [n for n in nets.values() if not isinstance(n, AliasFreeGenerator)]
    sg3 = [n for n in nets.values() if isinstance(n, AliasFreeGenerator)]
    (root / "training").mkdir(parents=True)
    if repository == "stylegan3":
        (root / "training" / "networks_stylegan2.py").write_text(standin_module(*sg2))
        (root / "training" / "networks_stylegan3.py").write_text(standin_module(*sg3))
    else:
        # stylegan2-ada-pytorch predates fused_modconv_default (and the loader tells by it).
        ada = standin_module(*sg2, skip=(*OURS_ONLY, "fused_modconv_default"))
        (root / "training" / "networks.py").write_text(ada)
    return root


def images(G: torch.nn.Module) -> torch.Tensor:
    z = torch.randn([3, G.z_dim], generator=torch.Generator().manual_seed(5))
    return G(z, truncation_psi=0.7, noise_mode="const")


def assert_same(
    nets: dict[str, torch.nn.Module], back: dict[str, torch.nn.Module], ada: bool = False
) -> None:
    assert sorted(back) == ["D", "G", "G_ema"]
    for key, net in nets.items():
        config = net.config
        if ada and key != "D":  # ADA has no such argument and fuses at inference (same numbers)
            config = config.replace(fused_modconv_default="inference_only")
        assert type(back[key]) is type(net) and back[key].config == config, key
        ours, theirs = net.state_dict(), back[key].state_dict()
        assert list(ours) == list(theirs)
        assert all(torch.equal(ours[k], theirs[k]) for k in ours), key
    for key in ("G", "G_ema"):
        assert torch.equal(images(back[key]), images(nets[key])), key
    img = images(nets["G_ema"])
    assert torch.equal(back["D"](img), nets["D"](img))


@pytest.mark.parametrize("repository", ["stylegan3", "stylegan2-ada"])
def test_stylegan2_snapshot_reads_back_with_the_same_tensors_and_images(tmp_path, repository):
    nets = sg2_networks()
    checkout = fake_checkout(tmp_path / "checkout", repository, nets)
    out = save_as(tmp_path / "network.pkl", nets, to="nvidia-pickle", nvidia_src=checkout)
    data = safe_load(out)
    assert list(data) == ["training_set_kwargs", "G", "D", "G_ema", "augment_pipe"]
    back, meta = networks_from_pickle(data)
    assert meta["source"]["repository"] == repository
    assert_same(nets, back, ada=repository == "stylegan2-ada")

    G = data["G_ema"]
    rel = "networks_stylegan2.py" if repository == "stylegan3" else "networks.py"
    assert isinstance(G, PersistentObject) and G.class_name == "Generator"
    assert G.module_src == (checkout / "training" / rel).read_text()
    nested = "synthesis_kwargs" in G.init_kwargs
    assert nested == (repository == "stylegan2-ada")
    # The state is their __dict__: plain attributes their forward reads, rule lines included.
    assert (G.state["z_dim"], G.state["num_ws"], G.state["img_resolution"]) == (16, 6, 16)
    block = G.children["synthesis"].children["b16"]
    assert block.state["channels_last"] is False and block.state["architecture"] == "skip"
    assert G.children["mapping"].state["embed"] is None
    skip = data["D"].children["b16"].children["skip"]
    assert "bias" in skip.state and skip.state["bias"] is None  # bias=False: set in an `if`
    assert "low_precision" not in block.state  # ours only; their code never sets it
    params = G.children["synthesis"].children["b16"].children["conv1"].state["_parameters"]
    assert not params["weight"].requires_grad  # as their snapshots: requires_grad_(False)


def test_pickle_names_only_their_globals_and_torch(tmp_path):
    nets = sg2_networks()
    checkout = fake_checkout(tmp_path / "checkout", "stylegan3", nets)
    path = tmp_path / "network.pkl"
    dump(snapshot(nets, checkout, {"path": "faces.zip", "resolution": 16}), path)
    named: set[str] = set()

    class Recording(safe_pickle._SafeUnpickler):
        def find_class(self, module: str, name: str):
            named.add(f"{module}.{name}")
            return super().find_class(module, name)

    data = path.read_bytes()
    Recording(data, io.BytesIO(data)).load()
    # Their two names, the containers, and torch's own tensor globals; nothing of ours.
    assert named == {
        "torch_utils.persistence._reconstruct_persistent_obj",
        "dnnlib.util.EasyDict",
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch.storage._load_from_bytes",
    }
    assert safe_load(path)["training_set_kwargs"] == {"path": "faces.zip", "resolution": 16}


def test_stylegan3_snapshot_embeds_both_modules(tmp_path):
    nets = sg3_networks()
    checkout = fake_checkout(tmp_path / "checkout", "stylegan3", nets)
    out = save_as(tmp_path / "network.pkl", nets, to="nvidia-pickle", nvidia_src=checkout)
    data = safe_load(out)
    assert data["G_ema"].module_src == (checkout / "training/networks_stylegan3.py").read_text()
    assert data["D"].module_src == (checkout / "training/networks_stylegan2.py").read_text()
    back, meta = networks_from_pickle(data)
    assert meta["source"]["architecture"] == "stylegan3"
    assert_same(nets, back)
    with pytest.raises(StyleGANError, match="stylegan2-ada has no class for.*NVlabs/stylegan3"):
        snapshot(nets, fake_checkout(tmp_path / "ada", "stylegan2-ada", sg2_networks()))


def test_constructor_attributes_reads_kinds_from_source():
    src = (
        "class A:\n    def __init__(self, c=0):\n        self.x = self.y = 1\n"
        "        self.e = B() if c else None\n        if c:\n            self.z = 2\n"
        "        for i in range(2):\n            setattr(self, f'fc{i}', i)\n"
    )
    assert constructor_attributes(src) == {
        "A": {"x": "required", "y": "required", "e": "optional", "z": "conditional"}
    }


def test_export_errors_say_what_to_do(tmp_path):
    nets = sg2_networks()
    checkout = fake_checkout(tmp_path / "checkout", "stylegan3", nets)
    with pytest.raises(StyleGANError, match="needs G, D and G_ema.*lacks D"):
        snapshot({"G": nets["G"], "G_ema": nets["G_ema"]}, checkout)
    with pytest.raises(StyleGANError, match="neither training/networks_stylegan2.py"):
        snapshot(nets, tmp_path)
    with pytest.raises(StyleGANError, match="is not a folder"):
        snapshot(nets, tmp_path / "nowhere")
    with pytest.raises(StyleGANError, match="give --nvidia-src"):
        save_as(tmp_path / "n.pkl", nets, to="nvidia-pickle")
    # A checkout whose class sets an attribute ours lacks is refused, not half-written.
    src = checkout / "training" / "networks_stylegan2.py"
    src.write_text(src.read_text().replace("self.is_last", "self.is_very_last"))
    with pytest.raises(StyleGANError, match="SynthesisBlock .* sets 'is_very_last'"):
        snapshot(nets, checkout)
    src.write_text(src.read_text().replace("class ToRGBLayer", "class ToRGB"))
    with pytest.raises(StyleGANError, match="defines no class ToRGBLayer"):
        snapshot(nets, checkout)


def test_official_export_is_a_pt_and_refuses_pkl(tmp_path):
    nets = sg2_networks()
    with pytest.raises(StyleGANError, match="name it .pt.*--to nvidia-pickle --nvidia-src"):
        save_as(tmp_path / "network.pkl", nets, to="official")
    assert not (tmp_path / "network.pkl").exists()
    out = save_as(tmp_path / "network.pt", nets, to="official")
    assert sorted(torch.load(out, weights_only=True)["state_dicts"]) == ["D", "G", "G_ema"]


def test_cli_converts_a_checkpoint_to_an_nvidia_pickle(tmp_path):
    nets = sg2_networks()
    checkout = fake_checkout(tmp_path / "checkout", "stylegan3", nets)
    ckpt = save_checkpoint(tmp_path / "ours", nets)
    out = tmp_path / "network.pkl"
    args = ["convert", str(ckpt), str(out), "--to", "nvidia-pickle", "--nvidia-src", str(checkout)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert f"wrote {out} (nvidia-pickle)" in result.output
    assert_same(nets, load_any(out).networks)
    result = CliRunner().invoke(
        cli, ["convert", str(ckpt), str(tmp_path / "x.pkl"), "--to", "official"]
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "nvidia-pickle" in lines[0]
    conversion = convert(ckpt, tmp_path / "again.pkl", to="nvidia-pickle", nvidia_src=checkout)
    assert conversion.max_abs_difference is None and Path(conversion) == tmp_path / "again.pkl"
