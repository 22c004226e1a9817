"""`ibhfn-calibrate`: files written and exit 0, one-line errors and exit 2, exit 1 on a missed target."""

from __future__ import annotations

from typer.testing import CliRunner

from ibhfn.calibration.cli import app
from ibhfn.export.onnx_metadata import read_metadata


def invoke(fp32_onnx, tree, out, *extra: str):
    args = ["--onnx", str(fp32_onnx), "--data", str(tree), "--out", str(out), "--samples", "4", "--tile", "64",
            "--holdout", "2", "--quiet", *extra]
    return CliRunner().invoke(app, args)


def test_writes_the_model_its_patch_list_and_report(fp32_onnx, tree, tmp_path):
    out = tmp_path / "model.int8.onnx"
    result = invoke(fp32_onnx, tree, out)
    assert result.exit_code == 0, result.output
    assert "delta PSNR" in result.output and "wrote" in result.output
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
