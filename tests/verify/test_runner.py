"""The verification runs as library calls: an INT8 engine's deltas, batching, progress, torch-free import."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import jsonschema
import numpy as np
import rasterio

from ibhfn.runtime.run_options import RunOptions
from ibhfn.verify.engine_pair import open_engine_pair
from ibhfn.verify.report import load_schema, write_report
from ibhfn.verify.runner import compare_samples, verify_dataset, verify_scenes
from ibhfn.verify.samples import VerifySample


class _Recorder:
    """Progress that remembers what it was told."""

    def __init__(self) -> None:
        self.stages: list[tuple[str, int]] = []
        self.done = 0

    def start(self, description: str, total: int) -> None:
        self.stages.append((description, total))

    def advance(self, count: int = 1) -> None:
        self.done += count


def test_int8_engine_reports_nonzero_deltas(int8_onnx, fp32_onnx, data_root, tmp_path):
    progress = _Recorder()
    with open_engine_pair(int8_onnx, fp32_onnx, device="cpu") as pair:
        assert pair.engine.metadata.precision == "int8"
        result = verify_dataset(pair, data_root, batch_size=3, progress=progress)
    assert progress.stages == [("val samples", 4)] and progress.done == 4
    assert result.verdict.thresholds.precision == "int8"  # the engine's own precision by default
    overall = result.summary.overall
    assert overall.difference.max_abs > 1e-3 and np.isfinite(overall.difference.psnr)
    q = overall.quality
    deltas = (q.delta_psnr, q.delta_ssim, q.delta_sam, q.delta_mae)
    assert all(np.isfinite(deltas)) and all(d != 0 for d in deltas)
    assert {c.name for c in result.verdict.checks} == {"non_finite", "psnr", "delta_psnr", "delta_sam"}
    paths = write_report(result.summary, result.verdict, tmp_path, meta=result.meta)
    document = json.loads(paths.json.read_text())
    jsonschema.validate(document, load_schema())
    assert document["overall"]["quality"]["delta"] == {
        "psnr": q.delta_psnr,
        "ssim": q.delta_ssim,
        "sam": q.delta_sam,
        "mae": q.delta_mae,
    }
    assert sum(b["n_samples"] for b in document["buckets"]) == 4
    assert all(s["delta"]["psnr"] != 0 for s in document["samples"])
    assert "&Delta;PSNR dB" in paths.html.read_text()


def test_samples_of_two_sizes_run_in_separate_batches(fp32_onnx, checkpoint):
    rng = np.random.default_rng(0)

    def sample(name: str, size: int) -> VerifySample:
        return VerifySample(name, rng.random((2, size, size), np.float32), rng.random((13, size, size), np.float32))

    samples = [sample("a", 32), sample("b", 32), sample("c", 16), sample("d", 32)]
    with open_engine_pair(fp32_onnx, checkpoint) as pair:
        summary = compare_samples(pair, samples, batch_size=4)
        single = compare_samples(pair, samples[2:3])
    assert [s.sample_id for s in summary.samples] == ["a", "b", "c", "d"]
    assert summary.overall.quality is None and summary.buckets[0].label == "unknown"
    assert summary.overall.difference.max_abs <= 1e-4
    assert summary.samples[2].comparison.difference == single.samples[0].comparison.difference


def test_scene_mode_finds_the_perturbed_band(perturbed_onnx, fp32_onnx, scene_folder):
    progress = _Recorder()
    with open_engine_pair(perturbed_onnx, fp32_onnx) as pair:
        result = verify_scenes(
            pair, scene_folder, options=RunOptions(tile_size=64, overlap=16, batch_size=2), window=64, progress=progress
        )
    assert progress.stages == [("scene (engine)", 4), ("scene (reference)", 4)] and progress.done == 8
    assert not result.verdict.passed and result.verdict.failing_bands == ("B6",)
    assert [s.sample_id for s in result.summary.samples] == ["scene@0,0", "scene@0,64", "scene@64,0", "scene@64,64"]
    deltas = [abs(d.psnr) for d in result.summary.overall.band_deltas]  # the truth sees B6 move, only B6
    assert deltas[5] > 1e-3 and max(deltas[:5] + deltas[6:]) < 1e-4


def test_scene_mode_reads_a_baseline_04_product_through_its_offset(perturbed_onnx, fp32_onnx, scene_folder, tmp_path):
    for path in scene_folder.iterdir():  # the same scene as a product of baseline 04.00 stores it
        with rasterio.open(path) as source:
            values, profile = source.read(), source.profile
        if path.stem.endswith(("_s2", "_target")):
            values = np.where((values != 0).any(axis=0), values + 1000, 0).astype(values.dtype)
        with rasterio.open(tmp_path / path.name, "w", **profile) as copy:
            copy.write(values)
    options = RunOptions(tile_size=64, overlap=16, batch_size=2)
    with open_engine_pair(perturbed_onnx, fp32_onnx) as pair:
        plain = verify_scenes(pair, scene_folder, options=options, window=64)
        offset = verify_scenes(pair, tmp_path, options=replace(options, s2_offset=-1000), window=64)
        with (
            rasterio.open(tmp_path / "scene_s2.tif", "r+") as cloudy,
            rasterio.open(tmp_path / "scene_target.tif", "r+") as target,
        ):  # as the files may declare it
            cloudy.update_tags(PROCESSING_BASELINE="05.10")
            target.scales, target.offsets = (0.0001,) * 13, (-0.1,) * 13
        declared = verify_scenes(pair, tmp_path, options=options, window=64)
        forced = verify_scenes(pair, tmp_path, options=replace(options, s2_offset=0), window=64)
    assert offset.meta["data"]["s2_offset"] == -1000 and declared.meta["data"]["s2_offset"] is None
    assert declared.meta["data"]["scenes"][0]["s2_offset"] == {
        "s2": {"dn": -1000, "from": "PROCESSING_BASELINE 05.10"},
        "target": {"dn": -1000, "from": "band offsets"},
    }
    [scene] = forced.meta["data"]["scenes"]
    assert [w.split(":")[0] for w in scene["warnings"] if "but the run was given --s2-offset 0" in w] == [
        str(tmp_path / "scene_s2.tif"),
        str(tmp_path / "scene_target.tif"),
    ]
    assert offset.summary.overall == plain.summary.overall and offset.summary.overall.quality is not None
    assert declared.summary.overall == plain.summary.overall


def test_scene_mode_counts_pixels_without_data_as_agreement(perturbed_onnx, fp32_onnx, scene_folder, tmp_path):
    for path in scene_folder.iterdir():  # the same scene with its first 64 x 64 window outside the S2 swath
        with rasterio.open(path) as source:
            values, profile = source.read(), source.profile
        if path.stem.endswith("_s2"):
            values[:, :64, :64] = 0
            values[:, 64:, :32] = 0  # and half the window below it
        with rasterio.open(tmp_path / path.name, "w", **profile) as copy:
            copy.write(values)
    with open_engine_pair(perturbed_onnx, fp32_onnx) as pair:
        result = verify_scenes(pair, tmp_path, options=RunOptions(tile_size=64, overlap=16, batch_size=2), window=64)
    samples = {s.sample_id: s.comparison for s in result.summary.samples}
    empty, half, full = samples["scene@0,0"], samples["scene@64,0"], samples["scene@0,64"]
    assert empty.difference.max_abs == 0 and empty.sam == 0 and empty.bands[5].psnr == np.inf
    assert empty.quality is not None and empty.quality.engine.mae == 0  # the truth is blanked there too
    assert 0 < half.bands[5].mean_abs < full.bands[5].mean_abs  # half its pixels agree by definition


def test_verifier_modules_import_without_torch():
    code = (
        "import sys, ibhfn.verify.cli, ibhfn.verify.runner, ibhfn.verify.engine_pair; "
        "print(sorted({'torch', 'matplotlib', 'ibhfn.verify.reference'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
