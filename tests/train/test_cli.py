from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
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
        ["--data", str(tree), "--out", str(tmp_path), "--arch", "unet"]
    )


def test_resume_of_an_empty_folder_is_a_one_line_error(tree: Path, tmp_path: Path):
    line = one_line_error(["--data", str(tree), "--out", str(tmp_path), "--resume"])
    assert str(tmp_path / LAST) in line and "nothing to resume" in line


def test_a_preset_the_architecture_lacks_is_refused_before_any_data_is_generated(tmp_path: Path):
    line = one_line_error(["--synthetic", "--out", str(tmp_path / "run"), "--arch", "dsen2cr", "--preset", "edge"])
    assert "unknown dsen2cr preset 'edge'" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--device", "tpu", "--device 'tpu' is not a device torch knows; use auto, cpu, cuda or cuda:N"),
        ("--threads", "0", "--threads must be at least 1, got 0"),
        ("--seed", "-1", "--seed must be from 0 to 4294967295, got -1"),
        ("--lr", "nan", "--lr must be a finite number above 0, got nan"),
        ("--lr", "inf", "--lr must be a finite number above 0, got inf"),
        ("--lr", "0", "--lr must be a finite number above 0, got 0.0"),
        ("--grad-clip", "nan", "--grad-clip must be a finite number of at least 0, got nan"),
        ("--weight-decay", "-1", "--weight-decay must be a finite number of at least 0, got -1.0"),
        ("--weight-decay", "inf", "--weight-decay must be a finite number of at least 0, got inf"),
        ("--l1-warmup-steps", "-1", "--l1-warmup-steps must be at least 0, got -1"),
        ("--ramp-steps", "-1", "--ramp-steps must be at least 0, got -1"),
        ("--kl-warmup-steps", "-1", "--kl-warmup-steps must be at least 0, got -1"),
        ("--batch-size", "0", "--batch-size must be at least 1, got 0"),
        ("--crop", "-1", "--crop must be at least 1 (or 0 for whole tiles), got -1"),
    ],
)
def test_bad_option_values_are_one_line_errors_before_any_work(
    tree: Path, tmp_path: Path, option: str, value: str, message: str
):
    assert one_line_error(["--data", str(tree), "--out", str(tmp_path / "run"), option, value]) == f"error: {message}"
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch without a CUDA GPU")
def test_cuda_without_a_gpu_is_a_one_line_error(tree: Path, tmp_path: Path):
    assert "no CUDA GPU" in one_line_error(["--data", str(tree), "--out", str(tmp_path / "run"), "--device", "cuda"])


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    """An ordinary file, where a run folder is asked for."""
    path = tmp_path / "afile"
    path.write_text("not a folder")
    return path


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("{file}", "{file}: is a file, not a run folder"),
        ("{file}/sub", "{file}/sub: is under {file}, a file, not a run folder"),
    ],
)
def test_an_out_that_is_or_is_under_a_file_is_a_one_line_error(tree: Path, a_file: Path, where: str, message: str):
    line = one_line_error(["--data", str(tree), "--out", where.format(file=a_file)])
    assert line.startswith(f"error: {message.format(file=a_file)}")
    assert a_file.read_text() == "not a folder"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("/proc/no-such-process/run", "/proc/no-such-process/run: cannot create the run folder"),
        ("/proc/self", "/proc/self/config.json: cannot be written"),
    ],
)
def test_an_out_where_no_run_folder_can_be_written_is_a_one_line_error(tree: Path, out: str, message: str):
    line = one_line_error(["--data", str(tree), "--out", out, "--epochs", "1", "--crop", "32", "--batch-size", "2"])
    assert line.startswith(f"error: {message}")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_a_synthetic_run_where_no_folder_can_be_made_is_a_one_line_error():
    line = one_line_error(["--synthetic", "--out", "/proc/no-such-process/run"])
    assert line.startswith("error: /proc/no-such-process/run: cannot create the run folder")


def test_warnings_are_one_line_each(tree: Path, tmp_path: Path):
    partial = shutil.copytree(tree, tmp_path / "tree")
    next(partial.glob("*_s2_cloudy/*/*.tif")).unlink()  # an incomplete triplet: the reader warns and skips it
    result = runner.invoke(app, ["--data", str(partial), "--out", str(tmp_path / "run"), "--batch-size", "99", "-q"])
    assert result.exit_code == 2, result.output
    warned, error = result.output.strip().splitlines()
    assert warned.startswith(f"warning: {partial}: skipped 1 incomplete triplet(s)")
    assert error.startswith("error: ") and "lower --batch-size" in error


def test_sar_skips_clear_patches_and_s1_dropout_reach_the_recorded_run(tree: Path, tmp_path: Path):
    clear = tmp_path / "clear"
    clear.mkdir()
    shutil.copy(sorted(tree.glob("*_s2/s2_*/*.tif"))[0], clear / "s2_ROIs2017_146_ImgNo_0_2018-01-06_patch_0.tif")
    result = runner.invoke(
        app,
        [
            "--data",
            str(tree),
            "--out",
            str(tmp_path / "run"),
            "--max-steps",
            "1",
            "--batch-size",
            "2",
            "--crop",
            "64",
            "--sar-skips",
            "--real-clear",
            str(clear),
            "--s1-dropout",
            "0.2",
            "-q",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    checkpoint = torch.load(tmp_path / "run" / LAST, weights_only=True)
    assert checkpoint["meta"]["train_config"]["model_overrides"] == {"sar_skips": True}
    assert checkpoint["meta"]["train_config"]["s1_dropout"] == 0.2
    assert checkpoint["config"]["sar_skips"] and any(key.startswith("skip_vibs.") for key in checkpoint["state_dict"])
