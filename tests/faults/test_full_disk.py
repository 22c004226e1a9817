"""A full disk (or a file size limit) under the writers: one line naming the file, nothing half-written kept."""

from __future__ import annotations

import json
import os

import pytest
import rasterio

from ibhfn.data.synthetic import write_scene

from .conftest import error_lines, tree


def assert_one_line_about(result, path):
    """The tool failed with exit code 2 and exactly one error line, naming `path` and the fix, and no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    [line] = error_lines(result)
    assert line.startswith(f"error: {path}: cannot be written (") and line.endswith("and run again"), line
    assert "free space on its disk" in line


def test_a_scene_that_does_not_fit_fails_alone_and_the_batch_goes_on(small_disk, tmp_path):
    scenes, out = tmp_path / "in", small_disk.out
    write_scene(scenes, "a", height=512, width=512)  # its output is several times the limit
    write_scene(scenes, "b", height=128, width=128, seed=1)
    before = tree(tmp_path, leave_out=out)
    result = small_disk.tool("runtime.cli", scenes, out)
    assert_one_line_about(result, out / "a.tif")
    assert "2 scenes: 1 done, 0 skipped, 1 failed" in result.stdout
    assert sorted(os.listdir(out)) == ["b.stac.json", "b.tif", "b.tif.json"]
    with rasterio.open(out / "b.tif") as restored:
        assert restored.read().shape == (13, 128, 128)
    assert json.loads((out / "b.tif.json").read_text())["output"]["size_bytes"] == (out / "b.tif").stat().st_size
    assert tree(tmp_path, leave_out=out) == before


def test_a_cog_whose_copy_does_not_fit_is_one_line(small_disk, tmp_path):
    if small_disk.kind != "tmpfs":
        pytest.skip("each of the two files fits under a file size limit; only a full disk fails the copy")
    scenes, out = tmp_path / "in", small_disk.out
    write_scene(scenes, "a", height=224, width=224)  # the tiled GeoTIFF fits, it and its COG copy do not
    result = small_disk.tool("runtime.cli", "--cog", scenes, out)
    assert_one_line_about(result, out / "a.tif")
    assert os.listdir(out) == []


RECORD = """
import sys
from pathlib import Path
from ibhfn.cli_errors import report_errors
from ibhfn.runtime.scene_record import write_record
output = Path(sys.argv[1])
output.write_bytes(b"a restored scene")
report_errors(write_record)(output, {"notes": "x" * (2 << 20)})
"""


def test_a_record_that_does_not_fit_is_one_line(small_disk):
    out = small_disk.out
    result = small_disk.python(RECORD, out / "scene.tif")
    assert_one_line_about(result, out / "scene.tif.json")
    assert os.listdir(out) == ["scene.tif"]


@pytest.mark.slow
def test_an_onnx_export_that_does_not_fit_exits_2_with_one_line(small_disk, tmp_path):
    pytest.importorskip("torch")
    out = small_disk.out
    before = tree(tmp_path, leave_out=out)
    result = small_disk.tool("export.cli", "onnx", "--out", out / "model.onnx", "--static-shape", "1x16x16")
    assert_one_line_about(result, out / "model.onnx")
    assert os.listdir(out) == []
    assert tree(tmp_path, leave_out=out) == before
