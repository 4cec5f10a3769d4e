"""Transfer learning: fine-tune from an exported NVIDIA pickle on another dataset with Freeze-D,
and clear errors when a checkpoint does not fit the requested run."""

from __future__ import annotations

import pytest
import torch

from conftest import write_shapes_dataset
from stylegan.errors import StyleGANError
from stylegan.io.checkpoint import load_checkpoint
from stylegan.io.formats import convert
from stylegan.training import find_latest_snapshot, make_config, train


def test_fine_tune_an_official_pickle_with_freeze_d(tiny_config, unlabelled_dataset, tmp_path):
    source = train(tiny_config(steps=2, cond=False), tmp_path / "source", progress=False)
    pkl = convert(find_latest_snapshot(source), tmp_path / "network.pt", to="official")
    before = load_checkpoint(find_latest_snapshot(source)).networks

    config = tiny_config(steps=3, data=str(unlabelled_dataset), freezed=2)
    run = train(config, tmp_path / "target", resume=pkl, progress=False)
    assert "networks only" in (run / "log.txt").read_text()
    ckpt = load_checkpoint(find_latest_snapshot(run))
    assert ckpt.training_state["cur_nimg"] == 12  # a fresh count: fine-tuning, not resuming
    D, D0 = ckpt.networks["D"], before["D"]
    assert D.config.freeze_layers == 2
    trainable = {name for name, _ in D.named_parameters()}
    # The 16 px D: b16.fromrgb and b16.conv0 are its first two layers; frozen as buffers.
    assert "b16.fromrgb.weight" not in trainable and "b16.conv0.weight" not in trainable
    assert "b16.conv1.weight" in trainable
    state, state0 = D.state_dict(), D0.state_dict()
    for name in ("b16.fromrgb.weight", "b16.fromrgb.bias", "b16.conv0.weight", "b16.conv0.bias"):
        assert torch.equal(state[name], state0[name]), name
    assert not torch.equal(state["b16.conv1.weight"], state0["b16.conv1.weight"])
    G, G0 = ckpt.networks["G"], before["G"]
    assert not torch.equal(G.synthesis.b16.conv1.weight, G0.synthesis.b16.conv1.weight)


def test_changing_freeze_d_on_resume_keeps_the_networks(tiny_config, tmp_path):
    run = train(tiny_config(steps=2), tmp_path, progress=False)
    resumed = train(tiny_config(steps=4, freezed=1), tmp_path, resume="latest", progress=False)
    assert resumed == run
    state = load_checkpoint(find_latest_snapshot(run)).training_state
    assert state["cur_nimg"] == 16  # optimiser state dropped, counting from the networks anew
    assert "networks only" in (run / "log.txt").read_text().split("Resuming:")[-1]


def test_checkpoints_that_do_not_fit(tiny_config, tmp_path):
    run = train(tiny_config(steps=1, cond=False), tmp_path / "a", progress=False)
    snapshot = find_latest_snapshot(run)
    big = write_shapes_dataset(tmp_path / "big", num_images=4)
    # A dataset at another resolution: say which resolution the checkpoint needs.
    from PIL import Image

    for path in big.glob("*.png"):
        Image.open(path).resize((32, 32)).save(path)
    with pytest.raises(StyleGANError, match="stylegan dataset --resolution 16"):
        train(tiny_config(steps=1, data=str(big)), tmp_path / "b", resume=snapshot, progress=False)
    with pytest.raises(StyleGANError, match="stylegan2 generator but the run asks for stylegan1"):
        train(tiny_config(steps=1, generator="stylegan1"), tmp_path / "c", resume=snapshot,
              progress=False)  # fmt: skip
    with pytest.raises(StyleGANError, match="label dimensions"):
        train(tiny_config(steps=1, cond=True), tmp_path / "d", resume=snapshot, progress=False)
    with pytest.raises(StyleGANError, match="freezed"):
        make_config("tiny", freezed=-1)
    with pytest.raises(StyleGANError, match="StyleGAN2 discriminator"):
        train(tiny_config(steps=1, generator="stylegan1", freezed=1), tmp_path / "e",
              progress=False)  # fmt: skip
