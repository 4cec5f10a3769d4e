"""The shipped ``twemoji-clip``: loadable by name offline, it finds unseen emoji from their names
well above chance, and it scores the bundled 32 px zoo generator's images differentiably."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan.clip import available_clips, load_clip
from stylegan.clip.captions import colour_words
from stylegan.clip.evaluate import encode_dataset_images, heldout_pairs, heldout_retrieval
from stylegan.data.dataset import ImageDataset, sample_dataset_path

pytestmark = pytest.mark.usefixtures("one_thread_module")


@pytest.fixture(scope="module")
def clip():
    return load_clip("twemoji-clip", download=False)


def test_it_is_shipped_small_and_records_its_split(clip):
    from stylegan.clip.load import SHIPPED

    assert "twemoji-clip" in available_clips()
    assert SHIPPED["twemoji-clip"].file.stat().st_size < 5e6
    held = heldout_pairs(clip)
    assert 0.1 <= len(held) / clip.info["images"] <= 0.15  # 10-15 % of the emoji
    assert clip.info["train_images"] + len(held) == clip.info["images"] == 1911
    # Held-out captions were never trained on: words only they use are not in the vocabulary.
    assert any(clip.tokenizer.unknown_words(c) for _, c in held)


def test_heldout_retrieval_is_far_above_chance(clip):
    r = heldout_retrieval(clip)
    assert r.images == len(heldout_pairs(clip))
    assert r.top1 > 20 * r.chance_top1 and r.top5 > 8 * r.chance_top5
    # The figures recorded at training time are these (same images, same model up to fp16).
    recorded = clip.info["heldout_retrieval"]
    assert abs(r.top1 - recorded["top1"]) < 0.03 and abs(r.top5 - recorded["top5"]) < 0.03


def test_colour_and_category_prompts_find_their_images(clip):
    """Among the held-out emoji: "red" ranks the ones with red pixels higher, "a flag" the flags."""
    dataset = ImageDataset(sample_dataset_path(), use_labels=True)
    index = {dataset.image_name(i): i for i in range(len(dataset))}
    rows = [index[name] for name, _ in heldout_pairs(clip)]
    images = encode_dataset_images(clip, dataset, rows)
    with torch.no_grad():
        texts = clip.encode_text(["red", "a flag"])
    sims = (images @ texts.T).numpy()
    red = np.array(["red" in colour_words(dataset[i][0]) for i in rows])
    flags = np.array([int(dataset.get_label(i).argmax()) == 3 for i in rows])  # class 3: Flags
    for scores, truth in ((sims[:, 0], red), (sims[:, 1], flags)):
        order = np.argsort(-scores)
        top = truth[order[: truth.sum()]].mean()  # precision at the number of true images
        assert top > 2.5 * truth.mean(), (top, truth.mean())


def test_it_steers_the_zoo_generator(clip):
    import stylegan

    G = stylegan.load("twemoji-32").eval()
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(0))
    ws = G.mapping(z, None, truncation_psi=0.7).detach().requires_grad_(True)
    images = G.synthesis(ws, noise_mode="const")
    assert images.shape[-1] == 32
    score = (clip.encode_image(images) @ clip.encode_text(["a red heart"]).T).sum()
    score.backward()
    assert ws.grad is not None and float(ws.grad.abs().sum()) > 0
