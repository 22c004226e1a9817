from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ibhfn.evaluate.cli import app

runner = CliRunner()


def one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_eval_prints_the_table_and_writes_json(checkpoint: Path, tree: Path, tmp_path: Path):
    result = runner.invoke(
        app,
        [
            "--data",
            str(tree),
            "--checkpoint",
            str(checkpoint),
            "--split",
            "test",
            "--out",
            str(tmp_path / "results.json"),
            "--threads",
            "1",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "SEN12MS-CR test split, 6 images" in result.output and "cloudy input" in result.output
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["samples"] == 6 and results["split"] == "test" and results["model"] == "ibhfn edge"
    assert set(results["overall"]["model"]) == {"mae", "rmse", "psnr", "ssim", "sam"}
    assert sum(g["count"] for g in results["by_roi_season"].values()) == 6
    assert sum(g["count"] for g in results["by_coverage"].values()) == 6


def test_a_file_that_is_not_a_checkpoint_is_a_one_line_error(tree: Path, tmp_path: Path):
    bad = tmp_path / "model.pt"
    bad.write_text("not a checkpoint")
    line = one_line_error(["--data", str(tree), "--checkpoint", str(bad), "--out", str(tmp_path / "r.json")])
    assert line.startswith(f"error: {bad}: not an ibhfn checkpoint")
    assert not (tmp_path / "r.json").exists()


def test_an_out_that_is_the_checkpoint_is_refused_and_the_checkpoint_kept(checkpoint: Path, tree: Path):
    before = checkpoint.read_bytes()
    line = one_line_error(["--data", str(tree), "--checkpoint", str(checkpoint), "--out", str(checkpoint)])
    assert f"{checkpoint}: is also an input" in line
    assert checkpoint.read_bytes() == before


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--device", "tpu", "--device 'tpu' is not a device torch knows; use auto, cpu, cuda or cuda:N"),
        ("--threads", "0", "--threads must be at least 1, got 0"),
        ("--threads", "-1", "--threads must be at least 1, got -1"),
        ("--samples", "0", "--samples must be at least 1, got 0"),
        ("--samples", "-1", "--samples must be at least 1, got -1"),
        ("--batch-size", "0", "--batch-size must be at least 1, got 0"),
        ("--batch-size", "-2", "--batch-size must be at least 1, got -2"),
    ],
)
def test_bad_option_values_are_one_line_errors(
    checkpoint: Path, tree: Path, tmp_path: Path, option: str, value: str, message: str
):
    line = one_line_error(
        [
            "--data",
            str(tree),
            "--checkpoint",
            str(checkpoint),
            "--out",
            str(tmp_path / "r.json"),
            option,
            value,
            "--quiet",
        ]
    )
    assert line == f"error: {message}"
    assert not (tmp_path / "r.json").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch without a CUDA GPU")
def test_cuda_without_a_gpu_is_a_one_line_error(checkpoint: Path, tree: Path):
    assert "no CUDA GPU" in one_line_error(["--data", str(tree), "--checkpoint", str(checkpoint), "--device", "cuda"])


def test_no_readable_sample_is_an_error_after_one_warning_line_per_file(
    checkpoint: Path, unreadable_tree: Path, tmp_path: Path
):
    result = runner.invoke(
        app,
        ["--data", str(unreadable_tree), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "r.json"), "--quiet"],
    )
    assert result.exit_code == 2, result.output
    *warned, error = result.output.strip().splitlines()
    assert len(warned) == 6 and all(line.startswith("warning: ") and "sample skipped" in line for line in warned)
    assert error == f"error: {unreadable_tree}: no image of the test split could be scored (all 6 samples unreadable)"
    assert not list(tmp_path.glob("*r.json*"))


def test_real_pairs_without_s1_are_scored_with_constant_s1_and_clear_input(
    checkpoint: Path, tree: Path, tmp_path: Path
):
    pairs = shutil.copytree(tree, tmp_path / "pairs")
    for folder in pairs.glob("*_s1"):
        shutil.rmtree(folder)
    base = ["--data", str(pairs), "--checkpoint", str(checkpoint), "--split", "test", "--threads", "1", "--quiet"]
    assert runner.invoke(app, base).exit_code == 2  # S1 files are needed unless asked otherwise
    result = runner.invoke(app, [*base, "--s1", "constant", "--out", str(tmp_path / "pairs.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "pairs.json").read_text())
    assert report["samples"] == 6 and report["s1"] == "constant" and report["input"] == "cloudy"
    result = runner.invoke(app, [*base, "--s1", "constant", "--input", "clear", "--out", str(tmp_path / "clear.json")])
    assert result.exit_code == 0, result.output
    clear = json.loads((tmp_path / "clear.json").read_text())
    assert clear["overall"]["identity"]["psnr"] == "inf"  # the input is the target
    assert clear["overall"]["model"]["psnr"] != report["overall"]["model"]["psnr"]
