import hashlib
import json
import threading
import time
import tracemalloc
from collections import deque
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio

import ibhfn
from ibhfn.errors import IbhfnError, InputError, ShapeError
from ibhfn.hashing import HashingStopped
from ibhfn.runtime import pipeline as pipeline_module
from ibhfn.runtime.engine import open_engine
from ibhfn.runtime.pipeline import run_scene
from ibhfn.runtime.run_options import RunOptions
from ibhfn.runtime.s2_offset import DeclaredOffset, declared_offset
from ibhfn.runtime.scene_record import record_path
from ibhfn.runtime.tiling import TileGrid
from ibhfn.runtime.writer import BLOCK
from ibhfn.versions import versions

# Tiled and whole-image passes of the stand-in agree to this (reflectance; 5e-4 is 5 DN of 10000).
SEAM_TOLERANCE = 5e-4


@pytest.fixture(scope="module")
def engine(onnx_engine_path):
    with open_engine(onnx_engine_path, device="cpu", threads=1) as loaded:
        yield loaded


def read(path):
    with rasterio.open(path) as dataset:
        return dataset.read(), dataset.profile, dataset.descriptions


def whole_image(engine, s1, s2):
    """The model over the whole scene in one pass, as reflectance."""
    prep = engine.metadata.preprocessing
    sar, dn = read(s1)[0].astype(np.float32), read(s2)[0].astype(np.float32)
    return prep.reflectance(engine.infer(prep.sar(sar)[None], prep.optical(dn)[None])[0])


def test_odd_sized_scene_keeps_size_and_georeferencing(tmp_path, engine, make_scene):
    s1, s2 = make_scene(tmp_path / "in", height=1000, width=777)
    result = run_scene(engine, s1, s2, tmp_path / "out" / "scene.tif", RunOptions(tile_size=128))
    restored, profile, descriptions = read(tmp_path / "out" / "scene.tif")
    _, reference, _ = read(s2)
    assert restored.shape == (13, 1000, 777) and restored.dtype == np.uint16
    assert profile["crs"] == reference["crs"] and profile["transform"] == reference["transform"]
    assert descriptions == engine.metadata.s2_bands
    assert profile["tiled"] and profile["compress"] == "deflate"
    assert result.status == "done" and result.tiles == len(TileGrid(1000, 777, 128, 32))
    assert (restored > 0).any(axis=0).all()  # no pixel became nodata


def test_float_output_has_no_nan_and_matches_a_whole_image_pass(tmp_path, engine, make_scene):
    s1, s2 = make_scene(tmp_path / "in", height=200, width=176)
    options = RunOptions(tile_size=64, overlap=32, output_dtype="float32")
    run_scene(engine, s1, s2, tmp_path / "scene.tif", options)
    tiled = read(tmp_path / "scene.tif")[0]
    assert not np.isnan(tiled).any()
    error = np.abs(tiled - whole_image(engine, s1, s2)).max(axis=0)

    grid = TileGrid(200, 176, 64, 32)
    near_border = np.zeros(error.shape, bool)  # within the stand-in's 3 px reach of an inner tile border
    for start in grid.rows:
        for line in (start, start + 64):
            if 0 < line < 200:
                near_border[max(0, line - 3) : line + 3] = True
    for start in grid.cols:
        for line in (start, start + 64):
            if 0 < line < 176:
                near_border[:, max(0, line - 3) : line + 3] = True
    assert error[~near_border].max() < 1e-6  # away from tile borders: the same numbers
    assert error[near_border].max() < SEAM_TOLERANCE  # along seams: within 5 DN


def test_seams_are_visible_without_overlap(tmp_path, engine, make_scene):
    """The seam check can fail: abutting tiles leave errors far above the tolerance."""
    s1, s2 = make_scene(tmp_path / "in", height=128, width=128)
    run_scene(engine, s1, s2, tmp_path / "scene.tif", RunOptions(tile_size=64, overlap=0, output_dtype="float32"))
    error = np.abs(read(tmp_path / "scene.tif")[0] - whole_image(engine, s1, s2))
    assert error.max() > 10 * SEAM_TOLERANCE


def test_nodata_stays_nodata_and_empty_tiles_are_skipped(tmp_path, engine, make_scene):
    s1, s2 = make_scene(tmp_path / "in", height=300, width=260, nodata_border=70)
    result = run_scene(engine, s1, s2, tmp_path / "scene.tif", RunOptions(tile_size=64, overlap=16))
    restored = read(tmp_path / "scene.tif")[0]
    source = read(s2)[0]
    nodata = (source == 0).all(axis=0)
    assert nodata.sum() > 0
    assert (restored[:, nodata] == 0).all()
    assert (restored[:, ~nodata] > 0).any(axis=0).all()
    assert result.empty_tiles > 0 and result.tiles + result.empty_tiles == len(TileGrid(300, 260, 64, 16))
    assert result.warnings == []


def test_a_scene_without_valid_pixels_is_written_as_nodata_with_a_warning(tmp_path, engine, geotiff, make_scene):
    s1, s2 = make_scene(tmp_path / "in", height=64, width=64)
    geotiff(s2, np.zeros_like(read(s2)[0]))
    result = run_scene(engine, s1, s2, tmp_path / "scene.tif", RunOptions(tile_size=64))
    assert (result.status, result.tiles) == ("done", 0) and (read(tmp_path / "scene.tif")[0] == 0).all()
    assert result.warnings == [f"{s2}: holds no valid pixel (all nodata): the output is nodata throughout"]


def test_nan_pixels_in_s2_become_nodata(tmp_path, engine, geotiff, make_scene):
    s1, s2 = make_scene(tmp_path / "in", height=64, width=64)
    dn = read(s2)[0].astype(np.float32)
    dn[:, 10:20, 30:40] = np.nan
    s2_float = geotiff(tmp_path / "in" / "f_s2.tif", dn)
    run_scene(engine, s1, s2_float, tmp_path / "scene.tif", RunOptions(tile_size=64, output_dtype="float32"))
    restored = read(tmp_path / "scene.tif")[0]
    assert np.isnan(restored[:, 10:20, 30:40]).all()
    assert np.isfinite(restored).sum() == 13 * (64 * 64 - 100)


def test_s1_on_another_crs_is_reprojected(tmp_path, engine, make_scene):
    s1, s2 = make_scene(tmp_path / "in", height=120, width=100, s1_crs="EPSG:4326")
    result = run_scene(engine, s1, s2, tmp_path / "scene.tif", RunOptions(tile_size=64))
    restored, profile, _ = read(tmp_path / "scene.tif")
    assert profile["crs"] == read(s2)[1]["crs"] and restored.shape == (13, 120, 100)
    assert json.loads(record_path(tmp_path / "scene.tif").read_text())["inputs"]["s1_warped"] is True
    assert result.warnings == []


def test_scene_smaller_than_a_tile_is_padded(tmp_path, engine, make_scene):
    s1, s2 = make_scene(tmp_path / "in", height=40, width=50)
    result = run_scene(engine, s1, s2, tmp_path / "scene.tif", RunOptions(tile_size=64))
    assert read(tmp_path / "scene.tif")[0].shape == (13, 40, 50) and result.tiles == 1


def test_record_names_inputs_engine_options_and_timings(tmp_path, engine, make_scene):
    s1, s2 = make_scene(tmp_path / "in", height=64, width=64)
    run_scene(engine, s1, s2, tmp_path / "scene.tif", RunOptions(tile_size=64))
    record = json.loads(record_path(tmp_path / "scene.tif").read_text())
    assert record["inputs"]["s2"]["size_bytes"] == s2.stat().st_size
    assert len(record["inputs"]["s1"]["sha256"]) == 64
    assert record["engine"]["sha256"] == engine.sha256
    assert record["engine"]["metadata"]["ibhfn.size_multiple"] == "4"
    assert record["versions"] == versions() and record["versions"]["gdal"] == rasterio.__gdal_version__
    assert record["options"]["tile_size"] == 64 and record["tiles"]["run"] == 1
    assert record["output"]["size_bytes"] == (tmp_path / "scene.tif").stat().st_size
    assert {"hash", "read", "prepare", "infer", "blend", "encode", "write", "total"} <= set(record["timings"])
    with rasterio.open(tmp_path / "scene.tif") as output:  # the output names its making without the record too
        tags = output.tags()
    assert tags["TIFFTAG_SOFTWARE"] == f"ibhfn {ibhfn.__version__}" and tags["IBHFN_INPUT_S2_OFFSET"] == "0"
    assert (tags["IBHFN_S1"], tags["IBHFN_S2"]) == (s1.name, s2.name)
    assert tags["IBHFN_ENGINE"] == f"{engine.path.name} ({engine.backend})"


def test_inputs_are_hashed_beside_the_scene_not_before_it(tmp_path, engine, make_scene, monkeypatch):
    s1, s2 = make_scene(tmp_path / "in", height=64, width=64)
    threads = []
    measure = pipeline_module.FileFacts.of
    monkeypatch.setattr(
        pipeline_module.FileFacts,
        "of",
        lambda path, stop: threads.append(threading.current_thread().name) or measure(path, stop),
    )
    run_scene(engine, s1, s2, tmp_path / "scene.tif", RunOptions(tile_size=64))
    assert len(threads) == 2 and all(name.startswith("ibhfn-hash") for name in threads), threads
    record = json.loads(record_path(tmp_path / "scene.tif").read_text())
    assert record["inputs"]["s1"]["sha256"] == hashlib.sha256(s1.read_bytes()).hexdigest()


def test_resume_skips_only_a_matching_finished_scene(tmp_path, engine, make_scene):
    s1, s2 = make_scene(tmp_path / "in", height=64, width=64)
    out = tmp_path / "scene.tif"
    options = RunOptions(tile_size=64)
    assert run_scene(engine, s1, s2, out, options, resume=True).status == "done"
    stamp = out.stat().st_mtime_ns
    assert run_scene(engine, s1, s2, out, options, resume=True).status == "skipped"
    assert out.stat().st_mtime_ns == stamp
    assert run_scene(engine, s1, s2, out, RunOptions(tile_size=64, overlap=8), resume=True).status == "done"
    zstd = RunOptions(tile_size=64, overlap=8, compress="zstd")
    assert run_scene(engine, s1, s2, out, zstd, resume=True).status == "done"
    assert run_scene(engine, s1, s2, out, zstd, resume=True).status == "skipped"
    record_path(out).unlink()
    assert run_scene(engine, s1, s2, out, RunOptions(tile_size=64, overlap=8), resume=True).status == "done"


@pytest.mark.parametrize("damage", ["[1, 2]", "{}", '{"format": 1}', "not json"])
def test_resume_runs_a_scene_whose_record_is_damaged_again(tmp_path, engine, make_scene, damage):
    s1, s2 = make_scene(tmp_path / "in", height=64, width=64)
    out = tmp_path / "scene.tif"
    run_scene(engine, s1, s2, out, RunOptions(tile_size=64))
    record_path(out).write_text(damage)
    assert run_scene(engine, s1, s2, out, RunOptions(tile_size=64), resume=True).status == "done"


def test_an_output_over_an_input_is_refused_before_anything_is_written(tmp_path, engine, make_scene):
    s1, s2 = make_scene(tmp_path / "in", height=64, width=64)
    before = s2.read_bytes()
    with pytest.raises(InputError, match=rf"^{s2}: is also an input \({s2}\)"):
        run_scene(engine, s1, s2, s2, RunOptions(tile_size=64))
    assert s2.read_bytes() == before and not record_path(s2).exists()


def test_a_folder_under_the_output_s_name_fails_the_scene_with_one_line(tmp_path, engine, make_scene):
    s1, s2 = make_scene(tmp_path / "in", height=64, width=64)
    (tmp_path / "scene.tif").mkdir()
    with pytest.raises(InputError, match=rf"^{tmp_path / 'scene.tif'}: is a folder, not a file$"):
        run_scene(engine, s1, s2, tmp_path / "scene.tif", RunOptions(tile_size=64))


def test_running_out_of_memory_is_one_line_and_a_larger_batch_than_the_scene_is_cut(
    tmp_path, engine, make_scene, monkeypatch
):
    s1, s2 = make_scene(tmp_path / "in", height=64, width=64)

    def no_memory(*args):  # what numpy raises for a tile far too large (a real one is unsafe where memory overcommits)
        raise MemoryError

    with monkeypatch.context() as patch:
        patch.setattr(pipeline_module._BatchInputs, "__init__", no_memory)
        message = (
            rf"^{s2}: not enough memory to restore it in blocks of 2048 px with tiles of 64 px in batches of "
            r"1; give a smaller --block-width, --batch or --jobs$"
        )
        with pytest.raises(InputError, match=message):
            run_scene(engine, s1, s2, tmp_path / "huge.tif", RunOptions(tile_size=64))
    assert not (tmp_path / "huge.tif").exists()
    assert run_scene(engine, s1, s2, tmp_path / "scene.tif", RunOptions(tile_size=64, batch_size=10**9)).tiles == 1


def test_an_offset_product_restores_as_the_same_reflectance_in_its_own_dn(tmp_path, engine, geotiff, make_scene):
    s1, s2 = make_scene(tmp_path / "in", height=100, width=90, nodata_border=10)
    dn = read(s2)[0]
    valid = (dn != 0).any(axis=0)
    shifted = geotiff(tmp_path / "in" / "new_s2.tif", np.where(valid, dn + 1000, 0).astype(np.uint16))
    offset = RunOptions(tile_size=64, s2_offset=-1000)
    run_scene(engine, s1, s2, tmp_path / "old.tif", RunOptions(tile_size=64))
    run_scene(engine, s1, shifted, tmp_path / "new.tif", offset)
    old, new = read(tmp_path / "old.tif")[0].astype(np.int32), read(tmp_path / "new.tif")[0].astype(np.int32)
    assert (new[:, ~valid] == 0).all() and (new[:, valid] >= 1000).all()
    np.testing.assert_array_equal(np.maximum(new[:, valid] - 1000, 1), old[:, valid])  # 0 is nodata: dark is 1
    run_scene(engine, s1, s2, tmp_path / "old.tif", replace(offset, s2_offset=0, output_dtype="float32"))
    run_scene(engine, s1, shifted, tmp_path / "new.tif", replace(offset, output_dtype="float32"))
    np.testing.assert_array_equal(read(tmp_path / "new.tif")[0], read(tmp_path / "old.tif")[0])
    settings = json.loads(record_path(tmp_path / "new.tif").read_text())["fingerprint"]["settings"]
    assert settings["s2_offset"] == -1000
    assert "s2_offset" not in RunOptions(tile_size=64).output_settings(engine)  # records from before it still match


def test_a_product_that_declares_its_offset_is_read_with_it_and_its_output_declares_it(
    tmp_path, engine, geotiff, make_scene, declared
):
    s1, s2 = make_scene(tmp_path / "in", height=100, width=90, nodata_border=10)
    dn = read(s2)[0]
    shifted = geotiff(tmp_path / "in" / "new_s2.tif", np.where((dn != 0).any(axis=0), dn + 1000, 0).astype(np.uint16))
    declared(shifted, tags={"PROCESSING_BASELINE": "05.10"})
    run_scene(engine, s1, shifted, tmp_path / "given.tif", RunOptions(tile_size=64, s2_offset=-1000))
    run_scene(engine, s1, shifted, tmp_path / "declared.tif", RunOptions(tile_size=64))
    np.testing.assert_array_equal(read(tmp_path / "declared.tif")[0], read(tmp_path / "given.tif")[0])
    records = [json.loads(record_path(tmp_path / f"{name}.tif").read_text()) for name in ("declared", "given")]
    assert [r["inputs"]["s2_offset_from"] for r in records] == ["PROCESSING_BASELINE 05.10", "--s2-offset"]
    assert [r["options"]["s2_offset"] for r in records] == [-1000, -1000]
    assert records[0]["fingerprint"] == records[1]["fingerprint"]  # either way, the same output
    with rasterio.open(tmp_path / "declared.tif") as out:  # the next tool reads the offset it keeps
        assert declared_offset(tmp_path / "declared.tif", out) == DeclaredOffset(-1000, "band offsets")
    run_scene(engine, s1, s2, tmp_path / "plain.tif", RunOptions(tile_size=64, output_dtype="float32"))
    with rasterio.open(tmp_path / "plain.tif") as out:
        assert declared_offset(tmp_path / "plain.tif", out) is None  # reflectance needs no scale
    assert json.loads(record_path(tmp_path / "plain.tif").read_text())["inputs"]["s2_offset_from"] == "not declared"


def test_the_gate_is_written_beside_the_output_and_leaves_it_alone(tmp_path, engine, gate_engine_path, make_scene):
    s1, s2 = make_scene(tmp_path / "in", height=150, width=130, nodata_border=10)
    options = RunOptions(tile_size=64, overlap=16)
    run_scene(engine, s1, s2, tmp_path / "plain" / "scene.tif", options)
    with open_engine(gate_engine_path, device="cpu", gate=True) as gated:
        result = run_scene(gated, s1, s2, tmp_path / "out" / "scene.tif", options)
        with rasterio.open(tmp_path / "out" / "gate" / "scene.tif") as gate_file:
            gate, gate_profile = gate_file.read(), gate_file.profile
            assert (gate_file.scales, gate_file.offsets) == ((1.0,), (0.0,))  # percent, not DN
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["gate", "scene.tif", "scene.tif.json"]
        record = json.loads(record_path(tmp_path / "out" / "scene.tif").read_text())
        gate_file = tmp_path / "out" / "gate" / "scene.tif"
        assert record["gate"] == {
            "path": "gate/scene.tif",
            "size_bytes": gate_file.stat().st_size,
            "sha256": hashlib.sha256(gate_file.read_bytes()).hexdigest(),
        }
        assert record["fingerprint"]["settings"]["gate"] is True
        assert run_scene(gated, s1, s2, tmp_path / "out" / "scene.tif", options, resume=True).status == "skipped"
        (tmp_path / "out" / "gate" / "scene.tif").unlink()
        assert run_scene(gated, s1, s2, tmp_path / "out" / "scene.tif", options, resume=True).status == "done"
    restored, profile, _ = read(tmp_path / "out" / "scene.tif")
    np.testing.assert_array_equal(restored, read(tmp_path / "plain" / "scene.tif")[0])  # the gate changes nothing
    run_scene(engine, s1, s2, tmp_path / "out" / "scene.tif", options)
    assert list((tmp_path / "out" / "gate").iterdir()) == []  # a gate from before does not outlive its output
    nodata = (read(s2)[0] == 0).all(axis=0)
    assert gate.shape == (1, 150, 130) and gate.dtype == np.uint8 and gate_profile["nodata"] == 255
    assert gate_profile["transform"] == profile["transform"] and gate_profile["crs"] == profile["crs"]
    assert (gate[0, nodata] == 255).all() and (gate[0, ~nodata] <= 100).all()
    assert len(np.unique(gate[0, ~nodata])) > 10 and result.status == "done"


def test_the_tiled_gate_matches_a_whole_image_pass(tmp_path, gate_engine_path, make_scene):
    s1, s2 = make_scene(tmp_path / "in", height=128, width=128)
    with open_engine(gate_engine_path, device="cpu", gate=True) as gated:
        run_scene(gated, s1, s2, tmp_path / "scene.tif", RunOptions(tile_size=64, overlap=16))
        whole = whole_image(gated, s1, s2)[13]  # reflectance scaling leaves the gate (default: 1) as it is
    gate = read(tmp_path / "gate" / "scene.tif")[0][0].astype(np.float32)
    assert np.abs(gate - np.rint(whole * 100)).max() <= 1


@pytest.mark.parametrize("offset", [1000, -10000])
def test_an_s2_offset_that_no_product_has_is_refused(offset):
    with pytest.raises(IbhfnError, match=f"S2 offset {offset}: give the product's RADIO_ADD_OFFSET"):
        RunOptions(s2_offset=offset)


def test_a_failure_mid_scene_leaves_no_output_under_the_final_name(tmp_path, engine, make_scene, monkeypatch):
    s1, s2 = make_scene(tmp_path / "in", height=300, width=64)
    calls = []

    def failing_infer(sar, optical):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return type(engine)._infer_impl(engine, sar, optical)

    monkeypatch.setattr(engine, "_infer_impl", failing_infer)
    with pytest.raises(KeyboardInterrupt):
        run_scene(engine, s1, s2, tmp_path / "out" / "scene.tif", RunOptions(tile_size=64, batch_size=1))
    assert list((tmp_path / "out").iterdir()) == []


def test_a_write_failure_in_the_writing_thread_is_the_scene_s_error(tmp_path, engine, make_scene, monkeypatch):
    s1, s2 = make_scene(tmp_path / "in", height=300, width=64)
    written = []

    def failing_write(self, row, col, values):
        written.append(threading.current_thread().name)
        raise InputError(f"{self.path}: cannot write the output (disk full)")

    monkeypatch.setattr(pipeline_module.SceneWriter, "write", failing_write)
    with pytest.raises(InputError, match="cannot write the output"):
        run_scene(engine, s1, s2, tmp_path / "out" / "scene.tif", RunOptions(tile_size=64, batch_size=1))
    assert written == ["ibhfn-writer"]
    assert list((tmp_path / "out").iterdir()) == []


def test_a_blending_failure_is_the_scene_s_error_and_stops_the_writing_thread(
    tmp_path, engine, make_scene, monkeypatch
):
    s1, s2 = make_scene(tmp_path / "in", height=300, width=64)
    encoded = []

    def failing_encode(prepared, *args):
        encoded.append(threading.current_thread().name)
        if len(encoded) == 2:  # the first block is with the writing thread by now
            raise ValueError("blending broke")
        return original_encode(prepared, *args)

    original_encode = pipeline_module._encode_block
    monkeypatch.setattr(pipeline_module, "_encode_block", failing_encode)
    with pytest.raises(ValueError, match="blending broke"):
        run_scene(engine, s1, s2, tmp_path / "out" / "scene.tif", RunOptions(tile_size=64, batch_size=1))
    assert encoded == ["ibhfn-blender"] * 2
    assert not [t for t in threading.enumerate() if t.name in ("ibhfn-blender", "ibhfn-writer")]
    assert list((tmp_path / "out").iterdir()) == []


def test_a_failed_scene_stops_hashing_its_inputs_instead_of_waiting(tmp_path, engine, make_scene, monkeypatch):
    s1, s2 = make_scene(tmp_path / "in", height=64, width=64)
    stopped = []

    def slow_facts(path, stop=None):  # a multi-GB input, hashed until told to stop
        stopped.append(stop.wait(timeout=10))
        raise HashingStopped(str(path))

    def failing_write_scene(*args, **kwargs):
        raise InputError("bad window")

    monkeypatch.setattr(pipeline_module.FileFacts, "of", slow_facts)
    monkeypatch.setattr(pipeline_module, "_write_scene", failing_write_scene)
    start = time.perf_counter()
    with pytest.raises(InputError, match="bad window"):
        run_scene(engine, s1, s2, tmp_path / "scene.tif", RunOptions(tile_size=64))
    assert time.perf_counter() - start < 5 and stopped == [True]


def test_engine_and_tile_mismatch_is_refused(tmp_path, engine, make_scene):
    s1, s2 = make_scene(tmp_path / "in", height=64, width=64)
    with pytest.raises(ShapeError, match="multiple of"):
        run_scene(engine, s1, s2, tmp_path / "scene.tif", RunOptions(tile_size=62))
    with pytest.raises(InputError, match="no such file"):
        run_scene(engine, tmp_path / "missing_s1.tif", s2, tmp_path / "scene.tif", RunOptions(tile_size=64))


def peak_python_bytes(engine, s1, s2, out, options):
    """Peak Python-side memory (numpy included) of one scene."""
    tracemalloc.start()
    try:
        run_scene(engine, s1, s2, out, options)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_gpu_engine_gets_one_batch_shape_and_the_same_output(tmp_path, engine, make_scene, monkeypatch):
    s1, s2 = make_scene(tmp_path / "in", height=200, width=176)
    options = RunOptions(tile_size=64, batch_size=4)
    assert len(TileGrid(200, 176, 64, 32)) % 4  # so the last batch is partial
    run_scene(engine, s1, s2, tmp_path / "free.tif", options)
    shapes = []
    infer = engine._infer_impl
    monkeypatch.setattr(engine, "fixed_batch", True)
    monkeypatch.setattr(engine, "_infer_impl", lambda sar, optical: shapes.append(sar.shape) or infer(sar, optical))
    result = run_scene(engine, s1, s2, tmp_path / "fixed.tif", options)
    assert {shape[0] for shape in shapes} == {4} and len(shapes) * 4 > result.tiles
    np.testing.assert_array_equal(read(tmp_path / "fixed.tif")[0], read(tmp_path / "free.tif")[0])


def lagging(engine, lag):
    """An `infer_batches` that holds `lag` batches' arrays (all of them: None) before it reads the oldest."""

    def infer_batches(batches):
        held = deque()
        for batch in batches:
            held.append(batch)
            if len(held) == lag:
                yield engine.infer(*held.popleft())
        while held:
            yield engine.infer(*held.popleft())

    return infer_batches


def test_batch_inputs_are_reused_only_once_their_results_are_back(tmp_path, engine, make_scene, monkeypatch):
    s1, s2 = make_scene(tmp_path / "in", height=200, width=176)
    options = RunOptions(tile_size=64, batch_size=2)
    buffers = []  # the array each batch's optical input is a view of, kept alive so that ids stay unique
    infer = engine._infer_impl
    monkeypatch.setattr(engine, "_infer_impl", lambda sar, optical: buffers.append(optical.base) or infer(sar, optical))
    result = run_scene(engine, s1, s2, tmp_path / "one_by_one.tif", options)
    batches = -(-result.tiles // 2)
    assert batches > 4 and len({id(b) for b in buffers}) == 1  # each batch's arrays filled again for the next
    for lag in (2, 3, None):
        buffers.clear()
        monkeypatch.setattr(engine, "infer_batches", lagging(engine, lag))
        run_scene(engine, s1, s2, tmp_path / f"lag{lag}.tif", options)
        assert len({id(b) for b in buffers}) == (lag or batches)
        np.testing.assert_array_equal(read(tmp_path / f"lag{lag}.tif")[0], read(tmp_path / "one_by_one.tif")[0])


def test_memory_follows_the_block_not_the_scene_height(tmp_path, engine, make_scene):
    peaks = [
        peak_python_bytes(
            engine,
            *make_scene(tmp_path / f"in{height}", height=height, width=384),
            tmp_path / f"out{height}.tif",
            RunOptions(tile_size=128),
        )
        for height in (768, 3072)
    ]
    tall_scene_bytes = 13 * 3072 * 384 * 4  # the taller S2 as float32: 61 MB
    block_bytes = 15 * 128 * 384 * 4  # one block's S1 and S2 inputs as float32: 2.9 MB
    # at most five blocks are in flight (read, waiting, preprocessed, waiting, being batched), whatever the
    # height; how many are at each scene's peak depends on the threads' timing
    assert peaks[1] < peaks[0] + 6 * block_bytes and peaks[1] < tall_scene_bytes, peaks


def test_memory_grows_with_the_scene_width_only_by_the_output_block_row(tmp_path, engine, make_scene):
    """A scene 6x wider than a block adds only the writer's block row and the bands handed between tile rows."""
    options = RunOptions(tile_size=128, overlap=16, block_width=640)
    scenes = {width: make_scene(tmp_path / f"in{width}", height=384, width=width) for width in (640, 4096)}
    narrow, wide = (
        peak_python_bytes(engine, *scenes[width], tmp_path / f"out{width}.tif", options) for width in (640, 4096)
    )
    rows = TileGrid(384, 4096, 128, 16).rows
    band_rows = max(top + 128 - below for top, below in zip(rows, rows[1:]))
    extra_width = 4096 - 640
    block_row = 13 * BLOCK * extra_width * 2  # uint16
    bands = 2 * 14 * band_rows * extra_width * 4  # sums and weights of this tile row and the one above
    timing = 5 * 15 * 128 * 640 * 4  # at each peak, up to five blocks in flight between reading and batching
    assert wide < narrow + block_row + bands + timing, (narrow, wide)
    one_block = peak_python_bytes(engine, *scenes[4096], tmp_path / "one_block.tif", replace(options, block_width=4096))
    assert wide < one_block / 2, (wide, one_block)  # the check can fail: rows in one block need far more


def test_block_width_changes_memory_not_the_output(tmp_path, engine, make_scene):
    """Bit for bit, nodata included: its fill comes from each tile's own valid pixels, not the block's."""
    s1, s2 = make_scene(tmp_path / "in", height=300, width=1000, nodata_border=90)
    outputs = []
    for block_width in (200, 10_000):
        options = RunOptions(tile_size=64, overlap=16, batch_size=3, block_width=block_width, output_dtype="float32")
        run_scene(engine, s1, s2, tmp_path / f"{block_width}.tif", options)
        outputs.append(read(tmp_path / f"{block_width}.tif")[0])
    np.testing.assert_array_equal(outputs[0], outputs[1])


SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "sen12mscr_sample"


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="shared/data/sen12mscr_sample not beside the checkout")
def test_real_sen12mscr_patch_striped_files_and_real_ranges(tmp_path, engine):
    s1 = SAMPLE / "ROIs2017_winter_s1/s1_112/ROIs2017_winter_s1_112_p797.tif"
    s2 = SAMPLE / "ROIs2017_winter_s2_cloudy/s2_cloudy_112/ROIs2017_winter_s2_cloudy_112_p797.tif"
    result = run_scene(engine, s1, s2, tmp_path / "p797.tif", RunOptions(tile_size=128))
    restored, profile, _ = read(tmp_path / "p797.tif")
    source, reference, _ = read(s2)
    assert result.name == "ROIs2017_winter_s2_cloudy_112_p797" and result.warnings == []
    assert profile["crs"] == reference["crs"] and profile["transform"] == reference["transform"]
    assert restored.shape == source.shape
    # the stand-in adds a small residual to its input: the output stays close to the cloudy DN
    assert np.median(np.abs(restored.astype(np.float64) - source)) < 500


@pytest.mark.parametrize("output_dtype", ["uint16", "float32"])
def test_column_panels_do_not_change_the_output(tmp_path, gate_engine_path, make_scene, output_dtype):
    """A scene restored in panels (tiles on their edges run twice) equals the same scene restored whole."""
    s1, s2 = make_scene(tmp_path / "in", height=300, width=1100)
    outputs = {}
    with open_engine(gate_engine_path, device="cpu", gate=True) as gated:
        for panel_width in (None, 256, 700):
            output = tmp_path / str(panel_width) / "scene.tif"
            options = RunOptions(
                tile_size=128, overlap=40, block_width=300, panel_width=panel_width, output_dtype=output_dtype
            )
            result = run_scene(gated, s1, s2, output, options)
            outputs[panel_width] = (read(output)[0], read(output.parent / "gate" / "scene.tif")[0], result.tiles)
    whole, gate, tiles = outputs[None]
    for panel_width in (256, 700):
        np.testing.assert_array_equal(outputs[panel_width][0], whole)
        np.testing.assert_array_equal(outputs[panel_width][1], gate)
        assert outputs[panel_width][2] > tiles  # the tiles on panel edges ran twice
