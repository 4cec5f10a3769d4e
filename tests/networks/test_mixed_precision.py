"""Mixed precision in the StyleGAN2 networks: the num_fp16_res highest blocks in fp16/bf16."""

from __future__ import annotations

import pytest
import torch

from stylegan.errors import StyleGANError
from stylegan.networks.layers import set_mixed_precision
from stylegan.networks.stylegan2 import Generator
from stylegan.networks.stylegan2_discriminator import Discriminator
from stylegan.training import make_config
from stylegan.training.start import training_precision


def _nets(architecture: str = "skip"):
    torch.manual_seed(0)
    kwargs = dict(channel_base=512, channel_max=64, num_fp16_res=2, conv_clamp=256)
    G = Generator(
        32, 0, 32, 32, 3, mapping_kwargs={"num_layers": 2}, architecture=architecture, **kwargs
    )
    D = Discriminator(0, 32, 3, architecture="resnet", **kwargs)
    return G, D


def _block_output_dtypes(net):
    """Record the dtype of each block's feature output while hooks are attached."""
    seen = {}
    hooks = [
        block.register_forward_hook(lambda m, i, o, n=name: seen.__setitem__(n, o[0].dtype))
        for name, block in net.named_modules()
        if hasattr(block, "low_precision")
    ]
    return seen, hooks


@pytest.mark.parametrize("precision, tolerance", [("fp16", 2e-3), ("bf16", 2e-2)])
@pytest.mark.parametrize("architecture", ["skip", "resnet"])
def test_low_precision_blocks_match_fp32(precision, tolerance, architecture):
    G, D = _nets(architecture)
    z = torch.randn(4, 32)
    ref_img = G(z, noise_mode="const")
    ref_logits = D(ref_img)
    set_mixed_precision(G, precision)
    set_mixed_precision(D, precision)
    seen, hooks = _block_output_dtypes(G.synthesis)
    img = G(z, noise_mode="const")
    for h in hooks:
        h.remove()
    low = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    # 32 px with num_fp16_res 2: the 16 and 32 px blocks compute low, 4 and 8 px in fp32.
    assert seen == {"b4": torch.float32, "b8": torch.float32, "b16": low, "b32": low}
    assert img.dtype == torch.float32
    scale = ref_img.abs().max()
    assert (img - ref_img).abs().max() / scale < tolerance
    assert (img - ref_img).abs().max() > 0  # it really ran in low precision
    logits = D(img)
    assert logits.dtype == torch.float32
    assert (logits - ref_logits).abs().max() < tolerance * 50 * ref_logits.abs().max()
    # force_fp32 gives the fp32 result exactly; fp32 again with set_mixed_precision(None).
    torch.testing.assert_close(G(z, noise_mode="const", force_fp32=True), ref_img, rtol=0, atol=0)
    set_mixed_precision(G, "fp32")
    torch.testing.assert_close(G(z, noise_mode="const"), ref_img, rtol=0, atol=0)


def test_gradients_are_fp32_and_finite():
    G, D = _nets()
    set_mixed_precision(G, "fp16")
    set_mixed_precision(D, "fp16")
    D(G(torch.randn(4, 32))).sum().backward()
    for name, p in list(G.named_parameters()) + list(D.named_parameters()):
        assert p.dtype == torch.float32, name
        assert p.grad is not None and p.grad.dtype == torch.float32, name
        assert torch.isfinite(p.grad).all(), name


def test_precision_choices():
    G, _ = _nets()
    with pytest.raises(StyleGANError, match="precision"):
        set_mixed_precision(G, "fp8")
    with pytest.raises(StyleGANError, match="precision"):
        make_config("tiny", precision="half")
    config = make_config("stylegan2")
    assert config.precision == "fp16" and config.num_fp16_res == 4 and config.conv_clamp == 256
    assert training_precision(config, torch.device("cpu")) == "fp32"  # CPUs train in fp32
    assert training_precision(config, torch.device("cuda")) == "fp16"
    bf16 = make_config("stylegan2", precision="bf16")
    assert training_precision(bf16, torch.device("cuda")) == "bf16"


def test_stylegan3_layers_in_low_precision():
    from stylegan.networks.stylegan3 import Generator as Generator3

    torch.manual_seed(0)
    G = Generator3(
        z_dim=8, c_dim=0, w_dim=8, img_resolution=32, img_channels=3, channel_base=128,
        channel_max=16, num_layers=4, num_critical=1, margin_size=4, num_fp16_res=1,
    )  # fmt: skip
    # The official rule: a layer is fp16 when its sampling rate * 2**num_fp16_res > resolution.
    flags = [layer.use_fp16 for layer in G.synthesis.layers()]
    assert any(flags) and not all(flags)
    z = torch.randn(2, 8)
    ref = G(z)
    set_mixed_precision(G, "fp16")
    out = G(z)
    assert out.dtype == torch.float32
    assert 0 < (out - ref).abs().max() < 2e-2 * ref.abs().max()
    torch.testing.assert_close(G(z, force_fp32=True), ref, rtol=0, atol=0)
    out.square().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in G.parameters() if p.grad is not None)


def test_a_training_step_in_bf16():
    from stylegan.training import training_step
    from stylegan.training.state import TrainingState

    G, D = _nets()
    config = make_config("tiny", mbstd_group_size=2, d_reg_interval=1, g_reg_interval=1)
    state = TrainingState.create(config, G, D)
    for net in state.networks().values():
        set_mixed_precision(net, "bf16")
    real = torch.rand(4, 3, 32, 32) * 2 - 1
    result = training_step(
        state, config, real, torch.zeros(4, 0), torch.randn(4, 4, 32), torch.zeros(4, 4, 0)
    )
    assert set(result.losses) == {"Gmain", "Greg", "Dmain", "Dreg"}
    assert all(torch.isfinite(torch.tensor(v)) for v in result.losses.values())
    assert all(n == 0 for n in result.nonfinite_grads.values())
