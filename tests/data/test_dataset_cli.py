"""`stylegan dataset` end to end."""

from click.testing import CliRunner

from stylegan.cli import cli
from stylegan.data import ImageDataset


def test_cli_converts_and_prints_a_summary(rgb_folder, tmp_path):
    folder, _ = rgb_folder
    (folder / "notes.txt").write_text("not a picture")
    dest = tmp_path / "out.zip"
    args = ["dataset", "--source", str(folder), "--dest", str(dest), "--resolution", "4"]
    result = CliRunner().invoke(
        cli, [*args, "--labels", "folders", "--resize-filter", "box", "--background", "#000000"]
    )
    assert result.exit_code == 0, result.output
    summary = result.stdout.strip()
    assert summary.startswith("wrote 6 images (4x4 RGB, 2 classes)") and str(dest) in summary
    assert "skipped 1: notes.txt (not an image file)" in summary
    dataset = ImageDataset(dest, use_labels=True)
    assert dataset.resolution == 4 and dataset.label_dim == 2

    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 1 and "--overwrite" in again.stderr
    assert CliRunner().invoke(cli, [*args, "--overwrite"]).exit_code == 0


def test_cli_missing_source_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(
        cli,
        ["dataset", "--source", str(tmp_path / "nope"), "--dest", str(tmp_path / "o.zip")]
        + ["--resolution", "64"],
    )
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: source") and "does not exist" in lines[0]
    assert not (tmp_path / "o.zip").exists()


def test_cli_bad_resolution_and_transform_choice(rgb_folder, tmp_path):
    folder, _ = rgb_folder
    base = ["dataset", "--source", str(folder), "--dest", str(tmp_path / "o.zip")]
    result = CliRunner().invoke(cli, [*base, "--resolution", "100"])
    assert result.exit_code == 1 and "power of two" in result.stderr
    result = CliRunner().invoke(cli, [*base, "--resolution", "8", "--transform", "stretch"])
    assert result.exit_code == 2  # click's own usage error
