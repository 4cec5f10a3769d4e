"""Numbers are checked where they are typed: nan and inf never reach a command."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from stylegan.cli import cli

NET = ["--network", "net.pkl"]  # never loaded: parsing fails first

NON_FINITE = [
    ("generate", [*NET, "--seeds", "0", "--outdir", "o", "--trunc", "nan"], "--trunc"),
    ("generate", [*NET, "--seeds", "0", "--outdir", "o", "--trunc", "inf"], "--trunc"),
    ("generate", [*NET, "--seeds", "0", "--outdir", "o", "--rotate", "nan"], "--rotate"),
    ("generate", [*NET, "--seeds", "0", "--outdir", "o", "--translate", "nan,0"], "--translate"),
    ("mix", [*NET, "--rows", "0", "--cols", "1", "--outdir", "o", "--trunc", "-inf"], "--trunc"),
    ("noise", [*NET, "--seeds", "0", "--outdir", "o", "--trunc", "nan"], "--trunc"),
    ("truncation", [*NET, "--outdir", "o", "--psi", "nan:1:3"], "--psi"),
    ("truncation", [*NET, "--outdir", "o", "--psi", "1,inf"], "--psi"),
    ("video", [*NET, "--seeds", "0", "--output", "v.gif", "--degrees", "nan"], "--degrees"),
    ("video", [*NET, "--seeds", "0", "--output", "v.gif", "--fps", "nan"], "--fps"),
    ("video", [*NET, "--seeds", "0", "--output", "v.gif", "--fps", "inf"], "--fps"),
    ("video", [*NET, "--seeds", "0", "--output", "v.gif", "--speed", "inf"], "--speed"),
    ("video", [*NET, "--seeds", "0", "--output", "v.gif", "--radius", "nan"], "--radius"),
    ("video", [*NET, "--seeds", "0", "--output", "v.gif", "--trunc", "nan"], "--trunc"),
    ("spectrum", [*NET, "--output", "s.png", "--trunc", "nan"], "--trunc"),
    ("demo", ["--minutes", "inf"], "--minutes"),
    ("train", ["--gamma", "nan"], "--gamma"),
    ("train", ["--glr", "inf"], "--glr"),
    ("train", ["--dlr", "nan"], "--dlr"),
    ("train", ["--kimg", "inf"], "--kimg"),
    ("train", ["--minutes", "inf"], "--minutes"),
    ("train", ["--tick", "nan"], "--tick"),
    ("train", ["--target", "nan"], "--target"),
    ("train", ["--p", "nan"], "--p"),
    ("train", ["--ema-kimg", "inf"], "--ema-kimg"),
    ("train", ["--lod-training-kimg", "inf"], "--lod-training-kimg"),
    ("train", ["--lod-transition-kimg", "nan"], "--lod-transition-kimg"),
]


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.lower().startswith("error")]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("command,args,option", NON_FINITE)
def test_non_finite_numbers_are_refused_by_the_parser(command, args, option):
    result = CliRunner().invoke(cli, [command, *args])
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert f"'{option}'" in line and "finite" in line, line


def test_finite_numbers_and_ranges_still_parse():
    ctx = cli.commands["generate"].make_context(
        "generate",
        [*NET, "--seeds", "0", "--outdir", "o", "--trunc", "0.5", "--translate", "0.1,-0.2"],
    )
    assert (ctx.params["truncation_psi"], ctx.params["translate"]) == (0.5, (0.1, -0.2))
    ctx = cli.commands["truncation"].make_context("truncation", [*NET, "--outdir", "o"])
    assert ctx.params["psis"] == [-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0]
    result = CliRunner().invoke(cli, ["video", *NET, "--seeds", "0", "--output", "v", "--fps", "0"])
    assert result.exit_code == 2 and "x>0" in one_error_line(result)


def test_a_bad_psi_spec_stays_a_one_line_user_error():
    result = CliRunner().invoke(cli, ["truncation", *NET, "--outdir", "o", "--psi", "a:b"])
    assert result.exit_code == 1
    assert "cannot read psi range" in one_error_line(result)


@pytest.mark.parametrize("names", [",", " , ,", ""])
def test_metrics_without_names_is_an_error(names):
    result = CliRunner().invoke(cli, ["metrics", *NET, "--metrics", names])
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert "'--metrics'" in line and "names nothing" in line, line


def test_train_metrics_none_means_off_but_an_empty_list_is_an_error():
    result = CliRunner().invoke(cli, ["train", "--cfg", "tiny", "--metrics", "none", "-n"])
    assert result.exit_code == 0, result.output
    assert '"metrics": []' in result.output
    result = CliRunner().invoke(cli, ["train", "--cfg", "tiny", "--metrics", ",", "-n"])
    assert result.exit_code == 2 and "names nothing" in one_error_line(result)
