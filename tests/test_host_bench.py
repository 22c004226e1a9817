"""The benchmark's null engine and I/O-only pass (bench/null_engine.py, bench/host_pipeline.py) on a small scene."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from ibhfn.data.synthetic import write_scene
from ibhfn.runtime.pipeline import run_scene
from ibhfn.runtime.run_options import RunOptions

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def bench_modules():
    sys.path.insert(0, str(BENCH))  # as `python bench/run.py` finds its sibling modules
    try:
        import host_pipeline
        import null_engine

        yield null_engine, host_pipeline
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return write_scene(tmp_path_factory.mktemp("scene"), "host", height=300, width=520, seed=2)


def test_null_engine_returns_a_copy_of_its_optical_input(bench_modules):
    null_engine, _ = bench_modules
    rng = np.random.default_rng(0)
    sar, optical = rng.random((2, 2, 32, 32), dtype=np.float32), rng.random((2, 13, 32, 32), dtype=np.float32)
    with null_engine.NullEngine() as engine:
        restored = engine.infer(sar, optical)
    assert np.array_equal(restored, optical) and not np.shares_memory(restored, optical)


def test_null_engine_scene_gives_back_the_input_and_io_only_writes_the_same_file(bench_modules, scene, tmp_path):
    null_engine, host_pipeline = bench_modules
    options = RunOptions(batch_size=4)
    with null_engine.NullEngine() as engine:
        result = run_scene(engine, scene.s1, scene.s2, tmp_path / "null.tif", options)
        seconds = host_pipeline.io_only_seconds(engine, (scene.s1, scene.s2), tmp_path / "io.tif", options)
    assert result.status == "done" and seconds > 0
    with (
        rasterio.open(scene.s2) as src,
        rasterio.open(tmp_path / "null.tif") as null,
        rasterio.open(tmp_path / "io.tif") as io,
    ):
        dn = src.read().astype(np.int64)
        restored, written = null.read().astype(np.int64), io.read().astype(np.int64)
        # blending identical tiles gives each pixel back; DN round-trip through network scale (clipped at 1 DN)
        assert np.abs(restored - np.maximum(dn, 1)).max() <= 1
        assert np.array_equal(written, dn)
        assert io.profile == null.profile  # same blocks, compression, type and grid


def test_host_table_reports_both_passes_and_their_ratio(bench_modules, scene, tmp_path):
    _, host_pipeline = bench_modules
    figures = host_pipeline.measure_host((scene.s1, scene.s2), tmp_path, RunOptions(batch_size=4), rounds=1)
    assert figures.scene_seconds > 0 and figures.io_seconds > 0 and figures.ratio > 0
    assert figures.stages["write"] > 0 and figures.stages["blend"] > 0
