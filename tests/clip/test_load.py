"""What ``load_clip`` makes of names and paths, with or without the ``transformers`` extra."""

from __future__ import annotations

import json
import sys

import pytest

from stylegan.clip import hf
from stylegan.clip.load import load_clip
from stylegan.errors import StyleGANError


def test_published_names_and_aliases():
    for name in ("ViT-B/32", "vit-b-32", "openai/clip-vit-base-patch32", "clip-vit-base-patch32"):
        assert hf.remote_clip(name) is hf.OPENAI_VIT_B32
    assert hf.remote_clip("twemoji-clip") is None
    url = hf.OPENAI_VIT_B32.url("config.json")
    assert url.startswith("https://huggingface.co/openai/clip-vit-base-patch32/resolve/")
    assert hf.OPENAI_VIT_B32.revision in url  # a pinned commit, not a moving branch


def test_without_transformers_the_errors_name_the_extra(monkeypatch, tmp_path):
    monkeypatch.setattr(hf, "transformers_available", lambda: False)
    with pytest.raises(StyleGANError, match=r"stylegan\[clip\].*twemoji-clip") as err:
        load_clip("ViT-B/32")
    assert "\n" not in str(err.value)
    folder = tmp_path / "clip"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "clip"}))
    monkeypatch.setitem(sys.modules, "transformers", None)  # importing it fails
    with pytest.raises(StyleGANError, match=r"stylegan\[clip\]"):
        load_clip(folder)


def test_paths_that_are_no_clip_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(
        StyleGANError, match=r"neither a domain-CLIP checkpoint .* nor a Hugging Face"
    ):
        load_clip(tmp_path / "notes.txt")
    with pytest.raises(StyleGANError, match="unknown CLIP 'no-such-clip'.*known names: .*vit-base"):
        load_clip("no-such-clip")
