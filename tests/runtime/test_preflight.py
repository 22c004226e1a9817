import numpy as np
import rasterio

from ibhfn.runtime.engine import open_engine
from ibhfn.runtime.pairing import pair_folder
from ibhfn.runtime.preflight import CHECKED, check_batch
from ibhfn.runtime.run_options import RunOptions


def test_each_scene_is_checked_as_a_run_opens_it_and_nothing_is_written(tmp_path, onnx_engine_path, make_scene):
    make_scene(tmp_path / "in", "good", height=64, width=64)
    s1, _ = make_scene(tmp_path / "in", "linear", height=64, width=64)
    with rasterio.open(s1, "r+") as dataset:
        dataset.write(np.power(10, dataset.read() / 10).astype(np.float32))
    s1, _ = make_scene(tmp_path / "in", "swapped", height=64, width=64)
    with rasterio.open(s1, "r+") as dataset:
        dataset.descriptions = ("VH", "VV")
    with open_engine(onnx_engine_path, device="cpu") as engine:
        summary = check_batch(engine, pair_folder(tmp_path / "in"), tmp_path / "out", RunOptions(tile_size=64))
    good, linear, swapped = summary.results
    assert (good.status, good.warnings, good.width) == (CHECKED, [], 64)
    assert linear.status == CHECKED and "looks like linear power" in linear.warnings[0]
    assert swapped.status == "failed" and "band descriptions give the order VH, VV" in swapped.message
    assert summary.failed == 1 and not (tmp_path / "out").exists()


def test_the_s2_offset_is_checked_against_the_values(tmp_path, onnx_engine_path, make_scene, declared):
    _, s2 = make_scene(tmp_path / "in", "new", height=64, width=64)
    with rasterio.open(s2, "r+") as dataset:
        dataset.write(dataset.read() + 1000)
    make_scene(tmp_path / "in", "old", height=64, width=64)
    with open_engine(onnx_engine_path, device="cpu") as engine:

        def check(value):
            return check_batch(
                engine, pair_folder(tmp_path / "in"), tmp_path / "out", RunOptions(tile_size=64, s2_offset=value)
            ).results

        plain, offset = check(0), check(-1000)
        declared(s2, tags={"PROCESSING_BASELINE": "05.10"})  # each file read with its own: nothing to say
        assert [(r.status, r.warnings) for r in check(None)] == [(CHECKED, []), (CHECKED, [])]
    assert [len(result.warnings) for result in plain + offset] == [1, 0, 0, 1]
    assert "run it with --s2-offset -1000" in plain[0].warnings[0]
    assert "run it with --s2-offset 0" in offset[1].warnings[0]
