import dataclasses

import numpy as np
import onnxruntime as ort
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from rio_cogeo.cogeo import cog_validate
from typer.testing import CliRunner

from ibhfn.bands import S2_BANDS
from ibhfn.runtime.cli import app


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def folder_with_bad_inputs(tmp_path, make_scene, geotiff):
    """One good scene beside one of each bad input."""
    folder = tmp_path / "in"
    make_scene(folder, "good", height=64, width=64)
    make_scene(folder, "lonely", height=64, width=64)
    (folder / "lonely_s2.tif").unlink()
    _, s2 = make_scene(folder, "bands", height=64, width=64)
    with rasterio.open(s2) as dataset:
        geotiff(s2, dataset.read()[:12])
    s1, _ = make_scene(folder, "far", height=64, width=64)
    with rasterio.open(s1) as dataset:
        geotiff(s1, dataset.read(), transform=dataset.transform @ Affine.translation(0, 5000))
    make_scene(folder, "junk", height=64, width=64)
    (folder / "junk_s2.tif").write_bytes(b"not a tiff at all")
    make_scene(folder, "empty", height=64, width=64)
    (folder / "empty_s2.tif").write_bytes(b"")
    return folder


def test_folder_run_writes_every_scene_and_a_summary(tmp_path, onnx_engine_path, make_scene):
    make_scene(tmp_path / "in", "a", height=100, width=90)
    make_scene(tmp_path / "in", "b", height=70, width=64, seed=1)
    result = invoke("--engine", onnx_engine_path, "--tile", 64, tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a.stac.json",
        "a.tif",
        "a.tif.json",
        "b.stac.json",
        "b.tif",
        "b.tif.json",
    ]
    assert result.stdout.startswith("2 scenes: 2 done, 0 skipped, 0 failed;")
    assert "tiles/s" in result.stdout and "km2/s" in result.stdout


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
def test_every_bad_input_gets_one_line_and_the_others_still_run(
    tmp_path, onnx_engine_path, folder_with_bad_inputs, check
):
    folder = folder_with_bad_inputs
    result = invoke(
        "--engine", onnx_engine_path, "--tile", 64, *(["--check"] if check else []), folder, tmp_path / "out"
    )
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    expected = [
        f"{folder / 'lonely_s1.tif'}: no S2 partner (lonely_s2.tif) beside it",
        f"{folder / 'bands_s2.tif'}: has 12 bands; the engine expects 13",
        f"{folder / 'far_s1.tif'}: does not overlap far_s2.tif",
        f"{folder / 'junk_s2.tif'}: not a readable raster",
        f"{folder / 'empty_s2.tif'}: the file is empty",
    ]
    for message in expected:
        assert sum(line.startswith(f"error: {message}") for line in errors) == 1, (message, errors)
    assert len(errors) == len(expected)
    assert "Traceback" not in result.output
    if check:  # the same lines, and nothing written
        assert not (tmp_path / "out").exists()
        assert result.stdout == "6 scenes: 1 checked, 5 failed; nothing was run\n"
    else:
        assert (tmp_path / "out" / "good.tif").is_file()
        assert result.stdout.startswith("6 scenes: 1 done, 0 skipped, 5 failed;")


def test_engine_that_cannot_take_the_tile_fails_once(tmp_path, write_onnx_engine, make_scene):
    make_scene(tmp_path / "in", "a", height=64, width=64)
    static = write_onnx_engine(tmp_path / "static.onnx", tile=64)
    result = invoke("--engine", static, "--tile", 128, tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {static}: the engine takes 64 px tiles only, not 128"


def test_engine_expecting_other_bands_names_the_file(tmp_path, write_onnx_engine, standin_metadata, make_scene):
    _, s2 = make_scene(tmp_path / "in", "a", height=64, width=64)
    twelve = dataclasses.replace(standin_metadata, s2_bands=S2_BANDS[:12])
    engine = write_onnx_engine(tmp_path / "twelve.onnx", metadata=twelve)
    result = invoke("--engine", engine, tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 2
    assert f"error: {s2}: has 13 bands; the engine expects 12" in result.stderr


def test_static_engine_sets_the_tile(tmp_path, write_onnx_engine, make_scene):
    make_scene(tmp_path / "in", "a", height=100, width=100)
    result = invoke(
        "--engine", write_onnx_engine(tmp_path / "static.onnx", tile=64), "-q", tmp_path / "in", tmp_path / "out"
    )
    assert result.exit_code == 0 and result.stdout == ""
    assert '"tile_size": 64' in (tmp_path / "out" / "a.tif.json").read_text()


def test_single_pair_with_cog_float_output_and_zstd(tmp_path, onnx_engine_path, make_scene):
    s1, s2 = make_scene(tmp_path / "in", "pair", height=100, width=80)
    result = invoke(
        "--engine",
        onnx_engine_path,
        "--s1",
        s1,
        "--s2",
        s2,
        "--tile",
        64,
        "--cog",
        "--float32",
        "--compress",
        "zstd",
        tmp_path / "out",
    )
    assert result.exit_code == 0, result.output
    assert cog_validate(tmp_path / "out" / "pair.tif")[0]
    with rasterio.open(tmp_path / "out" / "pair.tif") as out:
        assert out.dtypes[0] == "float32" and np.isnan(out.nodata)
        assert out.compression.name.lower() == "zstd"
    assert '"compress": "zstd"' in (tmp_path / "out" / "pair.tif.json").read_text()


def read_restored(path):
    with rasterio.open(path) as restored:
        return restored.read()


def run_and_read(scene_dir, out, name, *args):
    """`ibhfn-run -q` over `scene_dir` into `out` with `args`, which must succeed; scene `name` as restored."""
    result = invoke(*args, "-q", scene_dir, out)
    assert result.exit_code == 0, result.output
    return read_restored(out / f"{name}.tif")


def test_block_width_is_recorded_and_leaves_the_output_alone(tmp_path, onnx_engine_path, make_scene):
    make_scene(tmp_path / "in", "wide", height=64, width=700)
    outputs = []
    for block_width in ("128", "4096"):
        out = tmp_path / f"out{block_width}"
        outputs.append(
            run_and_read(
                tmp_path / "in", out, "wide", "--engine", onnx_engine_path, "--tile", 64, "--block-width", block_width
            )
        )
        assert f'"block_width": {block_width}' in (out / "wide.tif.json").read_text()
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_streams_restore_what_one_session_does(tmp_path, onnx_engine_path, make_scene):
    make_scene(tmp_path / "in", "a", height=150, width=140)
    outputs = []
    for streams in ("1", "2"):
        restored = run_and_read(
            tmp_path / "in",
            tmp_path / f"out{streams}",
            "a",
            "--engine",
            onnx_engine_path,
            "--tile",
            64,
            "--batch",
            2,
            "--streams",
            streams,
        )
        outputs.append(restored.astype(np.int32))
    assert "2 streams" in (tmp_path / "out2" / "a.tif.json").read_text()
    assert np.abs(outputs[0] - outputs[1]).max() <= 1


def test_s2_offset_restores_a_baseline_04_product_in_its_own_dn(tmp_path, onnx_engine_path, make_scene):
    make_scene(tmp_path / "in", "a", height=64, width=64)
    args = ("--engine", onnx_engine_path, "--tile", 64)
    plain = run_and_read(tmp_path / "in", tmp_path / "plain", "a", *args).astype(np.int32)
    offset = run_and_read(tmp_path / "in", tmp_path / "offset", "a", *args, "--s2-offset", "-1000").astype(np.int32)
    assert '"s2_offset": -1000' in (tmp_path / "offset" / "a.tif.json").read_text()
    assert offset.min() >= 1000 and (offset < plain + 1000).mean() > 0.5  # the inputs read 0.1 darker


def test_a_folder_spanning_the_offset_change_restores_each_product_with_its_own(
    tmp_path, onnx_engine_path, make_scene, declared
):
    s1, s2 = make_scene(tmp_path / "in", "old", height=64, width=64)
    (tmp_path / "in" / "new_s1.tif").write_bytes(s1.read_bytes())
    with rasterio.open(s2) as dataset:  # the same ground as a product of processing baseline 05.10 stores it
        profile, values = dataset.profile, dataset.read()
    with rasterio.open(tmp_path / "in" / "new_s2.tif", "w", **profile) as dataset:
        dataset.write(values + 1000)
    declared(tmp_path / "in" / "new_s2.tif", band_tags={"BOA_ADD_OFFSET": "-1000"})
    args = ("--engine", onnx_engine_path, "--tile", 64)
    result = invoke(*args, tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    old, new = (read_restored(tmp_path / "out" / f"{name}.tif").astype(np.int32) for name in ("old", "new"))
    np.testing.assert_array_equal(np.maximum(new - 1000, 1), old)  # 0 is nodata: dark is 1
    checked = invoke(*args, "--check", tmp_path / "in", tmp_path / "out")
    assert checked.stdout.splitlines() == [
        "new: S2 is read with an add-offset of -1000 DN, as its file declares (BOA_ADD_OFFSET)",
        "2 scenes: 2 checked, 0 failed; nothing was run",
    ]
    forced = invoke(*args, "--s2-offset", 0, "-q", tmp_path / "in", tmp_path / "forced")
    assert forced.exit_code == 0
    assert (
        f"warning: {tmp_path / 'in' / 'new_s2.tif'}: declares an add-offset of -1000 DN (BOA_ADD_OFFSET), "
        "but the run was given --s2-offset 0" in forced.stderr
    )


def test_manifest_and_resume(tmp_path, onnx_engine_path, make_scene):
    s1, s2 = make_scene(tmp_path / "in", "x", height=64, width=64)
    manifest = tmp_path / "scenes.csv"
    manifest.write_text(f"s1,s2,name\n{s1},{s2},first\n")
    args = ("--engine", onnx_engine_path, "--tile", 64, manifest, tmp_path / "out")
    assert invoke(*args).exit_code == 0
    rerun = invoke(*args, "--resume")
    assert rerun.exit_code == 0 and rerun.stdout.startswith("1 scenes: 0 done, 1 skipped, 0 failed")
    assert (tmp_path / "out" / "first.tif").is_file()


def test_shards_split_the_folder_between_workers(tmp_path, onnx_engine_path, make_scene):
    for index, name in enumerate("abcde"):
        make_scene(tmp_path / "in", name, height=64, width=64, seed=index)
    outputs = []
    for shard in ("0/2", "1/2"):
        out = tmp_path / f"out{shard[0]}"
        assert invoke("--engine", onnx_engine_path, "--shard", shard, "-q", tmp_path / "in", out).exit_code == 0
        outputs.append(sorted(p.stem for p in out.glob("*.tif")))
    assert outputs == [["a", "c", "e"], ["b", "d"]]


def test_jobs_restore_the_folder_in_worker_processes(tmp_path, onnx_engine_path, make_scene):
    for index, name in enumerate("abc"):
        make_scene(tmp_path / "in", name, height=64, width=64, seed=index)
    result = invoke("--engine", onnx_engine_path, "--jobs", 2, tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 0 and result.stdout.startswith("3 scenes: 3 done, 0 skipped, 0 failed")
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert written == [f"{name}{suffix}" for name in "abc" for suffix in (".stac.json", ".tif", ".tif.json")]
    missing = invoke("--engine", tmp_path / "missing.onnx", "--jobs", 2, tmp_path / "in", tmp_path / "out2")
    assert missing.exit_code == 2
    assert missing.stderr.strip() == f"error: {tmp_path / 'missing.onnx'}: engine file not found"


def test_gate_is_written_by_workers_too_and_needs_an_engine_that_has_it(
    tmp_path, onnx_engine_path, gate_engine_path, make_scene
):
    for index, name in enumerate("ab"):
        make_scene(tmp_path / "in", name, height=64, width=64, seed=index)
    result = invoke("--engine", gate_engine_path, "--gate", "--jobs", 2, "-q", tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out" / "gate").iterdir()) == ["a.tif", "b.tif"]
    missing = invoke("--engine", onnx_engine_path, "--gate", tmp_path / "in", tmp_path / "out2")
    assert missing.exit_code == 2 and not (tmp_path / "out2").exists()
    assert missing.stderr.startswith(f"error: {onnx_engine_path}: the engine has no gate output;")


@pytest.mark.parametrize(
    "args, message",
    [
        (("--shard", "2of4"), "not of the form i/n"),
        (("--shard", "4/4"), "shard 4/4 is not valid"),
        (("--blend", "box"), "unknown blend window 'box'"),
        (("--tile", "64", "--overlap", "64"), "overlap 64 px must be smaller than the 64 px tile"),
        (("--block-width", "0"), "block width 0: give at least 1"),
        (("--tile", "0"), "tile 0: give at least 1"),
        (("--tile", "-64"), "tile -64: give at least 1"),
        (("--batch", "0"), "batch 0: give at least 1"),
        (("--overlap", "-1"), "overlap -1: give at least 0"),
        (("--threads", "0"), "--threads must be at least 1, got 0"),
        (("--compress", "lzma"), "unknown compression 'lzma'; choose one of deflate, zstd, none"),
        (("--streams", "0"), "0 streams: give at least 1"),
        (("--jobs", "0"), "--jobs must be at least 1, got 0"),
        (("--s2-offset", "1000"), "S2 offset 1000: give the product's RADIO_ADD_OFFSET in DN, between -9999 and 0"),
    ],
)
def test_bad_options_exit_2(tmp_path, onnx_engine_path, make_scene, args, message):
    make_scene(tmp_path / "in", "a", height=64, width=64)
    result = invoke("--engine", onnx_engine_path, *args, tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "out" / "a.tif").exists()


@pytest.mark.parametrize("mode", [[], ["--jobs", "2"], ["--check"]], ids=["run", "jobs", "check"])
def test_an_output_folder_that_is_a_file_stops_the_batch_with_one_line(tmp_path, onnx_engine_path, make_scene, mode):
    make_scene(tmp_path / "in", "a", height=64, width=64)
    (tmp_path / "out").write_text("")
    result = invoke("--engine", onnx_engine_path, "--tile", 64, *mode, tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'out'}: is a file, not a folder"
    assert (tmp_path / "out").read_text() == ""


@pytest.mark.parametrize("mode", [[], ["--jobs", "2"]], ids=["run", "jobs"])
def test_a_folder_where_an_output_goes_fails_that_scene_alone(tmp_path, onnx_engine_path, make_scene, mode):
    make_scene(tmp_path / "in", "a", height=64, width=64)
    make_scene(tmp_path / "in", "b", height=64, width=64)
    (tmp_path / "out" / "a.tif").mkdir(parents=True)
    result = invoke("--engine", onnx_engine_path, "--tile", 64, *mode, tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.splitlines() == [f"error: {tmp_path / 'out' / 'a.tif'}: is a folder, not a file"]
    assert (tmp_path / "out" / "b.tif").is_file()


def test_input_that_is_neither_folder_nor_manifest(tmp_path, onnx_engine_path):
    (tmp_path / "list.txt").write_text("")
    result = invoke("--engine", onnx_engine_path, tmp_path / "list.txt", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {tmp_path / 'list.txt'}: not a folder of scenes, a manifest CSV or a STAC ItemCollection (.json)"
    )


@pytest.mark.skipif(
    "CUDAExecutionProvider" in ort.get_available_providers(), reason="CUDA provider present: it would start"
)
@pytest.mark.parametrize("check", [[], ["--check"]], ids=["run", "check"])
def test_a_cuda_fallback_is_said_once_per_run(tmp_path, onnx_engine_path, make_scene, monkeypatch, check):
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    make_scene(tmp_path / "in", "a", height=64, width=64)
    make_scene(tmp_path / "in", "b", height=64, width=64, seed=1)
    result = invoke("-q", "--engine", onnx_engine_path, "--tile", 64, *check, tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(lines) == 1
    assert "CUDA provider is installed but did not start" in lines[0] and "running on the CPU" in lines[0]


@pytest.mark.parametrize("cog", [False, True], ids=["geotiff", "cog"])
def test_a_south_up_scene_is_restored_on_its_own_grid(tmp_path, onnx_engine_path, make_scene, geotiff, cog):
    s1, s2 = make_scene(tmp_path / "north", "a", height=96, width=64)
    with rasterio.open(s2) as north_up:
        values, crs, transform = north_up.read(), north_up.crs, north_up.transform
    south_up = transform @ Affine.translation(0, 96) @ Affine.scale(1, -1)  # first row southmost, y pixel size > 0
    (tmp_path / "south").mkdir()
    geotiff(tmp_path / "south" / "a_s2.tif", values[:, ::-1].copy(), crs=crs.to_string(), transform=south_up)
    (tmp_path / "south" / "a_s1.tif").write_bytes(s1.read_bytes())  # north-up S1: warped onto the south-up grid
    outputs = {}
    for grid in ("north", "south"):
        outputs[grid] = run_and_read(
            tmp_path / grid,
            tmp_path / f"out_{grid}",
            "a",
            "--engine",
            onnx_engine_path,
            "--tile",
            64,
            *(["--cog"] if cog else []),
        )
    with rasterio.open(tmp_path / "out_south" / "a.tif") as restored:
        assert restored.crs == crs and restored.transform == south_up
    # the same ground restored the same way up: close where flipped back, far apart where not
    flipped = np.abs(outputs["south"].astype(float) - outputs["north"][:, ::-1]).mean()
    unflipped = np.abs(outputs["south"].astype(float) - outputs["north"]).mean()
    assert flipped < unflipped / 10, (flipped, unflipped)


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
def test_allow_any_format_reads_a_vrt_scene(tmp_path, onnx_engine_path, make_scene, check):
    s1, s2 = make_scene(tmp_path / "tiffs", "a", height=64, width=64)
    (tmp_path / "in").mkdir()
    rasterio.shutil.copy(s2, tmp_path / "in" / "a_s2.tif", driver="VRT")  # reads the GeoTIFF in tiffs/
    (tmp_path / "in" / "a_s1.tif").write_bytes(s1.read_bytes())
    args = [
        "--engine",
        onnx_engine_path,
        "--tile",
        64,
        *(["--check"] if check else []),
        tmp_path / "in",
        tmp_path / "out",
    ]
    refused = invoke(*args)
    assert refused.exit_code == 2 and "a VRT file, not a GeoTIFF" in refused.stderr
    result = invoke("--allow-any-format", *args)
    assert result.exit_code == 0, result.output
    if not check:
        direct = run_and_read(tmp_path / "tiffs", tmp_path / "direct", "a", "--engine", onnx_engine_path, "--tile", 64)
        np.testing.assert_array_equal(read_restored(tmp_path / "out" / "a.tif"), direct)
