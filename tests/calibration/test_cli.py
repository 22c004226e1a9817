"""`ibhfn-calibrate`: files written and exit 0, one-line errors and exit 2, exit 1 on a missed target."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from ibhfn.calibration import calibrate as calibrate_module
from ibhfn.calibration.cli import app
from ibhfn.data import SEN12MSCR
from ibhfn.export.onnx_metadata import read_metadata


def invoke(fp32_onnx, tree, out, *extra: str):
    args = [
        "--onnx",
        str(fp32_onnx),
        "--data",
        str(tree),
        "--out",
        str(out),
        "--samples",
        "4",
        "--tile",
        "64",
        "--holdout",
        "2",
        "--quiet",
        *extra,
    ]
    return CliRunner().invoke(app, args)


def test_writes_the_model_its_patch_list_and_report(fp32_onnx, tree, tmp_path, capfd):
    out = tmp_path / "model.int8.onnx"
    result = invoke(fp32_onnx, tree, out)
    assert result.exit_code == 0, result.output
    assert "delta PSNR" in result.output and "wrote" in result.output
    assert "onnxruntime" not in capfd.readouterr().err  # ONNX Runtime's own warnings go to the process's stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["model.int8.onnx", "model.int8.onnx.calibration.json", "model.int8.onnx.report.json"]


def test_default_method_is_percentile(fp32_onnx, tree, tmp_path):
    out = tmp_path / "model.int8.onnx"
    result = invoke(fp32_onnx, tree, out)
    assert result.exit_code == 0, result.output
    assert read_metadata(out).extra["calibration.method"] == "percentile"


def test_test_split_is_a_one_line_error(fp32_onnx, tree, tmp_path):
    result = invoke(fp32_onnx, tree, tmp_path / "m.onnx", "--split", "test")
    assert result.exit_code == 2
    assert result.output.strip().startswith("error:") and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output and not any(tmp_path.iterdir())


def test_tile_that_is_no_size_multiple_is_refused(fp32_onnx, tree, tmp_path):
    result = invoke(fp32_onnx, tree, tmp_path / "m.onnx", "--tile", "62")
    assert result.exit_code == 2 and "size multiple" in result.output


def test_fp16_or_int8_source_is_refused(calibrated, tree, tmp_path):
    result = invoke(calibrated.path, tree, tmp_path / "m.onnx")
    assert result.exit_code == 2 and "int8 model" in result.output


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail a test that gets as far as choosing patches: what it checks must stop ibhfn-calibrate before."""

    def refuse(*args, **kwargs):
        raise AssertionError("the calibration ran")

    monkeypatch.setattr(calibrate_module, "select_patches", refuse)


def assert_one_line_error(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [result.output.strip()] and result.output.startswith("error: ")
    assert message in result.output and "Traceback" not in result.output


def test_output_over_the_fp32_model_is_refused(fp32_onnx, tree, tmp_path, no_work):
    model = shutil.copy(fp32_onnx, tmp_path / "model.onnx")
    assert_one_line_error(invoke(model, tree, model), "model.onnx: is also an input")
    assert model.read_bytes() == fp32_onnx.read_bytes() and [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


@pytest.mark.parametrize("sidecar", ["m.onnx", "m.onnx.calibration.json", "m.onnx.report.json"])
def test_an_output_that_cannot_be_written_stops_before_the_work(fp32_onnx, tree, tmp_path, no_work, sidecar):
    (tmp_path / sidecar).mkdir()
    assert_one_line_error(invoke(fp32_onnx, tree, tmp_path / "m.onnx"), f"{sidecar}: is a folder, not a file")
    assert [p.name for p in tmp_path.iterdir()] == [sidecar]


@pytest.mark.parametrize(
    "option, value", [("--target-psnr", "nan"), ("--target-psnr", "-1"), ("--target-sam", "0"), ("--target-sam", "inf")]
)
def test_a_target_no_model_can_meet_is_refused_up_front(fp32_onnx, tree, tmp_path, no_work, option, value):
    assert_one_line_error(invoke(fp32_onnx, tree, tmp_path / "m.onnx", option, value), f"{option} must be a positive")
    assert not any(tmp_path.iterdir())


def test_negative_seed_is_a_one_line_error(fp32_onnx, tree, tmp_path):
    assert_one_line_error(invoke(fp32_onnx, tree, tmp_path / "m.onnx", "--seed", "-1"), "--seed must be 0 or more")
    assert not any(tmp_path.iterdir())


def test_truncated_patches_are_skipped_with_one_warning_each(fp32_onnx, tree, tmp_path):
    copy = tmp_path / "tree"
    shutil.copytree(tree, copy)
    train_scene = SEN12MSCR(copy, "train").triplets[0]
    val_scene = SEN12MSCR(copy, "val").triplets[0]
    victims = (train_scene.s1, val_scene.s2_cloudy)  # one calibration candidate, one held-out candidate
    for victim in victims:  # a broken download: the first half of the file
        victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    result = invoke(fp32_onnx, copy, tmp_path / "m.onnx", "--samples", "16", "--holdout", "8")
    assert result.exit_code == 0, result.output
    for victim in victims:
        lines = [line for line in result.stderr.splitlines() if str(victim) in line]
        assert len(lines) == 1 and lines[0].startswith(f"warning: {victim}: cannot be read"), result.stderr
    assert "Traceback" not in result.output
    chosen = json.loads((tmp_path / "m.onnx.calibration.json").read_text())["patches"]
    assert len(chosen) == 15
    assert (train_scene.scene, train_scene.patch) not in {(p["scene"], p["patch"]) for p in chosen}
    assert json.loads((tmp_path / "m.onnx.report.json").read_text())["accuracy"]["samples"] == 7


def test_an_unknown_form_is_a_one_line_error(fp32_onnx, tree, tmp_path, no_work):
    assert_one_line_error(
        invoke(fp32_onnx, tree, tmp_path / "m.onnx", "--form", "gpu"),
        "unknown INT8 form 'gpu'; choose one of tensorrt, cpu",
    )
    assert not any(tmp_path.iterdir())
