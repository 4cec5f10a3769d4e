"""Our domain CLIP: its heads, the contrastive loss, training, resuming, saving and loading."""

from __future__ import annotations

import pytest
import torch
from clip_shapes import COLOURS, draw

from stylegan.clip import load_clip
from stylegan.clip import train as clip_train
from stylegan.clip.domain import DomainCLIP, is_domain_clip, load_domain_clip, save_domain_clip
from stylegan.clip.train import (
    CLIPTrainingConfig,
    CLIPTrainingInterrupted,
    contrastive_loss,
    drop_words,
    train_clip,
)
from stylegan.errors import StyleGANError
from stylegan.io.checkpoint import load_checkpoint, save_checkpoint
from stylegan.networks.clip import CLIPHeads, TextImageModel

pytestmark = pytest.mark.usefixtures("one_thread_module")

SMALL_HEADS = dict(embed_dim=32, image_hidden=64, text_width=32, text_layers=1, text_heads=2)


class _StopAt:
    """A stop flag that reads as SIGTERM from its ``n``-th look on (one look per step)."""

    def __init__(self, n):
        self.n, self.looks = n, 0

    @property
    def requested(self):
        self.looks += 1
        return "SIGTERM" if self.looks >= self.n else None


def _config(**changes):
    settings = dict(
        steps=40, batch_size=10, lr=3e-3, views=2, holdout=0.0, image_size=64,
        heads=SMALL_HEADS, snapshot_every=20,
    )  # fmt: skip
    return CLIPTrainingConfig(**{**settings, **changes})


def test_heads_give_unit_vectors_and_ignore_padding():
    torch.manual_seed(0)
    heads = CLIPHeads(feature_dim=20, vocab_size=10, **SMALL_HEADS).eval()
    img = heads.encode_features(torch.randn(3, 20))
    ids = torch.tensor([[2, 3, 0, 0], [4, 0, 0, 0]])
    txt = heads.encode_tokens(ids)
    assert img.shape == (3, 32) and txt.shape == (2, 32)
    assert torch.allclose(img.norm(dim=1), torch.ones(3)) and torch.allclose(
        txt.norm(dim=1), torch.ones(2)
    )
    assert torch.allclose(
        heads.encode_tokens(ids[:, :2]), txt, atol=1e-6
    )  # padding changes nothing
    assert not torch.allclose(txt[0], heads.encode_tokens(torch.tensor([[3, 2]]))[0])  # order does
    assert float(heads.scale().detach()) == pytest.approx(1 / 0.07, rel=1e-5)
    with pytest.raises(StyleGANError, match="word ids"):
        heads.encode_tokens(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(StyleGANError, match="multiple of text_heads"):
        CLIPHeads(feature_dim=20, vocab_size=10, text_width=30, text_heads=4)


def test_heads_round_trip_through_our_checkpoint(tmp_path):
    heads = CLIPHeads(feature_dim=20, vocab_size=10, **SMALL_HEADS)
    path = save_checkpoint(tmp_path / "h.safetensors", {"clip": heads})
    again = load_checkpoint(path).networks["clip"]
    assert isinstance(again, CLIPHeads) and again.config == heads.config
    for (k, a), (_, b) in zip(heads.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k


def test_the_contrastive_loss_rewards_alignment_and_counts_every_positive():
    gen = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(6, 8, generator=gen), dim=1)
    eye = torch.eye(6, dtype=torch.bool)
    scale = torch.tensor(10.0)
    aligned = contrastive_loss(x, x, eye, scale)
    shuffled = contrastive_loss(x, x[torch.tensor([1, 2, 3, 4, 5, 0])], eye, scale)
    assert float(aligned) < float(shuffled)
    # Two images sharing one text (rows 0 and 1 both "red"): counting both as right lowers the
    # loss of the duplicate pair compared with calling one of them a negative.
    texts = x.clone()
    texts[1] = texts[0]
    both = eye.clone()
    both[0, 1] = both[1, 0] = True
    assert float(contrastive_loss(x, texts, both, scale)) < float(
        contrastive_loss(x, texts, eye, scale)
    )


def test_word_dropout_keeps_one_word_and_packs_left():
    ids = torch.tensor([[5, 6, 7, 0], [8, 0, 0, 0]])
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        out = drop_words(ids, 0.6, gen)
        assert ((out != 0).sum(1) >= 1).all()
        for row, orig in zip(out.tolist(), ids.tolist()):
            words = [w for w in row if w]
            assert row[: len(words)] == words  # packed left
            assert all(w in orig for w in words) and words == sorted(words, key=orig.index)
    assert torch.equal(drop_words(ids, 0.0, gen), ids[:, :3])


def test_training_learns_the_captions_and_resumes_exactly(shapes_data, tmp_path):
    data, captions = shapes_data
    full = train_clip(data, captions, tmp_path / "full", config=_config(), progress=False)
    assert full.step == 40 and full.heldout is None
    assert full.train.top1 >= 0.75  # 12 images, chance 8 %
    assert isinstance(full.model, TextImageModel) and isinstance(full.model, DomainCLIP)
    # Stopped (as by SIGTERM) after step 17, resumed to 40: the same weights. The features
    # come from the cache of the first run: no image is read through the backbone again.
    with pytest.raises(CLIPTrainingInterrupted) as stopped:
        train_clip(
            data, captions, tmp_path / "half", config=_config(), progress=False, stop=_StopAt(17)
        )
    assert stopped.value.exit_code == 143 and "--resume" in str(stopped.value)
    assert (
        load_domain_clip(tmp_path / "half" / "clip", training_state=True)[1].training_state["step"]
        == 17
    )
    cache = tmp_path / "half" / clip_train.FEATURES_FILE
    assert cache.is_file()

    def no_recompute(*args, **kwargs):
        raise AssertionError("features were computed again")

    original = clip_train.image_views
    clip_train.image_views = no_recompute
    try:
        resumed = train_clip(
            data, captions, tmp_path / "half", config=_config(), resume=True, progress=False
        )
    finally:
        clip_train.image_views = original
    assert resumed.step == 40
    for (k, a), (_, b) in zip(
        full.model.heads.state_dict().items(), resumed.model.heads.state_dict().items()
    ):
        assert torch.allclose(a, b, atol=1e-6), k
    with pytest.raises(StyleGANError, match="other data or settings"):
        train_clip(
            data, captions, tmp_path / "half", config=_config(lr=1e-3), resume=True, progress=False
        )
    with pytest.raises(StyleGANError, match="nothing to resume"):
        train_clip(data, captions, tmp_path / "none", config=_config(), resume=True, progress=False)


def test_a_trained_clip_saves_loads_and_ranks_its_captions(shapes_data, tmp_path):
    data, captions = shapes_data
    result = train_clip(
        data, captions, tmp_path / "run", config=_config(holdout=0.25), progress=False
    )
    assert result.heldout is not None and result.heldout.images == 3
    ckpt = tmp_path / "run" / "clip"
    assert is_domain_clip(ckpt) and not is_domain_clip(data)
    model = load_clip(ckpt)
    assert isinstance(model, DomainCLIP) and model.info["train_images"] == 9
    assert [h["image"] for h in model.info["heldout"]] and len(model.info["heldout"]) == 3
    red = torch.from_numpy(draw(COLOURS["red"], "square")).permute(2, 0, 1)[None]
    blue = torch.from_numpy(draw(COLOURS["blue"], "circle")).permute(2, 0, 1)[None]
    trained = {h["caption"] for h in model.info["heldout"]}
    if "red square" not in trained and "blue circle" not in trained:
        images = model.encode_image(torch.cat([red, blue]))
        texts = model.encode_text(["red square", "blue circle"])
        sims = texts @ images.T
        assert sims[0, 0] > sims[0, 1] and sims[1, 1] > sims[1, 0]
    # fp16 export: half the bytes, the same embeddings to fp16 precision.
    small = save_domain_clip(model, tmp_path / "small.safetensors", half=True)
    again, _ = load_domain_clip(small)
    assert again.name == model.name
    assert torch.allclose(again.encode_image(red), model.encode_image(red), atol=2e-2)
    assert torch.allclose(again.encode_text(["red"]), model.encode_text(["red"]), atol=2e-2)


def test_encode_image_takes_generator_output_and_passes_gradients(shapes_data, tmp_path):
    data, captions = shapes_data
    model = train_clip(data, captions, None, config=_config(steps=5), progress=False).model
    fake = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_(True)  # a 32 px G's output
    score = (model.encode_image(fake) @ model.encode_text(["red square"]).T).sum()
    score.backward()
    assert fake.grad is not None and float(fake.grad.abs().sum()) > 0
    assert all(p.grad is None for p in model.backbone.parameters())  # the backbone is frozen
    u8 = torch.from_numpy(draw(COLOURS["red"], "circle")).permute(2, 0, 1)[None]
    same = model.encode_image(u8.float() / 127.5 - 1)
    assert torch.allclose(model.encode_image(u8), same, atol=1e-5)


def test_bad_training_settings_are_one_line_errors():
    with pytest.raises(StyleGANError, match="unknown CLIP head settings"):
        CLIPTrainingConfig(heads={"feature_dim": 3})
    with pytest.raises(StyleGANError, match="batch_size must be at least 2"):
        CLIPTrainingConfig(batch_size=1)
    with pytest.raises(StyleGANError, match="holdout"):
        CLIPTrainingConfig(holdout=1.0)
