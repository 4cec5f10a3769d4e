import numpy as np
import pytest
import torch
from PIL import Image

from stylegan.errors import StyleGANError
from stylegan.images import to_uint8_nhwc
from stylegan.tools.generate import generate_images, seeds_to_ws
from stylegan.tools.mixing import (
    named_style_range,
    parse_styles,
    save_mixing,
    style_mixing_grid,
    style_mixing_images,
)

ROWS, COLS = [85, 100, 75], [55, 821]


@pytest.mark.parametrize(
    ("num_ws", "coarse", "middle", "fine"),
    [
        (8, range(0, 3), range(3, 6), range(6, 8)),
        (10, range(0, 4), range(4, 8), range(8, 10)),
        (14, range(0, 4), range(4, 8), range(8, 14)),
        (18, range(0, 4), range(4, 8), range(8, 18)),
    ],
)
def test_named_ranges(num_ws, coarse, middle, fine):
    assert named_style_range("coarse", num_ws) == list(coarse)
    assert named_style_range("middle", num_ws) == list(middle)
    assert named_style_range("fine", num_ws) == list(fine)
    # Together they cover every layer exactly once.
    assert sorted(list(coarse) + list(middle) + list(fine)) == list(range(num_ws))


def test_named_range_too_small():
    assert named_style_range("coarse", 2) == [0]
    with pytest.raises(StyleGANError, match="too few"):
        named_style_range("fine", 2)


def test_parse_styles():
    assert parse_styles("0-6", 14) == [0, 1, 2, 3, 4, 5, 6]
    assert parse_styles("5-6,0,2", 14) == [0, 2, 5, 6]
    assert parse_styles(" Fine ", 10) == [8, 9]
    assert parse_styles([3, 1], 4) == [1, 3]
    for bad in ("0-20", "6-2", "x", "", "-1"):
        with pytest.raises(StyleGANError):
            parse_styles(bad, 14)
    with pytest.raises(StyleGANError, match="layers 0-13"):
        parse_styles("0-14", 14)


def test_cells_equal_synthesis_of_manually_mixed_ws(G):
    styles = [0, 1, 2]
    rows, cols, cells = style_mixing_images(G, ROWS, COLS, styles, truncation_psi=0.8)
    row_ws = seeds_to_ws(G, ROWS, truncation_psi=0.8)
    col_ws = seeds_to_ws(G, COLS, truncation_psi=0.8)
    manual = []
    for i in range(len(ROWS)):
        for j in range(len(COLS)):
            w = row_ws[i].clone()
            w[styles] = col_ws[j][styles]  # official style_mixing.py
            manual.append(w)
    with torch.no_grad():
        expected = to_uint8_nhwc(G.synthesis(torch.stack(manual), noise_mode="const")).numpy()
    expected = expected.reshape(cells.shape)
    assert np.abs(cells.astype(int) - expected.astype(int)).max() <= 1
    np.testing.assert_array_equal(rows, generate_images(G, ROWS, truncation_psi=0.8))
    np.testing.assert_array_equal(cols, generate_images(G, COLS, truncation_psi=0.8))


def test_all_layers_copied_gives_the_column_image(G):
    rows, cols, cells = style_mixing_images(G, ROWS, COLS, list(range(G.num_ws)))
    for i in range(len(ROWS)):
        assert np.abs(cells[i].astype(int) - cols.astype(int)).max() <= 1


def test_mixing_changes_the_image(G):
    rows, _, cells = style_mixing_images(G, ROWS, COLS, "coarse")
    assert not np.array_equal(cells[0, 0], rows[0])


def test_figure_layout(G):
    figure = style_mixing_grid(G, ROWS, COLS, styles="middle")
    rows, cols, cells = style_mixing_images(G, ROWS, COLS, "middle")
    h = w = G.img_resolution
    assert figure.shape == ((len(ROWS) + 1) * h, (len(COLS) + 1) * w, G.img_channels)
    assert not figure[:h, :w].any()  # blank corner
    for j in range(len(COLS)):
        np.testing.assert_array_equal(figure[:h, (j + 1) * w : (j + 2) * w], cols[j])
    for i in range(len(ROWS)):
        np.testing.assert_array_equal(figure[(i + 1) * h : (i + 2) * h, :w], rows[i])
        for j in range(len(COLS)):
            cell = figure[(i + 1) * h : (i + 2) * h, (j + 1) * w : (j + 2) * w]
            np.testing.assert_array_equal(cell, cells[i, j])


def test_bad_styles_range(standin):
    with pytest.raises(StyleGANError, match="style layer"):
        style_mixing_grid(standin, [0], [1], styles="0-99")


def test_save_mixing(tmp_path, standin):
    rows, cols, cells = style_mixing_images(standin, [1, 2], [3], "0-2")
    paths = save_mixing(rows, cols, cells, [1, 2], [3], tmp_path, save_cells=True)
    names = sorted(p.name for p in paths)
    assert names == sorted(["mixing.png", "1-1.png", "2-2.png", "3-3.png", "1-3.png", "2-3.png"])
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "2-3.png")), cells[1, 0])
    r = standin.img_resolution
    assert np.asarray(Image.open(tmp_path / "mixing.png")).shape == (3 * r, 2 * r, 3)
