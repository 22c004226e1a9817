"""Broken engines, crafted as small ONNX graphs: one line naming the file and the fix, no output called finished."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace

import numpy as np
import onnx
import pytest
import rasterio
from onnx import TensorProto, helper, numpy_helper

from ibhfn.data.synthetic import write_scene
from ibhfn.engine_metadata import EngineMetadata
from ibhfn.export.onnx_metadata import set_metadata
from ibhfn.preprocessing import PREPROCESSING

from .conftest import RUN, error_lines, tool

FIX = "the engine is broken: export it again with `ibhfn-export onnx` (and build any plan from that ONNX)"
SIZE = 96  # px: the scene, one tile of the default 256 px
METADATA = EngineMetadata(preprocessing=PREPROCESSING["default"], size_multiple=4, preset="broken", arch="broken")


def ibhfn_run(*args: object) -> subprocess.CompletedProcess:
    """Run `ibhfn-run` with `args` in a process of its own, as a user would."""
    return tool(RUN, *args)


def constant(name, values, dtype=np.float32):
    return numpy_helper.from_array(np.array(values, dtype), name)


def write_engine(
    path, nodes, *, initializers=(), optical=13, restored=("N", 13, "H", "W"), tile=None, metadata=METADATA
):
    """Write an engine whose graph is `nodes` from `sar` and `optical` to `restored`, with ibhfn metadata."""
    size = [tile or "H", tile or "W"]
    graph = helper.make_graph(
        nodes,
        "broken",
        [
            helper.make_tensor_value_info("sar", TensorProto.FLOAT, ["N", 2, *size]),
            helper.make_tensor_value_info("optical", TensorProto.FLOAT, ["N", optical, *size]),
        ],
        [helper.make_tensor_value_info("restored", TensorProto.FLOAT, list(restored))],
        list(initializers),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    set_metadata(model, metadata)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def nan_engine(path):
    """Every value 0 / 0."""
    return write_engine(
        path,
        [
            helper.make_node("Sub", ["optical", "optical"], ["zero"]),
            helper.make_node("Div", ["zero", "zero"], ["restored"]),
        ],
    )


def saturating_engine(path):
    """The input multiplied by a million: finite, and far from reflectance."""
    return write_engine(
        path, [helper.make_node("Mul", ["optical", "million"], ["restored"])], initializers=[constant("million", 1e6)]
    )


def half_resolution_engine(path, tile=None):
    """A 2 x 2 average at stride 2: outputs half the input's height and width."""
    return write_engine(
        path,
        [helper.make_node("AveragePool", ["optical"], ["restored"], kernel_shape=[2, 2], strides=[2, 2])],
        tile=tile,
        restored=("N", 13, tile // 2 if tile else "h", tile // 2 if tile else "w"),
    )


def reshape_engine(path):
    """A Reshape to a fixed 7 x 7 px, which no tile fits: ONNX Runtime fails while running it."""
    return write_engine(
        path,
        [helper.make_node("Reshape", ["optical", "shape"], ["restored"])],
        initializers=[constant("shape", [1, 13, 7, 7], np.int64)],
    )


def out_of_memory_engine(path):
    """A buffer of 2**40 floats per pixel row of the tile (over a PiB): ONNX Runtime cannot allocate it."""
    nodes = [
        helper.make_node("Shape", ["optical"], ["height"], start=2, end=3),
        helper.make_node("Mul", ["height", "huge"], ["count"]),
        helper.make_node("ConstantOfShape", ["count"], ["buffer"], value=constant("zero", [0.0])),
        helper.make_node("ReduceSum", ["buffer"], ["total"], keepdims=0),
        helper.make_node("Add", ["optical", "total"], ["restored"]),
    ]
    return write_engine(path, nodes, initializers=[constant("huge", [1 << 40], np.int64)])


def identity(path, **kwargs):
    return write_engine(path, [helper.make_node("Identity", ["optical"], ["restored"])], **kwargs)


def twelve_outputs(path):
    """The first 12 of the 13 bands out."""
    ends = [constant(name, value, np.int64) for name, value in (("starts", [0]), ("ends", [12]), ("axes", [1]))]
    return write_engine(
        path,
        [helper.make_node("Slice", ["optical", "starts", "ends", "axes"], ["restored"])],
        initializers=ends,
        restored=("N", 12, "H", "W"),
    )


@pytest.fixture
def scenes(tmp_path):
    """A folder with one scene, `a`, of SIZE x SIZE px."""
    write_scene(tmp_path / "in", "a", height=SIZE, width=SIZE)
    return tmp_path / "in"


def assert_one_line(result, start, end):
    """Exit code 2, no traceback, and exactly one error line: starting with `start`, ending with the fix `end`."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    [line] = error_lines(result)
    assert line.startswith(f"error: {start}"), line
    assert line.endswith(end), line
    return line


def files_under(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*")) if folder.exists() else []


@pytest.mark.parametrize(
    "craft, counts",
    [
        (nan_engine, f"({SIZE * SIZE} non-finite, 0 outside reflectance -0.5..2)"),
        (saturating_engine, f"(0 non-finite, {SIZE * SIZE} outside reflectance -0.5..2)"),
    ],
)
def test_a_scene_restored_by_a_broken_engine_fails_and_resume_runs_it_again(tmp_path, scenes, craft, counts):
    engine, out = craft(tmp_path / "broken.onnx"), tmp_path / "out"
    for resume in ([], ["--resume"]):
        result = ibhfn_run("--engine", engine, *resume, scenes, out)
        line = assert_one_line(
            result,
            f"{out / 'a.tif'}: not written: {engine} returned non-finite or out-of-range "
            f"values at {SIZE * SIZE} of the first {SIZE * SIZE} valid pixels",
            FIX,
        )
        assert counts in line
        assert "1 scenes: 0 done, 0 skipped, 1 failed" in result.stdout
        assert "RuntimeWarning" not in result.stderr
        assert files_under(out) == []


def test_a_broken_engine_fails_its_scenes_in_worker_processes_too(tmp_path, scenes):
    write_scene(scenes, "b", height=SIZE, width=SIZE, seed=1)
    engine, out = nan_engine(tmp_path / "broken.onnx"), tmp_path / "out"
    result = ibhfn_run("--engine", engine, "--jobs", "2", scenes, out)
    assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr
    assert sorted(line.split(":")[1].strip() for line in error_lines(result)) == [
        str(out / "a.tif"),
        str(out / "b.tif"),
    ]
    assert "2 scenes: 0 done, 0 skipped, 2 failed" in result.stdout
    assert files_under(out) == []


def test_a_few_non_finite_pixels_are_nodata_and_a_warning(tmp_path, scenes):
    """x * x / x is NaN where a band is 0: at one pixel of the scene, below the share that fails it."""
    engine = write_engine(
        tmp_path / "zeros.onnx",
        [
            helper.make_node("Mul", ["optical", "optical"], ["square"]),
            helper.make_node("Div", ["square", "optical"], ["restored"]),
        ],
    )
    with rasterio.open(scenes / "a_s2.tif", "r+") as s2:
        band = s2.read(4)
        band[40, 50] = 0  # one band of one pixel: the pixel still holds data
        s2.write(band, 4)
    out = tmp_path / "out"
    result = ibhfn_run("--engine", engine, scenes, out)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "RuntimeWarning" not in result.stderr
    assert (
        f"warning: {out / 'a.tif'}: {engine} returned non-finite or out-of-range values at 1 of {SIZE * SIZE} "
        "valid pixels (1 non-finite, 0 outside reflectance -0.5..2)"
    ) in result.stderr
    assert "1 scenes: 1 done" in result.stdout
    with rasterio.open(out / "a.tif") as restored:
        values = restored.read()
    assert (values[:, 40, 50] == 0).all() and (values[:, 40, 49] > 0).all()
    assert json.loads((out / "a.tif.json").read_text())["warnings"][0].startswith(f"{out / 'a.tif'}: {engine}")


@pytest.mark.parametrize(
    "craft, problem",
    [
        (twelve_outputs, "restored has 12 channels, but its metadata name 13 bands"),
        (
            lambda path: identity(path, optical=12, restored=("N", 12, "H", "W")),
            "optical has 12 channels, but its metadata name 13 bands",
        ),
        (lambda path: half_resolution_engine(path, tile=64), "restored is 32 x 32 px for inputs of 64 x 64 px"),
        (
            lambda path: identity(path, metadata=replace(METADATA, size_multiple=0)),
            "its metadata give size_multiple 0, not a whole number of pixels of at least 1",
        ),
    ],
    ids=["12-output-channels", "12-input-channels", "static-half-resolution", "size-multiple-0"],
)
def test_an_engine_that_declares_what_the_runtime_cannot_run_is_refused_on_loading(tmp_path, scenes, craft, problem):
    engine, out = craft(tmp_path / "broken.onnx"), tmp_path / "out"
    for check in ([], ["--check"]):
        result = ibhfn_run("--engine", engine, *check, scenes, out)
        assert_one_line(result, f"{engine}: {problem}; ", FIX)
        assert files_under(out) == []


@pytest.mark.parametrize(
    "craft, problem, fix",
    [
        (
            half_resolution_engine,
            "its output restored is 1 x 13 x 48 x 48 for an optical batch of 1 x 13 x 96 x 96, not 1 x 13 x 96 x 96",
            FIX,
        ),
        (
            reshape_engine,
            "inference failed on a batch of 1 tile of 96 x 96 px (Non-zero status code returned while "
            "running Reshape node.",
            FIX,
        ),
        (
            out_of_memory_engine,
            "inference failed on a batch of 1 tile of 96 x 96 px (Non-zero status code returned "
            "while running ConstantOfShape node.",
            "; out of memory: lower --batch or --tile",
        ),
    ],
    ids=["half-resolution", "reshape-fails", "out-of-memory"],
)
@pytest.mark.parametrize("streams", [1, 2])
def test_an_engine_that_fails_while_running_fails_its_scene_in_one_line(tmp_path, scenes, craft, problem, fix, streams):
    engine, out = craft(tmp_path / "broken.onnx"), tmp_path / "out"
    result = ibhfn_run("--engine", engine, "--tile", SIZE, "--streams", streams, scenes, out)
    line = assert_one_line(result, f"{engine}: {problem}", fix)
    assert "/onnxruntime_src/" not in line and "Error in execution" not in line
    assert "1 scenes: 0 done, 0 skipped, 1 failed" in result.stdout
    assert "[E:onnxruntime" not in result.stderr  # ONNX Runtime's own log of the failure
    assert files_under(out) == []


def dark_engine(path):
    """Every band a little below zero reflectance: dark water, a deep shadow."""
    return write_engine(
        path,
        [
            helper.make_node("Mul", ["optical", "zero"], ["black"]),
            helper.make_node("Sub", ["black", "little"], ["restored"]),
        ],
        initializers=[constant("zero", 0.0), constant("little", 1e-3)],
    )


def test_valid_pixels_darker_than_zero_are_written_1_not_nodata(scenes, tmp_path):
    result = ibhfn_run("--engine", dark_engine(tmp_path / "dark.onnx"), scenes, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    with rasterio.open(tmp_path / "out" / "a.tif") as restored:
        assert restored.nodata == 0
        assert (restored.read() == 1).all()  # every band of every pixel: valid, and as dark as uint16 DN go
        assert (restored.read_masks() == 255).all()


def tile_height_engine(path):
    """Every band the tile's height in DN (x 1e-4 network units at a divisor of 10000): which tile the run used."""
    nodes = [
        helper.make_node("Shape", ["optical"], ["height"], start=2, end=3),
        helper.make_node("Cast", ["height"], ["rows"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["rows", "per_dn"], ["level"]),
        helper.make_node("Mul", ["optical", "zero"], ["black"]),
        helper.make_node("Add", ["black", "level"], ["restored"]),
    ]
    return write_engine(path, nodes, initializers=[constant("per_dn", [1e-4]), constant("zero", 0.0)])


def test_a_tile_larger_than_the_scene_is_cut_to_the_scene_not_the_scene_padded(tmp_path):
    write_scene(tmp_path / "in", "a", height=90, width=70)
    engine = tile_height_engine(tmp_path / "height.onnx")
    result = ibhfn_run("--engine", engine, "--tile", 512, tmp_path / "in", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    with rasterio.open(tmp_path / "out" / "a.tif") as restored:
        assert (restored.read() == 92).all()  # 90 rounded up to the size multiple 4, not 512
    record = json.loads((tmp_path / "out" / "a.tif.json").read_text())
    assert record["tiles"]["size"] == 92 and record["options"]["tile_size"] == 512
