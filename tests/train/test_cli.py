from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ibhfn.train import LAST
from ibhfn.train.cli import app

runner = CliRunner()


def one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_missing_data_folder_is_a_one_line_error(tmp_path: Path):
    line = one_line_error(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")])
    assert "nowhere: data folder not found" in line
    assert not (tmp_path / "run").exists()


def test_no_data_and_no_synthetic_is_a_one_line_error(tmp_path: Path):
    assert "--synthetic" in one_line_error(["--out", str(tmp_path / "run")])


def test_unknown_architecture_is_a_one_line_error(tree: Path, tmp_path: Path):
    assert "unknown architecture 'unet'" in one_line_error(
        ["--data", str(tree), "--out", str(tmp_path), "--arch", "unet"])


def test_resume_of_an_empty_folder_is_a_one_line_error(tree: Path, tmp_path: Path):
    line = one_line_error(["--data", str(tree), "--out", str(tmp_path), "--resume"])
    assert str(tmp_path / LAST) in line and "nothing to resume" in line


def test_a_preset_the_architecture_lacks_is_refused_before_any_data_is_generated(tmp_path: Path):
    line = one_line_error(["--synthetic", "--out", str(tmp_path / "run"), "--arch", "dsen2cr", "--preset", "edge"])
    assert "unknown dsen2cr preset 'edge'" in line
    assert not (tmp_path / "run").exists()
