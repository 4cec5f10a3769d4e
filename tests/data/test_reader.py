"""The guarded reader: regular files only, size and zip-bomb limits, pixel limits."""

import os
import pickle
import zipfile

import pytest
from hostile_files import png_bytes, write_zip_bomb

from stylegan.data import reader
from stylegan.data.reader import FileReader, UnreadableFile, open_image, read_regular_file


def test_regular_files_and_links_to_them_are_read(tmp_path):
    (tmp_path / "a.png").write_bytes(b"data")
    (tmp_path / "link.png").symlink_to(tmp_path / "a.png")
    assert read_regular_file(tmp_path / "link.png") == b"data"
    with FileReader(tmp_path) as files:
        assert sorted(files.names()) == ["a.png", "link.png"]
        assert files.read("a.png") == b"data"


def test_fifos_devices_folders_and_broken_links_are_refused_without_blocking(tmp_path, no_hang):
    os.mkfifo(tmp_path / "x.png")  # nobody ever writes: an open for reading would block
    (tmp_path / "zero.png").symlink_to("/dev/zero")  # would never end
    (tmp_path / "gone.png").symlink_to(tmp_path / "missing.png")
    (tmp_path / "folder.png").mkdir()
    expected = {
        "x.png": "not a regular file (a FIFO)",
        "zero.png": "not a regular file (a character device)",
        "gone.png": "missing or a broken link",
        "folder.png": "not a regular file (a folder)",
    }
    files = FileReader(tmp_path)
    for name, reason in expected.items():
        with pytest.raises(UnreadableFile) as err:
            files.read(name)
        assert str(err.value) == reason, name
        with pytest.raises(UnreadableFile):
            files.open(name)


def test_a_file_over_the_limit_is_refused(tmp_path):
    (tmp_path / "big.png").write_bytes(b"x" * 101)
    assert len(read_regular_file(tmp_path / "big.png", limit=101)) == 101
    with pytest.raises(UnreadableFile, match="over the 0 MiB limit"):
        read_regular_file(tmp_path / "big.png", limit=100)


def test_a_zip_member_declaring_6_gib_is_refused_before_inflating(tmp_path):
    write_zip_bomb(tmp_path / "bomb.zip", "bomb.png", 6 << 30, {"ok.png": b"fine"})
    files = FileReader(tmp_path / "bomb.zip")
    assert files.read("ok.png") == b"fine"
    with pytest.raises(UnreadableFile, match="zip member of 6144 MiB is over the 256 MiB limit"):
        files.read("bomb.png")
    with pytest.raises(UnreadableFile, match="6144 MiB"):
        files.open("bomb.png")


def test_a_member_that_inflates_like_a_zip_bomb_is_refused(tmp_path):
    # 64 MiB of zeros is under the size limit but inflates ~1000-fold: only the ratio catches it.
    write_zip_bomb(tmp_path / "bomb.zip", "bomb.png", 64 << 20)
    with zipfile.ZipFile(tmp_path / "bomb.zip", "a", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("flat.bmp", bytes(1 << 20))  # compressible but small: allowed
    files = FileReader(tmp_path / "bomb.zip")
    with pytest.raises(UnreadableFile, match=r"inflates \d+-fold .*zip bomb"):
        files.read("bomb.png")
    assert files.read("flat.bmp") == bytes(1 << 20)


def test_a_source_that_is_a_fifo_is_no_zip(tmp_path, no_hang):
    os.mkfifo(tmp_path / "data.zip")
    with pytest.raises(zipfile.BadZipFile, match="not a regular file"):
        FileReader(tmp_path / "data.zip").names()


@pytest.mark.parametrize(
    ("size", "reason"),
    [
        ((9000, 9000), "9000x9000 is over the 67,108,864-pixel limit"),  # below Pillow's limit
        ((100_000, 100_000), "too many pixels"),  # Pillow's own bomb error, reported as ours
    ],
)
def test_images_with_too_many_pixels_are_refused_from_the_header(size, reason):
    with pytest.raises(UnreadableFile, match=reason):
        open_image(png_bytes(*size))


def test_the_largest_allowed_image_opens_without_decoding():
    side = 1 << 13
    assert side * side == reader.MAX_IMAGE_PIXELS
    with open_image(png_bytes(side, side)) as img:
        assert img.size == (side, side)


def test_pickling_drops_the_zip_handle(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as z:
        z.writestr("a.png", b"x")
    files = FileReader(tmp_path / "a.zip")
    assert files.read("a.png") == b"x" and files._zip is not None
    clone = pickle.loads(pickle.dumps(files))
    assert clone._zip is None and clone.read("a.png") == b"x"
