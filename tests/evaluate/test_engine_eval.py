"""`ibhfn-eval --engine`: an ONNX engine is scored as its checkpoint is, and a deployed bundle's engine as verified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ibhfn.evaluate.cli import app
from ibhfn.export.deploy_cli import app as deploy_app
from ibhfn.export.onnx_export import export_onnx

runner = CliRunner()


def scores(*args: object) -> dict:
    out = Path(str(args[-1]))
    result = runner.invoke(app, [str(a) for a in args[:-1]] + ["--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def test_an_fp32_onnx_scores_as_its_checkpoint_and_fp16_close_to_it(checkpoint: Path, tree: Path, tmp_path: Path):
    fp32 = export_onnx(checkpoint, tmp_path / "tiny.onnx").path
    fp16 = export_onnx(checkpoint, tmp_path / "tiny.fp16.onnx", precision="fp16").path
    common = ("--data", tree, "--split", "test")
    torch_scores = scores(*common, "--checkpoint", checkpoint, tmp_path / "torch.json")
    onnx_scores = scores(*common, "--engine", fp32, tmp_path / "onnx.json")
    half_scores = scores(*common, "--engine", fp16, tmp_path / "half.json")
    assert onnx_scores["samples"] == torch_scores["samples"] == 6
    assert onnx_scores["model"] == "ibhfn edge (tiny.onnx, fp32, onnxruntime (CPUExecutionProvider))"
    assert onnx_scores["engine"] == str(fp32) and "checkpoint" not in onnx_scores
    for metric, value in torch_scores["overall"]["model"].items():
        assert onnx_scores["overall"]["model"][metric] == pytest.approx(value, rel=1e-4, abs=1e-5), metric
        assert half_scores["overall"]["model"][metric] == pytest.approx(value, rel=2e-2, abs=1e-3), metric
    assert onnx_scores["overall"]["identity"] == torch_scores["overall"]["identity"]


def test_a_broken_engine_file_is_one_line(tree: Path, tmp_path: Path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    result = runner.invoke(app, ["--data", str(tree), "--engine", str(broken)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {broken}"), result.output


@pytest.mark.slow
def test_a_deployed_bundles_engine_scores_what_its_verify_report_says(tree: Path, tmp_path: Path):
    bundle = tmp_path / "bundle"  # the bundled model: trained, so its outputs are reflectance, as verify scores them
    deployed = CliRunner().invoke(
        deploy_app, ["--precision", "fp16", "--data", str(tree), "--samples", "6", "--tile", "64", str(bundle)]
    )
    assert deployed.exit_code == 0, deployed.output
    verified = json.loads((bundle / "verify" / "verify_report.json").read_text())
    assert verified["n_samples"] == 6  # every val patch, as ibhfn-eval scores them
    scored = scores("--data", tree, "--split", "val", "--engine", bundle / "model.fp16.onnx", tmp_path / "eval.json")
    engine, model = verified["overall"]["quality"]["engine"], scored["overall"]["model"]
    # ibhfn-eval clips the output to reflectance [0, 1], verify scores it raw: clipping can only move a
    # value towards a truth in [0, 1], so eval's errors are at most verify's, and close to them
    assert model["mae"] <= engine["mae"] and model["rmse"] <= engine["rmse"] and model["psnr"] >= engine["psnr"]
    for metric in ("mae", "rmse", "psnr", "ssim", "sam"):
        assert model[metric] == pytest.approx(engine[metric], rel=5e-3), metric
