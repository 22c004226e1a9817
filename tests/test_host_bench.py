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


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return rng.random((2, 2, 32, 32), dtype=np.float32), rng.random((2, 13, 32, 32), dtype=np.float32)


def test_null_engine_returns_a_copy_of_its_optical_input(bench_modules, batch):
    null_engine, _ = bench_modules
    sar, optical = batch
    with null_engine.NullEngine() as engine:
        restored = engine.infer(sar, optical)
    assert np.array_equal(restored, optical) and not np.shares_memory(restored, optical)


def test_null_engine_reuses_a_result_buffer_only_once_nothing_refers_to_it(bench_modules, batch):
    null_engine, _ = bench_modules
    sar, optical = batch
    with null_engine.NullEngine() as engine:
        first = engine.infer(sar, optical)
        tile = first[1]  # a view of one tile, as the pipeline blends it: the buffer stays in use
        addresses = {first.__array_interface__["data"][0]}
        del first
        second = engine.infer(sar, optical * 2)
        assert not np.shares_memory(second, tile) and np.array_equal(tile, optical[1])
        addresses.add(second.__array_interface__["data"][0])
        assert len(addresses) == 2
        del second, tile
        third = engine.infer(sar, optical * 3)  # nothing refers to the earlier results: one of them is reused
    assert np.array_equal(third, optical * 3) and third.__array_interface__["data"][0] in addresses


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


def test_scenes_table_times_the_folder_overlapped_and_one_after_another(bench_modules, tmp_path):
    null_engine, host_pipeline = bench_modules
    for index in range(2):
        write_scene(tmp_path / "scenes", f"s{index}", height=200, width=260, seed=index)
    options = RunOptions(batch_size=4)
    with null_engine.NullEngine() as engine:
        figures = host_pipeline.measure_scenes(engine, tmp_path / "scenes", tmp_path / "out", options, rounds=1)
    assert figures.scenes == 2 and figures.rounds == 1
    assert figures.overlapped_seconds > 0 and figures.sequential_seconds > 0 and figures.ratio > 0
    # the engine's wait between the two scenes, timed around its batches: positive, shorter than the run
    assert 0 < figures.overlapped_idle < figures.overlapped_seconds
    assert 0 < figures.sequential_idle < figures.sequential_seconds
    assert not (tmp_path / "out").exists()  # each round's outputs removed


def test_host_table_reports_cpu_seconds_of_both_passes(bench_modules, scene, tmp_path):
    _, host_pipeline = bench_modules
    figures = host_pipeline.measure_host((scene.s1, scene.s2), tmp_path, RunOptions(batch_size=4), rounds=1)
    assert figures.scene_cpu > 0 and figures.io_cpu > 0
    assert figures.cpu_ratio == pytest.approx(figures.scene_cpu / figures.io_cpu)
