"""The real-CLIP backend on a model of CLIP's architecture with random weights, saved locally.

The model is ``transformers``' ``CLIPModel`` (the ViT image tower and text transformer of
OpenAI's CLIP) at a small width and depth, with a character-level BPE tokenizer; it is written
with ``save_pretrained`` (the layout of huggingface.co/openai/clip-vit-base-patch32) and loaded
back through :func:`stylegan.clip.load_clip`, then served over a local HTTP server to check the
one-time download into the cache. Skipped where ``transformers`` is not installed
(``pip install 'stylegan[clip]'``).
"""

from __future__ import annotations

import string
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from stylegan.clip import hf
from stylegan.clip.load import load_clip
from stylegan.errors import StyleGANError
from stylegan.networks.clip import TextImageModel

transformers = pytest.importorskip("transformers", reason="needs the stylegan[clip] extra")


def tiny_clip_folder(folder):
    """A ViT-B/32-architecture CLIP, scaled down (width 32, 2 layers, 32 px images, 8 px
    patches), random weights from a fixed seed, plus its tokenizer, saved to ``folder``."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in string.ascii_lowercase + string.digits + ".,:!":
        vocab.setdefault(ch, len(vocab))
        vocab.setdefault(ch + "</w>", len(vocab))
    text = dict(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=32, bos_token_id=0, eos_token_id=1,
        pad_token_id=1,
    )  # fmt: skip
    vision = dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        image_size=32, patch_size=8,
    )  # fmt: skip
    config = transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    torch.manual_seed(0)
    model = transformers.CLIPModel(config).eval()
    model.save_pretrained(folder)
    tokenizer = transformers.CLIPTokenizer(vocab=vocab, merges=[])
    tokenizer.save_pretrained(folder)
    return model, tokenizer


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-clip")
    model, tokenizer = tiny_clip_folder(folder)
    return folder, model, tokenizer


def test_a_saved_clip_folder_loads_as_the_interface(tiny):
    folder, model, tokenizer = tiny
    clip = load_clip(folder)
    assert isinstance(clip, hf.HFCLIP) and isinstance(clip, TextImageModel)
    assert (clip.image_size, clip.embed_dim, clip.context_length) == (32, 16, 32)
    assert clip.logit_scale == pytest.approx(float(torch.tensor(2.6592).exp()), rel=1e-5)
    # The loaded weights are the saved ones, exactly.
    saved = model.state_dict()
    for key, value in clip.model.state_dict().items():
        assert torch.equal(value, saved[key]), key


def test_image_and_text_embeddings_match_the_model_itself(tiny):
    folder, model, tokenizer = tiny
    clip = load_clip(folder)
    gen = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, [3, 3, 32, 32], generator=gen, dtype=torch.uint8)
    got = clip.encode_image(images)
    pixels = (images.float() / 255 - torch.tensor(hf.OPENAI_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        hf.OPENAI_STD
    ).view(1, 3, 1, 1)
    want = hf._pooled(model.get_image_features(pixel_values=pixels))
    assert torch.allclose(got, torch.nn.functional.normalize(want, dim=1), atol=1e-5)
    assert torch.allclose(got.norm(dim=1), torch.ones(3), atol=1e-5)

    texts = ["a red heart", "flag: france", "smiling face"]
    got = clip.encode_text(texts)
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    want = hf._pooled(model.get_text_features(**batch))
    assert torch.allclose(got, torch.nn.functional.normalize(want, dim=1), atol=1e-5)
    # Padding to a longer batch does not change a text's embedding (pooled at its end token).
    alone = clip.encode_text(["a red heart"])
    assert torch.allclose(alone[0], got[0], atol=1e-5)


def test_generator_images_are_resized_inside_and_get_gradients(tiny):
    clip = load_clip(tiny[0])
    images = (torch.rand(2, 3, 16, 16) * 2 - 1).requires_grad_(True)  # a 16 px generator's output
    loss = 1 - (clip.encode_image(images) @ clip.encode_text(["a red heart"]).T).sum()
    loss.backward()
    assert images.grad is not None and float(images.grad.abs().sum()) > 0
    assert all(p.grad is None for p in clip.model.parameters())  # the CLIP stays frozen
    # uint8 and the same picture in [-1, 1] embed alike (one input convention for both).
    u8 = torch.randint(0, 256, [1, 3, 32, 32], dtype=torch.uint8)
    assert torch.allclose(
        clip.encode_image(u8), clip.encode_image(u8.float() / 127.5 - 1), atol=1e-5
    )


class _RepoHandler(SimpleHTTPRequestHandler):
    """Serves ``/<repo>/resolve/<revision>/<file>`` from one folder, and counts requests."""

    def translate_path(self, path):
        self.server.requests.append(path)
        return str(self.server.folder / path.rsplit("/", 1)[-1])

    def log_message(self, *args):
        pass


@pytest.fixture
def hub(tiny, tmp_path, monkeypatch):
    folder = tiny[0]
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_RepoHandler, directory=str(folder)))
    server.folder, server.requests = folder, []
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    monkeypatch.setenv("STYLEGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    files = tuple(sorted(p.name for p in folder.iterdir() if p.is_file()))
    spec = hf.RemoteCLIP(
        "test/tiny-clip", "test/tiny-clip", "0123abc", files,
        host=f"http://127.0.0.1:{server.server_address[1]}",
    )  # fmt: skip
    monkeypatch.setitem(hf.REMOTE, spec.name, spec)
    monkeypatch.setitem(hf.ALIASES, "tiny", spec.name)
    yield server, spec
    server.shutdown()
    server.server_close()


def test_a_published_clip_is_downloaded_once_into_the_cache(hub, tmp_path):
    server, spec = hub
    with pytest.raises(StyleGANError, match="not downloaded yet.*pass its path.*twemoji-clip"):
        load_clip("tiny", download=False)
    assert server.requests == []
    first = load_clip("tiny", progress=False)
    assert len(server.requests) == len(spec.files)
    folder = tmp_path / "cache" / "clip" / "test--tiny-clip"
    assert sorted(p.name for p in folder.iterdir()) == sorted([*spec.files, "files.json"])
    again = load_clip("TINY", download=False)  # aliases are case-insensitive; no network now
    assert len(server.requests) == len(spec.files)
    images = torch.randint(0, 256, [2, 3, 32, 32], dtype=torch.uint8)
    assert torch.equal(first.encode_image(images), again.encode_image(images))


def test_a_failed_download_names_the_folder_to_fill(hub):
    server, spec = hub
    broken = hf.RemoteCLIP(spec.name, "test/tiny-clip", "0123abc", ("missing.bin",), host=spec.host)
    hf.REMOTE[spec.name] = broken
    with pytest.raises(StyleGANError) as err:
        load_clip("tiny", progress=False)
    message = str(err.value)
    assert "\n" not in message and "HTTP 404" in message and "missing.bin" in message
    assert "test--tiny-clip" in message and "twemoji-clip" in message
