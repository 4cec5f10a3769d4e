"""Shared data of the CLIP tests: a tiny captioned dataset of coloured shapes."""

from __future__ import annotations

import pytest
from clip_shapes import COLOURS, SHAPES, draw
from PIL import Image

from stylegan.clip.captions import Caption, write_captions


@pytest.fixture(scope="module")
def shapes_data(tmp_path_factory):
    """12 pictures (6 colours x 2 shapes) in a dataset folder, captioned "red square" ..."""
    folder = tmp_path_factory.mktemp("shapes")
    rows = []
    for colour, rgb in COLOURS.items():
        for shape in SHAPES:
            name = f"{colour}-{shape}.png"
            Image.fromarray(draw(rgb, shape)).save(folder / name)
            rows.append(Caption(name, f"{colour} {shape}", "Shapes"))
    captions = write_captions(folder.parent / "shapes-captions.csv", rows)
    return folder, captions
