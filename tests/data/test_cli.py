from __future__ import annotations

from pathlib import Path

import pytest
import rasterio
from typer.testing import CliRunner

from ibhfn.data import SEN12MSCR
from ibhfn.data.cli import app

runner = CliRunner()


def test_tree_command_writes_a_readable_tree(tmp_path: Path):
    result = runner.invoke(
        app,
        [
            "tree",
            str(tmp_path),
            "--seed",
            "2",
            "--train",
            "1",
            "--val",
            "1",
            "--test",
            "0",
            "--patches",
            "2",
            "--size",
            "32",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(SEN12MSCR(tmp_path, "train")) == 2 and len(SEN12MSCR(tmp_path, "val")) == 2


def test_scene_command_writes_the_runtime_pair(tmp_path: Path):
    result = runner.invoke(
        app, ["scene", str(tmp_path), "--size", "70x50", "--seed", "1", "--s1-crs", "EPSG:4326", "--nodata-border", "2"]
    )
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "scene_s2.tif") as s2, rasterio.open(tmp_path / "scene_s1.tif") as s1:
        assert s2.shape == (70, 50) and s2.count == 13 and s2.nodata == 0
        assert s1.crs.to_epsg() == 4326 and s1.count == 2
    assert (tmp_path / "scene_target.tif").is_file() and (tmp_path / "scene_cloudmask.tif").is_file()


def test_bad_size_is_a_one_line_error_with_exit_2(tmp_path: Path):
    result = runner.invoke(app, ["scene", str(tmp_path / "out"), "--size", "70by50"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --size '70by50'")
    assert not (tmp_path / "out").exists()


def test_bad_crs_is_a_one_line_error_and_nothing_is_left(tmp_path: Path):
    result = runner.invoke(app, ["scene", str(tmp_path), "--size", "20x20", "--s1-crs", "EPSG:0"])
    assert result.exit_code == 2 and result.output.strip().startswith("error: S1 CRS 'EPSG:0'")
    assert len(result.output.strip().splitlines()) == 1 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scene", "--seed", "-1"], "seed must be 0 or more"),
        (["tree", "--seed", "-4"], "seed must be 0 or more"),
        (["tree", "--size", "16", "--patches", "100000", "--train", "1", "--val", "0", "--test", "0"], "1 to 999"),
        (["scene", "--size", "32x32", "--s1-resolution", "0"], "S1 resolution must be a positive number"),
        (["scene", "--size", "32x32", "--s1-crs", "EPSG:4326", "--s1-resolution", "1000"], "is undefined"),
        (["scene", "--size", "32x32", "--name", "a/b"], "without path separators"),
    ],
)
def test_bad_arguments_are_one_line_with_exit_2_and_write_nothing(tmp_path: Path, args, message):
    result = runner.invoke(app, [*args, str(tmp_path / "out")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))
