"""The word tokenizer of our domain CLIP: a vocabulary built from the training captions.

Emoji names are short and made of ordinary words ("grinning face with big eyes", "flag:
France"), so a word-level vocabulary covers them with a few thousand entries; it is stored in
the checkpoint's JSON (nothing to download, nothing outside the model file). Text is normalised
(Unicode NFKD without accents, lower case, "&" read as "and") and split into runs of letters or
digits and single punctuation marks. Id 0 pads, id 1 stands for every word the vocabulary lacks.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from stylegan.errors import StyleGANError
from stylegan.networks.clip import PAD_ID

PAD, UNK = "<pad>", "<unk>"
UNK_ID = 1
_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


def normalize_text(text: str) -> str:
    """Lower case, accents removed, ``&`` as ``and``, whitespace collapsed."""
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return " ".join(text.replace("&", " and ").split())


def split_words(text: str) -> list[str]:
    """The words of ``text`` after :func:`normalize_text`; punctuation marks are words too."""
    return _WORD.findall(normalize_text(text))


class WordTokenizer:
    """Words <-> ids over a fixed vocabulary (``vocab[0]`` pads, ``vocab[1]`` is unknown)."""

    def __init__(self, vocab: Sequence[str]):
        vocab = list(vocab)
        if vocab[:2] != [PAD, UNK] or len(set(vocab)) != len(vocab):
            raise StyleGANError(
                f"a tokenizer vocabulary starts with {PAD!r}, {UNK!r} and has no repeats"
            )
        self.vocab = vocab
        self.ids = {w: i for i, w in enumerate(vocab)}

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1) -> WordTokenizer:
        """The vocabulary of every word seen at least ``min_count`` times, most frequent first
        (ties alphabetical, so the same captions always give the same ids)."""
        counts = Counter(w for t in texts for w in split_words(t))
        words = sorted(
            (w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w)
        )
        return cls([PAD, UNK, *words])

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        """The ids of the words of ``text`` (unknown words are ``UNK_ID``)."""
        return [self.ids.get(w, UNK_ID) for w in split_words(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Words joined by spaces; padding is dropped."""
        return " ".join(self.vocab[int(i)] for i in ids if int(i) != PAD_ID)

    def unknown_words(self, text: str) -> list[str]:
        """The words of ``text`` the vocabulary lacks (they all read as ``<unk>``)."""
        return [w for w in split_words(text) if w not in self.ids]

    def batch(self, texts: Sequence[str], context_length: int) -> torch.Tensor:
        """``[M, L]`` int64 ids, padded with ``PAD_ID`` to the longest text (at most
        ``context_length``: longer texts are cut)."""
        if isinstance(texts, str):
            raise StyleGANError("encode_text takes a list of strings, not one string")
        rows = [self.encode(t)[:context_length] for t in texts]
        empty = [t for t, r in zip(texts, rows) if not r]
        if empty:
            raise StyleGANError(f"the prompt {empty[0]!r} has no words; give some text")
        length = max((len(r) for r in rows), default=1)
        out = torch.full([len(rows), length], PAD_ID, dtype=torch.int64)
        for i, r in enumerate(rows):
            out[i, : len(r)] = torch.tensor(r, dtype=torch.int64)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "words", "vocab": list(self.vocab)}

    @classmethod
    def from_dict(cls, data: Any) -> WordTokenizer:
        if not isinstance(data, dict) or data.get("kind") != "words":
            raise StyleGANError("the CLIP checkpoint holds no word tokenizer; it is damaged")
        vocab = data.get("vocab")
        if not isinstance(vocab, list) or not all(isinstance(w, str) for w in vocab):
            raise StyleGANError("the CLIP checkpoint's tokenizer vocabulary is not a word list")
        return cls(vocab)
