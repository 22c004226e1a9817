"""`make demo` end to end at a small scene size: every tool runs and the summary reads their outputs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import rasterio

from ibhfn.bundled import BUNDLED_CHECKPOINT
from ibhfn.demo import DemoPaths, run_demo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo run over a 384 x 384 scene, on a copy of the bundled model given by path (as the bundled-model
    command checks a candidate); its paths and what it printed."""
    root = tmp_path_factory.mktemp("demo")
    checkpoint = shutil.copyfile(BUNDLED_CHECKPOINT, root / "candidate.pt")
    paths = DemoPaths(root / "out")
    capture = pytest.MonkeyPatch()
    printed: list[str] = []
    capture.setattr("builtins.print", lambda *args, **_: printed.append(" ".join(map(str, args))))
    try:
        run_demo(paths, 384, checkpoint)
    finally:
        capture.undo()
    return paths, "\n".join(printed)


def test_both_precisions_restore_the_scene_on_its_grid(demo):
    paths, _ = demo
    with (
        rasterio.open(paths.scenes / "demo_s2.tif") as cloudy,
        rasterio.open(paths.scenes / "demo_target.tif") as truth,
    ):
        grid = (cloudy.crs, cloudy.transform, cloudy.shape)
        target = truth.read().astype(float)
        cloudy_error = np.abs(cloudy.read() - target).mean()
    for precision in ("fp32", "int8"):
        with rasterio.open(paths.restored(precision) / "demo.tif") as restored:
            assert (restored.crs, restored.transform, restored.shape) == grid and restored.count == 13
            # The fitted generator's shadows and haze are harder than its old clouds: the bundled model
            # removes about 40 % of the cloudy input's error on this scene (docs/ablations.md).
            assert np.abs(restored.read().astype(float) - target).mean() < 0.65 * cloudy_error


def test_the_model_given_is_the_one_exported_and_verified(demo):
    paths, _ = demo
    candidate = str(paths.root.parent / "candidate.pt")
    assert json.loads(paths.fp32.with_name("model.onnx.json").read_text())["source"] == candidate
    report = json.loads((paths.report("fp32") / "verify_report.json").read_text())
    assert report["meta"]["reference"]["path"] == candidate


def test_reports_and_quicklook_are_written(demo):
    paths, _ = demo
    for precision in ("fp32", "int8"):
        report = json.loads((paths.report(precision) / "verify_report.json").read_text())
        assert report["verdict"]["passed"], report["verdict"]
        assert (paths.report(precision) / "verify_report.html").stat().st_size > 10_000
    assert paths.quicklook.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_names_quality_deltas_and_outputs(demo):
    paths, printed = demo
    summary = printed.split("== summary")[1]
    for label in ("cloudy input", "restored, FP32 ONNX", "restored, INT8 QDQ", "INT8 against FP32: delta PSNR"):
        assert label in summary
    assert str(paths.quicklook) in summary and str(paths.restored("int8") / "demo.tif") in summary
