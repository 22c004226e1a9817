import json
import shutil

import numpy as np
import rasterio
from affine import Affine
from typer.testing import CliRunner

from ibhfn.runtime import cli as run_cli
from ibhfn.runtime.prepare_cli import app


def invoke(app_, *args):
    return CliRunner().invoke(app_, [str(a) for a in args])


def test_a_product_becomes_an_input_that_ibhfn_run_restores_with_its_offset(
    tmp_path, make_l1c_product, geotiff, onnx_engine_path
):
    safe, _ = make_l1c_product(tmp_path / "products", size=120)
    prepared = invoke(app, "s2", safe, tmp_path / "in")
    assert prepared.exit_code == 0, prepared.output
    s2 = tmp_path / "in" / "T32TQM_20230412_s2.tif"
    assert prepared.stdout.startswith(f"{s2}: {safe.name} (baseline 05.09, RADIO_ADD_OFFSET -1000) in ")
    with rasterio.open(s2) as stack:  # the scene's S1 as SNAP writes it: linear power, VH first, a wider swath
        swath = geotiff(
            tmp_path / "S1A_IW_GRDH_1SDV_TC.tif",
            np.stack([np.full((160, 160), 0.03, np.float32), np.full((160, 160), 0.1, np.float32)]),
            crs=stack.crs.to_string(),
            transform=stack.transform @ Affine.translation(-20, -20),
        )
    s1 = invoke(app, "s1", swath, "--like", s2, "--bands", "VH,VV")
    assert s1.exit_code == 0, s1.output
    assert s1.stdout.startswith(
        f"{tmp_path / 'in' / 'T32TQM_20230412_s1.tif'}: {swath.name} (linear power converted to dB) in "
    )
    run = invoke(run_cli.app, "--engine", onnx_engine_path, "--tile", 64, tmp_path / "in", tmp_path / "out")
    assert run.exit_code == 0 and "warning" not in run.output, run.output
    record = json.loads((tmp_path / "out" / "T32TQM_20230412.tif.json").read_text())
    assert record["options"]["s2_offset"] == -1000 and record["inputs"]["s2_offset_from"] == "band offsets"


def test_each_product_is_stacked_or_named_and_the_exit_code_says_whether_any_failed(tmp_path, make_l1c_product):
    safe, _ = make_l1c_product(tmp_path / "a", size=60)
    again = tmp_path / "b" / safe.name
    shutil.copytree(safe, again)
    result = invoke(app, "s2", safe, tmp_path / "missing.zip", again, tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / 'missing.zip'}: no such file or folder",
        f"error: {again}: would be written to T32TQM_20230412_s2.tif, as {safe} was; prepare it on its own with --name",
    ]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["T32TQM_20230412_s2.tif"]
    named = invoke(app, "s2", again, "--name", "site7", tmp_path / "out")
    assert named.exit_code == 0 and (tmp_path / "out" / "site7_s2.tif").is_file()


def test_a_product_that_fails_leaves_its_name_to_the_next(tmp_path, make_l1c_product):
    safe, _ = make_l1c_product(tmp_path / "a", size=60)
    damaged = tmp_path / "b" / safe.name
    shutil.copytree(safe, damaged)
    next(damaged.rglob("*_B11.jp2")).write_bytes(b"")
    result = invoke(app, "s2", damaged, safe, tmp_path / "out")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1 and "_B11.jp2: " in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["T32TQM_20230412_s2.tif"]


def test_options_that_cannot_work_are_one_line_before_any_product_is_read(tmp_path, make_l1c_product):
    safe, _ = make_l1c_product(tmp_path / "a", size=60)
    (tmp_path / "file").write_text("")
    for args, message in (
        ((safe,), "error: give one or more products, then the output folder"),
        ((safe, safe, "--name", "x", tmp_path / "out"), "error: --name names one scene; 2 products were given"),
        (
            (safe, "--name", "../x", tmp_path / "out"),
            "error: --name '../x': a scene name is a file name, without folders",
        ),
        (
            (safe, "--compress", "lzw", tmp_path / "out"),
            "error: unknown compression 'lzw'; choose one of deflate, zstd, none",
        ),
        (
            (safe, "--resampling", "lanczos", tmp_path / "out"),
            "error: unknown resampling 'lanczos'; choose one of nearest, bilinear, cubic",
        ),
        ((safe, tmp_path / "file"), f"error: {tmp_path / 'file'}: is a file, not a folder"),
        ((safe, safe), f"error: {safe}: a product, not the output folder, which comes last"),
    ):
        result = invoke(app, "s2", *args)
        assert (result.exit_code, result.stderr.strip()) == (2, message)
    assert not (tmp_path / "out").exists()


def test_s1_options_that_cannot_work_are_one_line(tmp_path, make_scene):
    s1, s2 = make_scene(tmp_path / "in", "a", height=64, width=64)
    result = invoke(app, "s1", s1, "--like", s2, "--bands", "VV,VH")  # a_s1.tif would be written over itself
    assert (result.exit_code, result.stderr.strip()) == (
        2,
        f"error: {s1}: is already the a_s1.tif beside a_s2.tif, which this would write; rename or move it first",
    )
    moved = s1.rename(tmp_path / "swath.tif")
    result = invoke(app, "s1", moved, "--like", s2, "--bands", "VV,HH")
    assert (result.exit_code, result.stderr.strip()) == (
        2,
        "error: --bands VV,HH: give VV and VH once each, in the file's order",
    )
    assert not s1.exists()
