"""``stylegan directions`` end to end on tiny saved networks: every method writes a file that
``load_directions`` reads, and bad input is one ``error:`` line."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from stylegan.cli import cli
from stylegan.io.checkpoint import save_checkpoint
from stylegan.tools.direction_set import DirectionSet, load_directions
from tiny_networks import tiny_network


@pytest.fixture(scope="module")
def networks(tmp_path_factory):
    """Saved tiny G_emas: StyleGAN 1, 2, 3 and a conditional StyleGAN2 (3 classes)."""
    root = tmp_path_factory.mktemp("nets")
    made = {}
    for name in ("stylegan1", "stylegan2", "stylegan3"):
        G = tiny_network(f"{name}.Generator").eval()
        made[name] = (save_checkpoint(root / name, networks={"G_ema": G}), G)
    G = tiny_network("stylegan2.Generator", c_dim=3).eval()
    made["conditional"] = (save_checkpoint(root / "conditional", networks={"G_ema": G}), G)
    return made


@pytest.fixture(scope="module")
def scores_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("scores") / "scores.csv"
    rng = np.random.default_rng(0)
    path.write_text("seed,score\n" + "".join(f"{i},{rng.normal()}\n" for i in range(300)))
    return path


def run(*args):
    return CliRunner().invoke(cli, ["directions", *map(str, args), "--device", "cpu"])


def assert_one_line_error(result, fragment):
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", ["stylegan1", "stylegan2", "stylegan3"])
def test_sefa_writes_a_readable_file(tmp_path, networks, name):
    path, G = networks[name]
    out = tmp_path / "sefa.npz"
    result = run("--method", "sefa", "--network", path, "--out", out, "--layers", "fine")
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output and "SeFa directions" in result.output
    made = load_directions(out)
    made.check_network(G)
    assert made.method == "sefa" and len(made) == G.w_dim and made.num_ws == G.num_ws


def test_ganspace_writes_a_readable_file(tmp_path, networks):
    path, G = networks["stylegan2"]
    out = tmp_path / "g.npz"
    result = run(
        "--method", "ganspace", "--network", path, "--out", out, "--samples", 600,
        "--num", 4, "--layers", "1-3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "explained variance" in result.output
    made = load_directions(out)
    assert (made.method, len(made), made.layers, made.info["samples"]) == (
        "ganspace",
        4,
        (1, 2, 3),
        600,
    )
    assert made.mean.shape == (G.w_dim,) and (made.unit > 0).all()


def test_interfacegan_from_scores_and_from_a_class(tmp_path, networks, scores_csv):
    path, G = networks["stylegan2"]
    first = tmp_path / "first.npz"
    result = run(
        "--method", "interfacegan", "--network", path, "--out", first, "--scores", scores_csv
    )
    assert result.exit_code == 0, result.output
    assert "validation accuracy" in result.output
    boundary = load_directions(first)
    assert boundary.method == "interfacegan" and boundary.dim == G.w_dim
    assert "validation_accuracy" in boundary.info

    cond_path, C = networks["conditional"]
    condition = tmp_path / "condition.npz"
    DirectionSet(np.random.default_rng(1).standard_normal(C.w_dim), "sefa").save(condition)
    out = tmp_path / "class.npz"
    result = run(
        "--method", "interfacegan", "--network", cond_path, "--out", out, "--class", 2,
        "--samples", 300, "--classifier", "logistic", "--condition", condition,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    made = load_directions(out)
    assert made.names == ["class2"] and made.info["classifier"] == "logistic"
    against = load_directions(condition).vectors[0]
    assert abs(float(made.vectors[0] @ against)) < 1e-3 * np.linalg.norm(against)


@pytest.mark.parametrize("source", ["scores", "class"])
def test_stylespace_writes_a_readable_file(tmp_path, networks, scores_csv, source):
    key = "stylegan2" if source == "scores" else "conditional"
    path, G = networks[key]
    given = ("--scores", scores_csv) if source == "scores" else ("--class", 1)
    out = tmp_path / "s.npz"
    result = run(
        "--method", "stylespace", "--network", path, "--out", out, *given, "--samples", 300,
        "--num", 3,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "StyleSpace channels" in result.output
    made = load_directions(out)
    made.check_network(G)
    assert made.space == "s" and len(made) == 3 and made.info["positives"] == 10
    assert all(":" in name for name in made.names)


def test_bad_input_gives_one_line_errors(tmp_path, networks, scores_csv):
    path, _ = networks["stylegan2"]
    cond_path, _ = networks["conditional"]
    out = tmp_path / "x.npz"
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("seed,value\n1,2\n")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"junk")
    base = ("--network", path, "--out", out)
    cases = [
        (("--method", "interfacegan", *base), "needs --scores"),
        (("--method", "interfacegan", *base, "--scores", tmp_path / "none.csv"), "cannot read"),
        (("--method", "interfacegan", *base, "--scores", bad_csv), "columns seed and score"),
        (("--method", "interfacegan", *base, "--class", 0), "unconditional"),
        (("--method", "stylespace", "--network", cond_path, "--out", out, "--class", 5),
         "out of range"),
        (("--method", "sefa", *base, "--scores", scores_csv), "takes no --scores"),
        (("--method", "sefa", *base, "--layers", "2-40"), "layers"),
        (("--method", "interfacegan", *base, "--scores", scores_csv, "--condition", junk),
         "direction file"),
        (("--network", path, "--out", out), "--method"),
    ]  # fmt: skip
    for args, fragment in cases:
        assert_one_line_error(run(*args), fragment)
    assert not out.exists()
