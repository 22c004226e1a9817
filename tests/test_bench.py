"""`make bench` end to end on tiny scenes: every CPU backend gets a row, the memory table is printed."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from rich.console import Console

from ibhfn.bundled import BUNDLED_CHECKPOINT, BUNDLED_ONNX

BENCH = Path(__file__).resolve().parents[1] / "bench" / "run.py"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench_output() -> str:
    """What `bench/run.py` prints for a 256 px scene, 512 px 'large' and 256 x 1024 'wide' ones, one timed call."""
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--repeats",
            "1",
            "--scene",
            "256",
            "--large",
            "512",
            "--wide",
            "1024",
            "--calibration",
            "4",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )  # rich would wrap the table at 80
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_every_cpu_backend_has_a_row(bench_output):
    for backend, precision in (
        ("PyTorch eager", "fp32"),
        ("ONNX Runtime", "fp32"),
        ("ONNX Runtime", "fp16"),
        ("ONNX Runtime", "int8"),
    ):
        assert any(backend in line and precision in line for line in bench_output.splitlines()), backend


def test_memory_table_compares_the_scene_sizes(bench_output):
    rows = variant_rows(bench_output, "ibhfn-run peak RSS")
    assert set(rows) == {"256 x 256", "512 x 512", "256 x 1024"}, rows
    peaks = {size: float(cells[0]) for size, cells in rows.items()}
    # each figure is ibhfn-run's own peak (a runtime with ONNX Runtime: hundreds of MB, not the parent's GBs)
    assert all(100 < peak < 2000 for peak in peaks.values()), peaks
    for size, cells in rows.items():
        assert abs(float(cells[1]) - peaks[size] / peaks["256 x 256"]) < 0.01


def test_calibration_is_timed_at_each_set_size_in_its_own_process(bench_output):
    rows = variant_rows(bench_output, "ibhfn-calibrate (percentile")
    assert set(rows) == {"4", "8"}, rows
    for seconds, peak, ratio, delta_psnr, delta_sam, *_ in rows.values():
        assert float(seconds) > 0 and 100 < float(peak) < 4000 and 0.5 < float(ratio) < 2
        assert abs(float(delta_psnr)) < 1 and abs(float(delta_sam)) < 1
    assert float(rows["4"][2]) == 1.0


def test_verification_is_timed_against_both_runs(bench_output):
    rows = variant_rows(bench_output, "ibhfn-verify --scenes int8 against fp32")
    assert set(rows) == {"ibhfn-run int8", "ibhfn-run fp32", "ibhfn-verify --scenes"}, rows
    seconds = {name: float(cells[0]) for name, cells in rows.items()}
    ratio = float(bench_output.split("verify / ibhfn-run int8:")[1].split()[0])
    verify, run = seconds["ibhfn-verify --scenes"], seconds["ibhfn-run int8"]
    # the table rounds seconds to 0.01 and the ratio to 0.01: the ratio lies within what the rounding allows
    assert (verify - 0.005) / (run + 0.005) - 0.005 <= ratio <= (verify + 0.005) / (run - 0.005) + 0.005
    assert seconds["ibhfn-verify --scenes"] > 0 and ratio > 0
    assert all(float(cells[1]) > 0 for cells in rows.values()), rows  # CPU seconds
    # the table is the round whose ratio is the median of the rounds run in turn
    caption = " ".join(bench_output.split("verify / ibhfn-run int8:")[1].split())  # rich wraps it at the table
    rounds = [float(r) for r in caption.split("rounds in turn: ratios")[1].split(";")[0].split(",")]
    assert len(rounds) == 3 and ratio == sorted(rounds)[1], rounds


def test_int8_cpu_form_has_a_row_and_is_timed_against_fp32_in_turn(bench_output):
    assert any("int8 (cpu form)" in line for line in bench_output.splitlines())
    for form in ("tensorrt", "cpu"):
        line = f"int8 ({form} form) / fp32 on the CPU, call for call in one process:"
        ratio = float(bench_output.split(line)[1].split()[0])
        assert 0.2 < ratio < 20, ratio


def test_onnx_runtime_and_pytorch_are_compared_call_for_call(bench_output):
    ratio = float(bench_output.split("call for call in one process:")[1].split()[0])
    assert 0.2 < ratio < 20, ratio


def test_models_exported_from_another_checkpoint_are_not_reused(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_run", BENCH)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_run", bench)  # dataclasses look their module up there
    monkeypatch.syspath_prepend(str(BENCH.parent))  # its sibling modules, as `python bench/run.py` finds them
    spec.loader.exec_module(bench)
    model = onnx.load(BUNDLED_ONNX)
    for prop in model.metadata_props:
        if prop.key.endswith("checkpoint_sha256"):
            prop.value = "0" * 64
    onnx.save(model, tmp_path / "model_fp32.onnx")
    with pytest.raises(SystemExit, match="exported from another checkpoint"):
        bench.build_models(BUNDLED_CHECKPOINT, tmp_path, tmp_path / "work", Console())


def variant_rows(bench_output: str, title: str) -> dict[str, list[str]]:
    """The rows of one of the in-turn tables, found by its title: first cell -> the others."""
    table = bench_output.split(title)[1].split("└")[0]
    return {
        cells[1].strip(): cells[2:]
        for cells in (line.split("│") for line in table.splitlines() if line.startswith("│"))
    }


def test_every_output_compression_is_timed_and_sized(bench_output):
    rows = variant_rows(bench_output, "ibhfn-run --compress")
    assert set(rows) == {"deflate", "zstd", "none"}, rows
    sizes = {compress: float(cells[2]) for compress, cells in rows.items()}
    assert sizes["none"] > sizes["deflate"] > 0 and sizes["none"] > sizes["zstd"] > 0, sizes
    assert all(0 < float(cells[1]) <= 1.5 for cells in rows.values()), rows


def test_one_and_two_streams_are_timed_in_turn(bench_output):
    if "ibhfn-run --streams" not in bench_output:
        pytest.skip("ONNX Runtime runs on CUDA here: streams are for the CPU")
    rows = variant_rows(bench_output, "ibhfn-run --streams")
    assert set(rows) == {"1 (default)", "2"}, rows
    assert all(float(cells[0]) > 0 and 0 < float(cells[1]) <= 1.5 for cells in rows.values()), rows


def test_one_and_two_jobs_are_timed_over_copies_of_the_scene(bench_output):
    rows = variant_rows(bench_output, "ibhfn-run --jobs")
    assert set(rows) == {"1", "2"}, rows
    for seconds, per_scene, efficiency, *_ in rows.values():
        assert float(seconds) > float(per_scene) > 0 and 0 < float(efficiency) <= 1.5, rows
