"""The dataset tool: NVIDIA's layout, labels, transforms, and every bad-input rule."""

import errno
import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hostile_files import png_bytes
from PIL import Image

from stylegan.cli import cli
from stylegan.data import ImageDataset, convert_dataset, dataset_tool, writer
from stylegan.errors import StyleGANError


def convert(source, dest, resolution=8, **kwargs):
    return convert_dataset(source, dest, resolution, progress=False, **kwargs)


def read_zip_image(path, name):
    with zipfile.ZipFile(path) as z:
        return np.asarray(Image.open(z.open(name)))


def _mk(tmp_path):
    """Create and return ``tmp_path / "src"``."""
    (tmp_path / "src").mkdir(exist_ok=True)
    return tmp_path / "src"


def zip_labels(path):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("dataset.json"))["labels"]


# -- layout and round trip ------------------------------------------------------------------------


def test_round_trip_folder_to_zip_to_dataset_keeps_pixels(rgb_folder, tmp_path):
    folder, images = rgb_folder
    report = convert(folder, tmp_path / "out.zip")
    assert report.written == len(images) and report.skipped == [] and report.label_dim == 0

    dataset = ImageDataset(tmp_path / "out.zip")
    assert len(dataset) == len(images) and dataset.image_shape == [3, 8, 8]
    for i, expected in enumerate(images.values()):  # sorted source order is kept
        image, label = dataset[i]
        assert image.dtype == np.uint8
        np.testing.assert_array_equal(image.transpose(1, 2, 0), expected)
        assert label.shape == (0,)
    assert zip_labels(tmp_path / "out.zip") is None


def test_zip_layout_is_nvidias(make_image, tmp_path):
    for i in range(1002):
        make_image(tmp_path / "src" / f"{i:04d}.png", size=(4, 4), seed=i)
    convert(tmp_path / "src", tmp_path / "out.zip", resolution=4)

    with zipfile.ZipFile(tmp_path / "out.zip") as z:
        infos = z.infolist()
        names = [info.filename for info in infos]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in infos)
    # NVIDIA: idx_str = f"{idx:08d}"; name = f"{idx_str[:5]}/img{idx_str}.png"
    expected = [f"{f'{i:08d}'[:5]}/img{i:08d}.png" for i in range(1002)]
    assert names == [*expected, "dataset.json"]
    assert names[999] == "00000/img00000999.png" and names[1000] == "00001/img00001000.png"


def test_source_order_is_nvidias(make_image, tmp_path):
    pixels = {}
    for i, name in enumerate(["a.png", "a/y.png", "a-b.png", "B.png"]):
        pixels[name] = make_image(tmp_path / "src" / name, seed=i)
    convert(tmp_path / "src", tmp_path / "out.zip")
    # NVIDIA's tool sorts pathlib paths component by component, not as plain strings.
    dataset = ImageDataset(tmp_path / "out.zip")
    for i, name in enumerate(["B.png", "a/y.png", "a-b.png", "a.png"]):
        np.testing.assert_array_equal(dataset[i][0].transpose(1, 2, 0), pixels[name], name)


def test_folder_destination_has_the_same_layout(rgb_folder, tmp_path):
    folder, images = rgb_folder
    convert(folder, tmp_path / "out.zip", labels="folders")
    convert(folder, tmp_path / "out_dir", labels="folders")
    files = sorted(
        p.relative_to(tmp_path / "out_dir").as_posix() for p in (tmp_path / "out_dir").rglob("*.*")
    )
    assert files == [
        "00000/img00000000.png",
        *[f"00000/img0000000{i}.png" for i in range(1, 6)],
        "dataset.json",
    ]
    from_zip = ImageDataset(tmp_path / "out.zip", use_labels=True)
    from_dir = ImageDataset(tmp_path / "out_dir", use_labels=True)
    for i in range(len(images)):
        for a, b in zip(from_zip[i], from_dir[i]):
            np.testing.assert_array_equal(a, b)


def test_zip_source_and_its_labels_are_carried_over(rgb_folder, tmp_path):
    folder, images = rgb_folder
    convert(folder, tmp_path / "first.zip", labels="folders")
    report = convert(tmp_path / "first.zip", tmp_path / "second.zip", resolution=4)
    assert report.written == len(images) and report.label_dim == 2
    assert [label for _, label in zip_labels(tmp_path / "second.zip")] == [0, 0, 0, 1, 1, 1]


# -- labels ---------------------------------------------------------------------------------------


def test_labels_from_folders_are_sorted_class_indices(rgb_folder, tmp_path):
    folder, _ = rgb_folder
    report = convert(folder, tmp_path / "out.zip", labels="folders")
    assert report.class_names == ["cat", "dog"] and report.label_dim == 2
    dataset = ImageDataset(tmp_path / "out.zip", use_labels=True)
    assert dataset.label_dim == 2 and dataset.has_labels
    assert [dataset.get_label(i).argmax() for i in range(len(dataset))] == [0, 0, 0, 1, 1, 1]
    assert dataset[0][1].dtype == np.float32 and dataset[0][1].tolist() == [1.0, 0.0]


def test_labels_folders_needs_every_image_in_a_sub_folder(rgb_folder, make_image, tmp_path):
    folder, _ = rgb_folder
    make_image(folder / "loose.png")
    with pytest.raises(StyleGANError, match="loose.png"):
        convert(folder, tmp_path / "out.zip", labels="folders")


def test_labels_from_csv_class_names(rgb_folder, tmp_path):
    folder, images = rgb_folder
    rows = ["file,label"] + [
        f"{name},{'zebra' if i % 2 else 'ant'}" for i, name in enumerate(images)
    ]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    report = convert(folder, tmp_path / "out.zip", labels=tmp_path / "labels.csv")
    assert report.class_names == ["ant", "zebra"]
    assert [label for _, label in zip_labels(tmp_path / "out.zip")] == [0, 1, 0, 1, 0, 1]


def test_labels_from_csv_integer_classes_without_header(rgb_folder, tmp_path):
    folder, images = rgb_folder
    rows = [
        f"{name.replace('/', chr(92))},{i + 2}" for i, name in enumerate(images)
    ]  # Windows paths
    (tmp_path / "labels.csv").write_text("\n".join(rows))
    report = convert(folder, tmp_path / "out.zip", labels=str(tmp_path / "labels.csv"))
    assert report.class_names is None and report.label_dim == 8
    assert [label for _, label in zip_labels(tmp_path / "out.zip")] == [2, 3, 4, 5, 6, 7]
    assert ImageDataset(tmp_path / "out.zip", use_labels=True).label_dim == 8


def test_csv_without_a_label_for_some_image_is_an_error(rgb_folder, tmp_path):
    folder, images = rgb_folder
    (tmp_path / "labels.csv").write_text("cat/a.png,1\n")
    with pytest.raises(StyleGANError, match="no label for 5 of 6 images"):
        convert(folder, tmp_path / "out.zip", labels=tmp_path / "labels.csv")
    with pytest.raises(StyleGANError, match="does not exist"):
        convert(folder, tmp_path / "out.zip", labels=tmp_path / "nope.csv")
    assert not (tmp_path / "out.zip").exists()


def test_labels_from_dataset_json_in_the_source(rgb_folder, tmp_path):
    folder, images = rgb_folder
    entries = [[name, 5 - i] for i, name in enumerate(images)]
    (folder / "dataset.json").write_text(json.dumps({"labels": entries}))
    report = convert(folder, tmp_path / "out.zip")
    assert report.skipped == [] and report.label_dim == 6
    assert [label for _, label in zip_labels(tmp_path / "out.zip")] == [5, 4, 3, 2, 1, 0]


def test_vector_labels_are_kept(rgb_folder, tmp_path):
    folder, images = rgb_folder
    vectors = {name: [i * 0.5, -1.0, 2.0] for i, name in enumerate(images)}
    report = convert(folder, tmp_path / "out.zip", labels=vectors)
    assert report.label_dim == 3
    dataset = ImageDataset(tmp_path / "out.zip", use_labels=True)
    assert not dataset.has_onehot_labels and dataset.label_dim == 3
    np.testing.assert_array_equal(dataset[3][1], np.float32([1.5, -1.0, 2.0]))


# -- colour modes ---------------------------------------------------------------------------------


def test_every_colour_mode_becomes_rgb(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    Image.fromarray(grey, "L").save(src / "a_grey.png")
    Image.fromarray(grey, "L").convert("P").save(src / "b_palette.gif")
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:4] = [0, 0, 255, 255]  # opaque blue top, transparent bottom
    Image.fromarray(rgba, "RGBA").save(src / "c_rgba.png")
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(src / "d_cmyk.jpg", quality=100)
    Image.fromarray(grey.astype(np.uint16) * 257).save(src / "e_grey16.png")
    Image.fromarray(np.dstack([grey, np.full_like(grey, 255)]), "LA").save(src / "f_la.png")

    report = convert(src, tmp_path / "out.zip", background="#00ff00")
    assert report.written == 6 and report.skipped == []
    dataset = ImageDataset(tmp_path / "out.zip")
    assert dataset.num_channels == 3
    images = [dataset[i][0].transpose(1, 2, 0) for i in range(6)]
    for i in (0, 1, 4, 5):  # greyscale in every encoding -> equal R, G, B
        np.testing.assert_array_equal(images[i], np.dstack([grey] * 3))
    assert images[2][0, 0].tolist() == [0, 0, 255]
    assert images[2][7, 7].tolist() == [0, 255, 0]  # transparency shows the background
    r, g, b = images[3][4, 4].tolist()
    assert r > 200 and g < 60 and b < 60  # CMYK (0, 255, 255, 0) is red


def test_exif_orientation_is_applied(tmp_path):
    array = np.zeros((8, 8, 3), np.uint8)
    array[:, :4] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise
    Image.fromarray(array).save(_mk(tmp_path) / "a.png", exif=exif)
    convert(tmp_path / "src", tmp_path / "out.zip")
    image = read_zip_image(tmp_path / "out.zip", "00000/img00000000.png")
    assert image[0].min() == 255 and image[7].max() == 0  # white half now on top


# -- sizes and transforms -------------------------------------------------------------------------


def test_box_filter_averages_blocks_and_differs_from_lanczos(make_image, tmp_path):
    pixels = make_image(tmp_path / "src" / "a.png", size=(8, 8))
    convert(tmp_path / "src", tmp_path / "box.zip", resolution=4, resize_filter="box")
    convert(tmp_path / "src", tmp_path / "lanczos.zip", resolution=4)
    box = read_zip_image(tmp_path / "box.zip", "00000/img00000000.png")
    means = pixels.reshape(4, 2, 4, 2, 3).mean(axis=(1, 3))
    assert np.abs(box.astype(float) - means).max() <= 1  # Pillow rounds in fixed point
    assert not np.array_equal(
        box, read_zip_image(tmp_path / "lanczos.zip", "00000/img00000000.png")
    )


def test_square_images_of_mixed_sizes_are_resized(make_image, tmp_path):
    make_image(tmp_path / "src" / "a.png", size=(16, 16))
    make_image(tmp_path / "src" / "b.png", size=(5, 5))
    report = convert(tmp_path / "src", tmp_path / "out.zip", resolution=8)
    assert report.written == 2
    assert ImageDataset(tmp_path / "out.zip").image_shape == [3, 8, 8]


def test_non_square_without_transform_says_which_transform(make_image, tmp_path):
    make_image(tmp_path / "src" / "a.png", size=(8, 8))
    make_image(tmp_path / "src" / "wide.png", size=(12, 8))
    with pytest.raises(StyleGANError, match="wide.png is 12x8") as err:
        convert(tmp_path / "src", tmp_path / "out.zip")
    assert "--transform center-crop" in str(err.value) and "pad" in str(err.value)
    assert "\n" not in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_center_crop_keeps_the_middle(tmp_path):
    array = np.zeros((8, 16, 3), np.uint8)
    array[:, 4:12] = [10, 20, 30]
    _mk(tmp_path)
    Image.fromarray(array).save(tmp_path / "src" / "a.png")
    convert(tmp_path / "src", tmp_path / "out.zip", transform="center-crop")
    image = read_zip_image(tmp_path / "out.zip", "00000/img00000000.png")
    assert image.shape == (8, 8, 3) and (image == [10, 20, 30]).all()


def test_pad_adds_background_borders(tmp_path):
    _mk(tmp_path)
    Image.new("RGB", (8, 4), (0, 0, 255)).save(tmp_path / "src" / "a.png")
    convert(tmp_path / "src", tmp_path / "out.zip", transform="pad", background=(255, 0, 0))
    image = read_zip_image(tmp_path / "out.zip", "00000/img00000000.png")
    assert (image[:2] == [255, 0, 0]).all() and (image[6:] == [255, 0, 0]).all()
    assert (image[2:6] == [0, 0, 255]).all()


def test_center_crop_wide_puts_a_band_on_black_and_skips_misfits(tmp_path):
    _mk(tmp_path)
    Image.new("RGB", (16, 12), (200, 100, 50)).save(tmp_path / "src" / "a_fits.png")
    Image.new("RGB", (4, 3), (200, 100, 50)).save(tmp_path / "src" / "b_small.png")
    Image.new("RGB", (32, 8), (200, 100, 50)).save(tmp_path / "src" / "c_too_wide.png")
    report = convert(tmp_path / "src", tmp_path / "out.zip", "8x6", transform="center-crop-wide")
    assert report.written == 1 and report.resolution == 8
    assert [path for path, _ in report.skipped] == ["b_small.png", "c_too_wide.png"]
    image = read_zip_image(tmp_path / "out.zip", "00000/img00000000.png")
    assert image.shape == (8, 8, 3)
    assert (image[0] == 0).all() and (image[7] == 0).all() and (image[1:7] == [200, 100, 50]).all()
    with pytest.raises(StyleGANError, match="WxH"):
        convert(tmp_path / "src", tmp_path / "x.zip", 8, transform="center-crop-wide")


@pytest.mark.parametrize("resolution", [0, 2, 3, 48, 100, "abc", "8x4", -8])
def test_bad_resolution_is_refused(rgb_folder, tmp_path, resolution):
    folder, _ = rgb_folder
    with pytest.raises(StyleGANError, match="resolution"):
        convert(folder, tmp_path / "out.zip", resolution)


# -- bad input ------------------------------------------------------------------------------------


def test_missing_or_empty_source_is_a_one_line_error(tmp_path):
    with pytest.raises(StyleGANError, match="does not exist") as err:
        convert(tmp_path / "nope", tmp_path / "out.zip")
    assert "\n" not in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(StyleGANError, match="no image files"):
        convert(tmp_path / "empty", tmp_path / "out.zip")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("hi")
    with pytest.raises(StyleGANError, match="no image files"):
        convert(tmp_path / "notes", tmp_path / "out.zip")
    (tmp_path / "fake.zip").write_text("not a zip")
    with pytest.raises(StyleGANError, match="readable .zip"):
        convert(tmp_path / "fake.zip", tmp_path / "out.zip")
    assert not (tmp_path / "out.zip").exists()


def test_corrupt_and_non_image_files_are_skipped_and_listed(rgb_folder, tmp_path):
    folder, images = rgb_folder
    (folder / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    good = (folder / "dog" / "d.png").read_bytes()
    (folder / "dog" / "truncated.png").write_bytes(good[: len(good) // 2])
    (folder / "README.md").write_text("my photos")
    (folder / ".DS_Store").write_bytes(b"\0")  # hidden files are ignored silently

    report = convert(folder, tmp_path / "out.zip")
    assert report.written == len(images)
    skipped = dict(report.skipped)
    assert set(skipped) == {"cat/broken.png", "dog/truncated.png", "README.md"}
    assert skipped["README.md"] == "not an image file"
    assert "image" in skipped["cat/broken.png"] and "image" in skipped["dog/truncated.png"]
    summary = report.summary()
    assert "wrote 6 images" in summary and "skipped 3" in summary and "README.md" in summary
    assert "\n" not in summary
    assert len(ImageDataset(tmp_path / "out.zip")) == len(images)


def test_nothing_usable_is_an_error_and_writes_nothing(tmp_path):
    _mk(tmp_path)
    (tmp_path / "src" / "a.png").write_bytes(b"not a png")
    (tmp_path / "src" / "b.jpg").write_bytes(b"")
    with pytest.raises(StyleGANError, match="no usable images"):
        convert(tmp_path / "src", tmp_path / "out.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_existing_destination_needs_overwrite(rgb_folder, make_image, tmp_path):
    folder, images = rgb_folder
    convert(folder, tmp_path / "out.zip")
    with pytest.raises(StyleGANError, match="--overwrite"):
        convert(folder, tmp_path / "out.zip", resolution=4)
    assert ImageDataset(tmp_path / "out.zip").resolution == 8
    convert(folder, tmp_path / "out.zip", resolution=4, overwrite=True)
    assert ImageDataset(tmp_path / "out.zip").resolution == 4

    convert(folder, tmp_path / "out_dir")
    with pytest.raises(StyleGANError, match="--overwrite"):
        convert(folder, tmp_path / "out_dir", resolution=4)
    convert(folder, tmp_path / "out_dir", resolution=4, overwrite=True)
    assert ImageDataset(tmp_path / "out_dir").resolution == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zip", "out_dir", "photos"]

    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.txt").write_text("do not delete")
    with pytest.raises(StyleGANError, match="not a dataset"):
        convert(folder, tmp_path / "precious", overwrite=True)
    assert (tmp_path / "precious" / "thesis.txt").exists()


def test_destination_may_not_swallow_the_source(rgb_folder, tmp_path):
    folder, _ = rgb_folder
    with pytest.raises(StyleGANError, match="source"):
        convert(folder, folder, overwrite=True)
    with pytest.raises(StyleGANError, match="inside the source"):
        convert(folder, folder / "out")
    report = convert(folder, folder / "out.zip")  # a zip beside the images is fine ...
    report = convert(folder, folder / "out.zip", overwrite=True)  # ... and not read back in
    assert report.written == 6 and report.skipped == []


@pytest.mark.parametrize("dest_name", ["out.zip", "out_dir"])
@pytest.mark.parametrize("exception", [KeyboardInterrupt, RuntimeError])
def test_interrupted_conversion_leaves_nothing_behind(
    rgb_folder, tmp_path, monkeypatch, dest_name, exception
):
    folder, _ = rgb_folder
    calls = []
    real_encode = dataset_tool._encode_png

    def failing_encode(image, level):
        calls.append(1)
        if len(calls) == 3:
            raise exception("stop")
        return real_encode(image, level)

    monkeypatch.setattr(dataset_tool, "_encode_png", failing_encode)
    with pytest.raises(exception):
        convert(folder, tmp_path / dest_name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def test_interrupted_overwrite_keeps_the_old_dataset(rgb_folder, tmp_path, monkeypatch):
    folder, _ = rgb_folder
    convert(folder, tmp_path / "out.zip")
    before = (tmp_path / "out.zip").read_bytes()
    monkeypatch.setattr(
        dataset_tool, "_encode_png", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt)
    )
    with pytest.raises(KeyboardInterrupt):
        convert(folder, tmp_path / "out.zip", resolution=4, overwrite=True)
    assert (tmp_path / "out.zip").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zip", "photos"]


def test_bad_background_colour_is_refused(rgb_folder, tmp_path):
    folder, _ = rgb_folder
    with pytest.raises(StyleGANError, match="colour"):
        convert(folder, tmp_path / "out.zip", background="not-a-colour")


def test_progress_bar_goes_to_stderr(rgb_folder, tmp_path, capsys):
    folder, _ = rgb_folder
    convert_dataset(folder, tmp_path / "out.zip", 8, progress=True)
    assert "6/6" in capsys.readouterr().err


# -- honest labels --------------------------------------------------------------------------------


def _write_csv(tmp_path, rows, encoding="utf-8"):
    (tmp_path / "labels.csv").write_bytes(("\n".join(rows) + "\n").encode(encoding))
    return tmp_path / "labels.csv"


def test_conflicting_duplicate_csv_rows_are_refused_naming_both(rgb_folder, tmp_path):
    folder, images = rgb_folder
    rows = ["file,label"] + [f"{name},{i % 2}" for i, name in enumerate(images)]
    rows.append("dog/d.png,0")  # d.png is row 5 with label 1
    with pytest.raises(StyleGANError) as err:
        convert(folder, tmp_path / "out.zip", labels=_write_csv(tmp_path, rows))
    message = str(err.value)
    assert "labels.csv gives dog/d.png two different labels" in message
    assert "row 5 ('dog/d.png,1')" in message and "row 8 ('dog/d.png,0')" in message
    assert "\n" not in message and not (tmp_path / "out.zip").exists()

    rows[-1] = "dog/d.png,1"  # an identical repeat is harmless
    report = convert(folder, tmp_path / "out.zip", labels=_write_csv(tmp_path, rows))
    assert [label for _, label in zip_labels(tmp_path / "out.zip")] == [0, 1, 0, 1, 0, 1]
    assert report.label_dim == 2


def test_conflicting_entries_in_a_source_dataset_json_are_refused(rgb_folder, tmp_path):
    folder, images = rgb_folder
    entries = [[name, 1] for name in images] + [["cat/a.png", 0]]
    (folder / "dataset.json").write_text(json.dumps({"labels": entries}))
    with pytest.raises(StyleGANError, match=r'cat/a.png two different labels: entry \["cat/a'):
        convert(folder, tmp_path / "out.zip")


def test_a_negative_class_is_refused_not_turned_into_names(rgb_folder, tmp_path):
    folder, images = rgb_folder
    rows = [f"{name},{[2, 10, 0, 1, 2, 10][i]}" for i, name in enumerate(images)]
    report = convert(folder, tmp_path / "out.zip", labels=_write_csv(tmp_path, rows))
    # Integers stay integers (not names sorted as text, where "10" < "2").
    assert report.class_names is None and report.label_dim == 11
    assert [label for _, label in zip_labels(tmp_path / "out.zip")] == [2, 10, 0, 1, 2, 10]

    rows[3] = rows[3].rsplit(",", 1)[0] + ",-3"
    with pytest.raises(StyleGANError) as err:
        convert(folder, tmp_path / "neg.zip", labels=_write_csv(tmp_path, rows))
    assert "dog/d.png the class -3" in str(err.value) and "0 or more" in str(err.value)
    (folder / "dataset.json").write_text(json.dumps({"labels": [[n, -1] for n in images]}))
    with pytest.raises(StyleGANError, match="the class -1; class indices must be 0 or more"):
        convert(folder, tmp_path / "neg.zip")
    assert not (tmp_path / "neg.zip").exists()


def test_class_indices_mixed_with_names_are_refused(rgb_folder, tmp_path):
    folder, images = rgb_folder
    rows = [f"{name},{'cat' if i == 2 else i}" for i, name in enumerate(images)]
    with pytest.raises(
        StyleGANError,
        match=r"mixes class indices \(cat/a.png: 0\) and class names \(cat/sub/c.png: cat\)",
    ):
        convert(folder, tmp_path / "out.zip", labels=_write_csv(tmp_path, rows))


def test_a_csv_that_is_not_utf8_is_a_one_line_error(rgb_folder, tmp_path):
    folder, images = rgb_folder
    rows = ["file,label"] + [f"{name},{'café' if i else 'thé'}" for i, name in enumerate(images)]
    labels = _write_csv(tmp_path, rows, encoding="latin-1")
    args = ["dataset", "--source", str(folder), "--dest", str(tmp_path / "out.zip")]
    result = CliRunner().invoke(cli, [*args, "--resolution", "8", "--labels", str(labels)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"error: labels file {labels} is not UTF-8 text (byte 0xe9 on line 2)"
    )
    assert "save it as UTF-8" in lines[0] and not (tmp_path / "out.zip").exists()
    _write_csv(tmp_path, rows)  # the same file in UTF-8 works
    assert (
        CliRunner().invoke(cli, [*args, "--resolution", "8", "--labels", str(labels)]).exit_code
        == 0
    )


# -- float and 16-bit images ----------------------------------------------------------------------


def test_float32_tiff_in_0_1_is_scaled_not_black(tmp_path):
    src = _mk(tmp_path)
    ramp = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    Image.fromarray(ramp).save(src / "a_unit.tif")  # a real float32 TIFF, mode F
    Image.fromarray(ramp * 255).save(src / "b_bytes.tif")  # float values already 0-255
    Image.fromarray(ramp - 0.5).save(src / "c_signed.tif")
    Image.fromarray(ramp * 1000).save(src / "d_wide.tif")
    assert Image.open(src / "a_unit.tif").mode == "F"

    report = convert(src, tmp_path / "out.zip")
    assert report.written == 2
    expected = np.round(ramp * 255).astype(np.uint8)
    for i in range(2):
        image = read_zip_image(tmp_path / "out.zip", writer.archive_name(i))
        np.testing.assert_array_equal(image, np.dstack([expected] * 3))
    skipped = dict(report.skipped)
    assert skipped["c_signed.tif"] == "F image with values in [-0.5, 0.5]: expected >= 0"
    assert (
        skipped["d_wide.tif"] == "float image with values up to 1000: expected [0, 1] or [0, 255]"
    )


def test_16_bit_greyscale_is_scaled_by_its_type_not_its_brightness(tmp_path):
    src = _mk(tmp_path)
    dark = (np.arange(64, dtype=np.uint16) * 4).reshape(8, 8)  # 16-bit values, all <= 255
    Image.fromarray(dark).save(src / "a_dark16.png")
    Image.fromarray(dark).save(src / "b_dark16.tif")
    Image.fromarray(dark.astype(np.int32) * 257).save(src / "c_int32.tif")  # mode I, 16-bit data
    convert(src, tmp_path / "out.zip")
    expected = np.round(dark / 257).astype(np.uint8)
    for i, scale in enumerate([1, 1, 257]):
        image = read_zip_image(tmp_path / "out.zip", writer.archive_name(i))[:, :, 0]
        np.testing.assert_array_equal(image, np.round(dark * scale / 257).astype(np.uint8), i)
    assert expected.max() == 1  # a dark 16-bit image stays dark


def test_16_bit_rgb_png_keeps_its_colours(tmp_path):
    src = _mk(tmp_path)
    rgb = np.zeros((8, 8, 3), np.uint16)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 65535, 32896, 257 * 10
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in rgb)
    (src / "a.png").write_bytes(png_bytes(8, 8, bit_depth=16, color_type=2, rows=rows))
    convert(src, tmp_path / "out.zip")
    image = read_zip_image(tmp_path / "out.zip", writer.archive_name(0))
    assert (image == [255, 128, 10]).all()


# -- faults and the output location ---------------------------------------------------------------


@pytest.mark.parametrize("dest_name", ["out.zip", "out_dir"])
def test_disk_full_is_one_line_and_leaves_nothing(rgb_folder, tmp_path, monkeypatch, dest_name):
    folder, _ = rgb_folder
    real_write = writer._Writer.write

    calls = []

    def write_until_full(self, name, data):
        calls.append(name)
        if len(calls) == 3:  # two images fit, the third does not
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, name, data)

    monkeypatch.setattr(writer._Writer, "write", write_until_full)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(
        cli,
        ["dataset", "--source", str(folder), "--dest", str(tmp_path / dest_name)]
        + ["--resolution", "8"],
    )
    assert result.exit_code == 1
    lines = [
        line for line in result.stderr.splitlines() if line.strip() and "Converting" not in line
    ]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: disk full writing {tmp_path / dest_name}: the dataset ")
    needed = float(re.search(r"needs about ([\d.]+) (KiB|MiB)", lines[0])[1])
    assert needed > 0 and f"free in {tmp_path.resolve()}" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no partial, no destination


def test_disk_full_during_overwrite_keeps_the_old_dataset(rgb_folder, tmp_path, monkeypatch):
    folder, _ = rgb_folder
    convert(folder, tmp_path / "out.zip")
    old = (tmp_path / "out.zip").read_bytes()

    def full(self, name, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer._Writer, "write", full)
    with pytest.raises(StyleGANError, match="disk full"):
        convert(folder, tmp_path / "out.zip", resolution=4, overwrite=True)
    assert (tmp_path / "out.zip").read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zip", "photos"]


def test_other_write_errors_are_not_dressed_up(rgb_folder, tmp_path, monkeypatch):
    folder, _ = rgb_folder
    monkeypatch.setattr(
        writer._Writer, "write", lambda *a: (_ for _ in ()).throw(OSError(errno.EIO, "EIO"))
    )
    with pytest.raises(OSError, match="EIO"):  # a real fault, not a user mistake: traceback
        convert(folder, tmp_path / "out.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def test_output_location_is_checked_before_any_work(rgb_folder, tmp_path, monkeypatch):
    folder, _ = rgb_folder
    monkeypatch.setattr(
        dataset_tool, "_encode_png", lambda *a: pytest.fail("converted before checking the dest")
    )
    (tmp_path / "notes.txt").write_text("a file")
    with pytest.raises(StyleGANError, match="notes.txt is a file, not a folder"):
        convert(folder, tmp_path / "notes.txt" / "sub" / "out.zip")
    (tmp_path / "thesis").write_text("precious")  # a file where a folder output should go
    with pytest.raises(StyleGANError, match="thesis: it is a file but not a dataset zip"):
        convert(folder, tmp_path / "thesis", overwrite=True)
    (tmp_path / "photos.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # a zip, not a dataset
    with pytest.raises(StyleGANError, match="photos.zip: it is a file but not a dataset zip"):
        convert(folder, tmp_path / "photos.zip", overwrite=True)
    with pytest.raises(StyleGANError, match="inside the source folder"):
        convert(folder, folder / "cat" / "out")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(StyleGANError, match="source .*fifo is neither a folder nor a regular file"):
        convert(tmp_path / "fifo", tmp_path / "out.zip")
    assert (tmp_path / "thesis").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fifo",
        "notes.txt",
        "photos",
        "photos.zip",
        "thesis",
    ]


def test_an_unwritable_parent_is_refused_before_any_work(rgb_folder, tmp_path, monkeypatch):
    folder, _ = rgb_folder
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root writes anywhere: deny it the way the kernel would deny others
        access = os.access
        monkeypatch.setattr(
            dataset_tool.os, "access", lambda p, mode: Path(p) != locked and access(p, mode)
        )
    with pytest.raises(StyleGANError, match="no permission to write in .*locked"):
        convert(folder, locked / "new" / "out.zip")


def test_an_existing_empty_folder_is_filled_without_overwrite(rgb_folder, tmp_path):
    folder, _ = rgb_folder
    (tmp_path / "out").mkdir()
    report = convert(folder, tmp_path / "out")
    assert report.written == 6 and (tmp_path / "out" / "dataset.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "photos"]
