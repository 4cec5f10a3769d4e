"""The domain CLIP's tokenizer and captions: round trips, the CSV format, matching, colours."""

from __future__ import annotations

import numpy as np
import pytest
from clip_shapes import write_manifest

from stylegan.clip.captions import (
    Caption,
    caption_texts,
    captions_from_manifest,
    colour_words,
    default_captions,
    match_captions,
    read_captions,
    write_captions,
)
from stylegan.clip.tokenizer import PAD, UNK, UNK_ID, WordTokenizer, normalize_text, split_words
from stylegan.errors import StyleGANError

CAPTIONS = ["red heart", "flag: France", "Grinning face with big eyes", "piñata", "Food & Drink"]


def test_words_are_normalised_and_punctuation_is_kept():
    assert normalize_text("  Piñata  &  Café ") == "pinata and cafe"
    assert split_words("flag: France") == ["flag", ":", "france"]
    assert split_words("keycap: *") == ["keycap", ":", "*"]
    assert split_words("man: red hair, medium") == ["man", ":", "red", "hair", ",", "medium"]


def test_tokenizer_round_trip():
    tok = WordTokenizer.build(CAPTIONS)
    assert tok.vocab[:2] == [PAD, UNK]
    for text in CAPTIONS:
        ids = tok.encode(text)
        assert UNK_ID not in ids
        assert tok.decode(ids) == " ".join(split_words(text))
    # Unknown words read as <unk>, and are reported.
    assert tok.decode(tok.encode("blue heart")) == "<unk> heart"
    assert tok.unknown_words("Blue heart: Peru") == ["blue", "peru"]
    # The same captions give the same ids in any order; JSON round trip keeps them.
    assert WordTokenizer.build(reversed(CAPTIONS)).vocab == tok.vocab
    again = WordTokenizer.from_dict(tok.to_dict())
    assert again.vocab == tok.vocab and again.encode("red heart") == tok.encode("red heart")
    # Most frequent words first, ties in alphabetical order.
    assert WordTokenizer.build(["b c", "c", "a"]).vocab == [PAD, UNK, "c", "a", "b"]


def test_batches_pad_to_the_longest_and_cut_at_the_context():
    tok = WordTokenizer.build(CAPTIONS)
    ids = tok.batch(["red heart", "grinning face with big eyes"], context_length=4)
    assert ids.shape == (2, 4) and ids[0, 2:].tolist() == [0, 0]
    assert tok.decode(ids[1]) == "grinning face with big"
    with pytest.raises(StyleGANError, match="no words"):
        tok.batch(["red", "   "], 8)
    with pytest.raises(StyleGANError, match="list of strings"):
        tok.batch("red heart", 8)
    with pytest.raises(StyleGANError, match="vocabulary starts with"):
        WordTokenizer(["a", "b"])
    with pytest.raises(StyleGANError, match="no word tokenizer"):
        WordTokenizer.from_dict({"kind": "bpe"})


def test_captions_csv_round_trip_and_errors(tmp_path):
    rows = [Caption("00000/img00000000.png", "hash key", "Symbols"), Caption("b.png", "red, heart")]
    path = write_captions(tmp_path / "c.csv", rows)
    assert read_captions(path) == rows
    (tmp_path / "bad.csv").write_text("file,text\na,b\n")
    with pytest.raises(StyleGANError, match="needs the columns image and caption"):
        read_captions(tmp_path / "bad.csv")
    (tmp_path / "empty.csv").write_text("image,caption\na.png,\n")
    with pytest.raises(StyleGANError, match=r"empty.csv:2: every row needs"):
        read_captions(tmp_path / "empty.csv")


def test_captions_from_a_twemoji_manifest(tmp_path):
    manifest = write_manifest(
        tmp_path / "manifest.csv",
        [
            ("00000/img00000000.png", "hash key", "Symbols"),
            ("00000/img00000001.png", 'flag: France, "fr"', "Flags"),
        ],
    )
    rows = read_captions(captions_from_manifest(manifest, tmp_path / "c.csv"))
    assert rows == [
        Caption("00000/img00000000.png", "hash key", "Symbols"),
        Caption("00000/img00000001.png", 'flag: France, "fr"', "Flags"),
    ]
    with pytest.raises(StyleGANError, match="not a Twemoji manifest"):
        captions_from_manifest(tmp_path / "c.csv", tmp_path / "d.csv")


def test_the_bundled_captions_name_every_sample_image():
    from stylegan.data.dataset import ImageDataset, sample_dataset_path

    dataset = ImageDataset(sample_dataset_path())
    rows = read_captions(default_captions())
    matched = match_captions([dataset.image_name(i) for i in range(len(dataset))], rows)
    assert len(matched) == len(dataset) == len(rows) == 1911
    assert matched[0][0].caption == "hash key" and matched[0][0].category == "Symbols"


def test_matching_by_name_or_unique_file_name():
    names = ["00000/a.png", "00000/b.png", "00001/b.png"]
    rows = [Caption("00000/a.png", "x"), Caption("a.png", "y"), Caption("00001/b.png", "z")]
    matched = match_captions(names, rows)
    assert {i: [r.caption for r in rs] for i, rs in matched.items()} == {0: ["x", "y"], 2: ["z"]}
    with pytest.raises(StyleGANError, match="name no image"):
        match_captions(names, [Caption("b.png", "ambiguous")])


def _picture(rgb, fraction=1.0):
    """A 32 px white picture whose top ``fraction`` of rows has colour ``rgb``."""
    image = np.full([3, 32, 32], 255, np.uint8)
    image[:, : round(32 * fraction)] = np.array(rgb, np.uint8).reshape(3, 1, 1)
    return image


@pytest.mark.parametrize(
    ("rgb", "words"),
    [
        ((221, 46, 68), ["red"]),  # Twemoji's red
        ((255, 204, 77), ["yellow"]),  # a Twemoji face
        ((244, 144, 12), ["orange"]),
        ((120, 177, 89), ["green"]),
        ((85, 172, 238), ["blue"]),
        ((170, 142, 214), ["purple"]),
        ((244, 171, 186), ["pink"]),
        ((193, 105, 79), ["brown"]),
        ((41, 47, 51), ["black"]),
        ((102, 117, 127), ["gray"]),
    ],
)
def test_colour_words_name_the_drawn_pixels(rgb, words):
    assert colour_words(_picture(rgb, 0.5)) == words


def test_colour_words_of_mixed_and_empty_pictures():
    image = _picture((221, 46, 68), 0.5)
    image[:, 16:24] = np.array([85, 172, 238], np.uint8).reshape(3, 1, 1)
    assert colour_words(image) == ["red", "blue"]  # 2/3 and 1/3 of the drawn pixels
    assert colour_words(np.full([3, 32, 32], 255, np.uint8)) == []


def test_caption_texts_cover_templates_category_and_colours():
    texts = caption_texts([Caption("a.png", "red heart", "Smileys & Emotion")], ["red", "pink"])
    assert texts[0] == "red heart" and "an emoji of red heart" in texts
    assert "smileys and emotion" in texts and "an emoji from smileys and emotion" in texts
    assert {"red", "a red emoji", "pink", "pink red heart"} <= set(texts)
    assert "red red heart" not in texts
    assert len(texts) == len(set(texts))
