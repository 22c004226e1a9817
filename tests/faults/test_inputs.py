"""Inputs that are not what they seem: one line naming the file and the fix, and no input or outside file touched."""

from __future__ import annotations

import os
import shutil
import stat
import struct
import zipfile
import zlib
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pytest
import rasterio
from rasterio.shutil import copy as copy_raster

from ibhfn.bundled import BUNDLED_ONNX
from ibhfn.data.synthetic import write_scene
from ibhfn.errors import InputError
from ibhfn.runtime.batch import run_batch
from ibhfn.runtime.engine import open_engine
from ibhfn.runtime.pairing import pair_folder
from ibhfn.runtime.workers import EngineSpec, run_batch_in_workers

from .conftest import RUN, assert_refused, error_lines, measured, tool, tree

PREPARE = "import sys; sys.argv[0] = 'ibhfn-prepare'; from ibhfn.runtime.prepare_cli import main; main()"


def contents(folder: Path) -> dict[str, bytes]:
    """The bytes of every regular file under `folder` (links and pipes are not followed)."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if stat.S_ISREG(path.lstat().st_mode)
    }


# OUT equal to IN: no scene's output may land on another scene's input


@pytest.mark.parametrize(
    "mode",
    [[], ["--check"], ["--resume"], ["--jobs", "2"], ["--shard", "0/2"]],
    ids=["run", "check", "resume", "jobs", "shard"],
)
def test_out_equal_to_in_never_writes_one_scene_over_another_s_input(tmp_path, mode):
    folder = tmp_path / "d"
    write_scene(folder, "x", height=64, width=64)
    write_scene(folder, "x_s2", height=64, width=64, seed=1)  # its output, d/x_s2.tif, is scene x's S2
    before, files = contents(tmp_path), tree(tmp_path)
    result = tool(RUN, *mode, folder, folder)
    target = folder / "x_s2.tif"
    assert_refused(
        result, f"{target}: scene 'x_s2' would write this over {target}, an input of scene 'x'; choose another OUT"
    )
    assert contents(tmp_path) == before and tree(tmp_path) == files


@pytest.mark.parametrize("jobs", [1, 2])
def test_library_callers_of_a_batch_get_the_same_refusal(tmp_path, jobs):
    folder = tmp_path / "d"
    write_scene(folder, "x", height=64, width=64)
    write_scene(folder, "x_s2", height=64, width=64, seed=1)
    before, files = contents(tmp_path), tree(tmp_path)
    target = folder / "x_s2.tif"
    with pytest.raises(
        InputError,
        match=rf"^{target}: scene 'x_s2' would write this over {target}, an input of "
        "scene 'x'; choose another OUT$",
    ):
        if jobs == 1:
            with open_engine(BUNDLED_ONNX, device="cpu") as engine:
                run_batch(engine, pair_folder(folder), folder)
        else:
            run_batch_in_workers(EngineSpec(BUNDLED_ONNX, "cpu"), pair_folder(folder), folder, jobs=jobs)
    assert contents(tmp_path) == before and tree(tmp_path) == files


def test_a_gate_path_over_an_input_is_refused_too(tmp_path):
    """A run without --gate removes OUT/gate/<name>.tif, left by an earlier run: never an input's."""
    out = tmp_path / "out"
    write_scene(out / "gate", "w", height=64, width=64)
    write_scene(out / "gate", "w_s2", height=64, width=64, seed=1)  # gate of scene w_s2: out/gate/w_s2.tif
    before = contents(tmp_path)
    result = tool(RUN, out / "gate", out)
    target = out / "gate" / "w_s2.tif"
    assert_refused(
        result, f"{target}: scene 'w_s2' would write this over {target}, an input of scene 'w'; choose another OUT"
    )
    assert contents(tmp_path) == before


def test_out_equal_to_in_without_a_clash_runs_and_leaves_the_inputs_alone(tmp_path):
    folder = tmp_path / "d"
    write_scene(folder, "x", height=64, width=64)
    before = contents(folder)
    result = tool(RUN, folder, folder)
    assert result.returncode == 0, result.stderr
    after = contents(folder)
    assert {name: after[name] for name in before} == before
    assert sorted(set(after) - set(before)) == ["x.stac.json", "x.tif", "x.tif.json"]
    assert "1 skipped" in tool(RUN, "--resume", folder, folder).stdout


# Formats: a GeoTIFF (or COG) unless --allow-any-format


def vrt(like: Path, sources: list[str], *, raw: bool) -> str:
    """A VRT on `like`'s grid whose bands read `sources`: the raw bytes of a file (a device, say) or GeoTIFF bands."""
    with rasterio.open(like) as grid:
        width, height, crs, transform = grid.width, grid.height, grid.crs.to_wkt(), grid.transform.to_gdal()
    bands = []
    for band, source in enumerate(sources, 1):
        if raw:
            bands.append(
                f'<VRTRasterBand dataType="UInt16" band="{band}" subClass="VRTRawRasterBand">'
                f'<SourceFilename relativeToVRT="0">{source}</SourceFilename><ImageOffset>0</ImageOffset>'
                f"<PixelOffset>2</PixelOffset><LineOffset>{2 * width}</LineOffset></VRTRasterBand>"
            )
        else:
            bands.append(
                f'<VRTRasterBand dataType="UInt16" band="{band}"><SimpleSource>'
                f'<SourceFilename relativeToVRT="0">{source}</SourceFilename>'
                f"<SourceBand>{band}</SourceBand></SimpleSource></VRTRasterBand>"
            )
    return (
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}"><SRS>{escape(crs)}</SRS>'
        f"<GeoTransform>{', '.join(map(repr, transform))}</GeoTransform>{''.join(bands)}</VRTDataset>"
    )


@pytest.mark.parametrize("source", ["/dev/urandom", "another local file"])
def test_a_vrt_under_a_tif_name_is_refused_naming_its_driver_and_the_option(tmp_path, source):
    scenes, out = tmp_path / "in", tmp_path / "out"
    paths = write_scene(scenes, "a", height=64, width=64)
    if source == "/dev/urandom":
        text = vrt(paths.s2, ["/dev/urandom"] * 13, raw=True)
    else:
        secret = shutil.copy(paths.target, tmp_path / "secret.tif")  # outside IN: what the VRT would leak into OUT
        text = vrt(paths.s2, [str(secret)] * 13, raw=False)
    paths.s2.write_text(text)
    with rasterio.open(paths.s2) as dataset:  # GDAL reads it, under a .tif name
        assert dataset.driver == "VRT" and dataset.count == 13
    before = contents(tmp_path)
    for mode in ([], ["--check"], ["--resume"]):
        result = tool(RUN, *mode, scenes, out)
        assert_refused(
            result,
            f"{paths.s2}: a VRT file, not a GeoTIFF; convert it (gdal_translate -of GTiff) "
            "or pass --allow-any-format to read it as it is",
        )
    assert contents(tmp_path) == before and not out.exists()


def test_a_cog_is_a_geotiff(tmp_path):
    scenes, out = tmp_path / "in", tmp_path / "out"
    paths = write_scene(scenes, "a", height=64, width=64)
    cog = tmp_path / "cog.tif"
    copy_raster(paths.s2, cog, driver="COG")
    os.replace(cog, paths.s2)
    result = tool(RUN, scenes, out)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out)) == ["a.stac.json", "a.tif", "a.tif.json"]


# S1 without backscatter


def rewrite_s1(path: Path, fill, *, rows: slice = slice(None), nodata: float | None = None) -> None:
    """Set `rows` of both S1 bands to `fill` in place, declaring `nodata`."""
    with rasterio.open(path) as dataset:
        profile, values = dataset.profile, dataset.read()
    values[:, rows] = fill
    with rasterio.open(path, "w", **{**profile, "nodata": nodata}) as dataset:
        dataset.write(values)


@pytest.mark.parametrize(
    "fill, nodata, grid",
    [(np.nan, None, "same"), (0.0, None, "same"), (-9999.0, -9999.0, "same"), (np.nan, None, "other")],
    ids=["nan", "zero", "declared-nodata", "nan-on-another-grid"],
)
def test_an_s1_without_backscatter_over_the_scene_is_refused(tmp_path, fill, nodata, grid):
    scenes, out = tmp_path / "in", tmp_path / "out"
    paths = write_scene(scenes, "a", height=64, width=64, **({"s1_crs": "EPSG:4326"} if grid == "other" else {}))
    rewrite_s1(paths.s1, fill, nodata=nodata)
    before = contents(tmp_path)
    for mode in ([], ["--check"]):
        result = tool(RUN, *mode, scenes, out)
        assert_refused(
            result,
            f"{paths.s1}: holds no backscatter over a_s2.tif (NaN, or 0 or its nodata, "
            "throughout), so the network would see no S1 signal; give an S1 that covers the "
            "scene (ibhfn-prepare s1 says how much of it does)",
        )
    assert contents(tmp_path) == before and not any(out.glob("*.tif"))


def test_an_s1_with_backscatter_in_part_of_the_scene_is_a_warning(tmp_path):
    scenes, out = tmp_path / "in", tmp_path / "out"
    paths = write_scene(scenes, "a", height=64, width=64)
    rewrite_s1(paths.s1, np.nan, rows=slice(0, 16))
    result = tool(RUN, scenes, out)
    assert result.returncode == 0, result.stderr
    assert f"warning: {paths.s1}: holds backscatter in about 75.0% of where it covers a_s2.tif" in result.stderr
    assert sorted(os.listdir(out)) == ["a.stac.json", "a.tif", "a.tif.json"]


# +-inf in a float S2


def test_infinite_values_in_a_float_s2_are_nodata(tmp_path):
    scenes, out = tmp_path / "in", tmp_path / "out"
    paths = write_scene(scenes, "a", height=64, width=64)
    with rasterio.open(paths.s2) as dataset:
        profile, values = dataset.profile, dataset.read().astype(np.float32)
    values[:, 5, 7], values[3, 40, 20] = np.inf, -np.inf  # every band of one pixel, one band of another
    with rasterio.open(paths.s2, "w", **{**profile, "dtype": "float32"}) as dataset:
        dataset.write(values)
    result = tool(RUN, scenes, out)
    assert result.returncode == 0 and not error_lines(result), result.stderr
    with rasterio.open(out / "a.tif") as restored:
        output = restored.read()
    assert (output[:, 5, 7] == 0).all() and (output[:, 40, 20] == 0).all()  # nodata, as NaN would be
    assert (output.max(axis=0) > 0).sum() == 64 * 64 - 2


# Scene files that are no regular files


def test_links_to_nothing_link_loops_and_pipes_are_named_one_line_each(tmp_path):
    scenes, out = tmp_path / "in", tmp_path / "out"
    write_scene(scenes, "a", height=64, width=64)
    for name in "bcde":
        write_scene(scenes, name, height=64, width=64)
        (scenes / f"{name}_s1.tif").unlink()
    (scenes / "b_s1.tif").symlink_to(tmp_path / "gone.tif")
    (scenes / "c_s1.tif").symlink_to("c_s1.tif")
    os.mkfifo(scenes / "d_s1.tif")
    (scenes / "e_s1.tif").mkdir()
    before, files = contents(tmp_path), tree(tmp_path)
    result = tool(RUN, scenes, out)
    assert_refused(
        result,
        f"{scenes / 'b_s1.tif'}: is a symbolic link to {tmp_path / 'gone.tif'}, which does not exist; copy the file "
        "here or point the link at it",
        f"{scenes / 'c_s1.tif'}: is a symbolic link in a loop (it leads back to itself), not a file; replace it "
        "with the file",
        f"{scenes / 'd_s1.tif'}: is a named pipe (FIFO), not a file; give the scene as a regular file",
        f"{scenes / 'e_s1.tif'}: is a folder, not a file; move it out of the way",
    )
    assert "5 scenes: 1 done, 0 skipped, 4 failed" in result.stdout
    assert sorted(os.listdir(out)) == ["a.stac.json", "a.tif", "a.tif.json"]
    assert contents(tmp_path / "in") == {k[len("in/") :]: v for k, v in before.items() if k.startswith("in/")}
    assert tree(tmp_path, leave_out=out) == files


# A zip bomb for ibhfn-prepare s2

BOMB_BYTES = 2 * 2**30  # what the metadata member decompresses to
MEMORY = 2**30  # address space of the child: the bomb read whole would not fit
PEAK = 300 * 2**20  # resident bytes the child may reach: the interpreter, numpy, rasterio, and the metadata cap


def deflated_zeros(size: int) -> bytes:
    """A raw deflate stream of `size` zero bytes (a multiple of 16 MiB), made of one flushed chunk repeated."""
    chunk = 16 * 2**20
    assert size % chunk == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * (size // chunk) + b"\x03\x00"  # an empty final block ends the stream


def write_bomb(path: Path, member: str, *, declared: int) -> Path:
    """A zip holding `member`, BOMB_BYTES of zeros deflated, whose headers declare `declared` bytes (CRC left 0)."""
    data, name = deflated_zeros(BOMB_BYTES), member.encode()
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, 0, len(data), declared, len(name), 0) + name
    central = (
        struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, 0, len(data), declared, len(name), 0, 0, 0, 0, 0, 0
        )
        + name
    )
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    path.write_bytes(local + data + central + end)
    return path


@pytest.mark.parametrize("declared", [BOMB_BYTES, 50_000], ids=["declared", "lying-header"])
def test_a_zip_bomb_for_metadata_is_refused_in_bounded_memory(tmp_path, declared):
    product = write_bomb(tmp_path / "S2B_MSIL1C_bomb.zip", "S2B_MSIL1C_bomb.SAFE/MTD_MSIL1C.xml", declared=declared)
    assert product.stat().st_size < 4 * 2**20
    with zipfile.ZipFile(product) as archive:
        assert archive.namelist() == ["S2B_MSIL1C_bomb.SAFE/MTD_MSIL1C.xml"]
    out = tmp_path / "out"
    result, peak = measured(PREPARE, "s2", product, out, memory=MEMORY)
    member = "S2B_MSIL1C_bomb.SAFE/MTD_MSIL1C.xml"
    if declared == BOMB_BYTES:
        assert_refused(
            result,
            f"{product}: its {member} holds more than 16 MiB (declared: {BOMB_BYTES} bytes), far "
            "beyond any product's metadata: a damaged download or no Sentinel-2 product; fetch it "
            "again",
        )
    else:  # the zip reader stops where the header says, and the checksum fails
        assert_refused(
            result, f"{product}: cannot read {member} (Bad CRC-32 for file '{member}'); fetch the product again"
        )
    assert not out.exists() or os.listdir(out) == []
    assert 20 * 2**20 < peak < PEAK, f"{peak / 2**20:.0f} MiB"  # measured, and bounded


def test_a_manifest_name_with_a_newline_is_refused_in_one_line(tmp_path):
    scene = write_scene(tmp_path / "in", "a", height=64, width=64)
    manifest = tmp_path / "scenes.csv"
    manifest.write_text(f's1,s2,name\n{scene.s1},{scene.s2},"a\nerror: forged"\n')  # the record ends on line 3
    out = tmp_path / "out"
    result = tool(RUN, manifest, out)
    assert_refused(
        result,
        f"{manifest}: line 3 names its scene 'a\\nerror: forged': a scene name is a file name on "
        "one line, without folders, newlines or other control characters",
    )
    assert len(result.stderr.splitlines()) == 1  # the forged line never reaches the terminal as a line
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("jobs", [1, 2])
def test_python_warnings_are_one_line_each_without_source_lines(tmp_path, jobs):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("x", "y"):  # GeoTIFFs without georeferencing: rasterio warns as it opens and writes them
        with rasterio.open(
            folder / f"{name}_s2.tif", "w", driver="GTiff", width=64, height=64, count=13, dtype="uint16"
        ) as dataset:
            dataset.write(rng.integers(500, 3000, (13, 64, 64)).astype(np.uint16))
        with rasterio.open(
            folder / f"{name}_s1.tif", "w", driver="GTiff", width=64, height=64, count=2, dtype="float32"
        ) as dataset:
            dataset.write(np.stack([np.full((64, 64), -12.0, np.float32), np.full((64, 64), -19.0, np.float32)]))
    result = tool(RUN, "--jobs", jobs, folder, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert "warning: Dataset has no geotransform, gcps, or rpcs. The identity matrix will be returned." in lines
    assert all(line.startswith(("warning: ", "error: ")) for line in lines), result.stderr  # no source lines


def test_a_damaged_compressed_block_names_gdal_s_reason_not_see_previous_exception(tmp_path):
    scene = write_scene(tmp_path / "src", "a", height=512, width=512)
    folder = tmp_path / "in"
    folder.mkdir()
    copy_raster(scene.s2, folder / "a_s2.tif", driver="GTiff", tiled=True, compress="deflate")
    shutil.copy(scene.s1, folder / "a_s1.tif")
    size = (folder / "a_s2.tif").stat().st_size
    with open(folder / "a_s2.tif", "r+b") as handle:  # the header and block offsets intact, the blocks garbage
        handle.seek(size // 2)
        handle.write(np.random.default_rng(0).integers(0, 256, size // 4, np.uint8).tobytes())
    result = tool(RUN, folder, tmp_path / "out")
    (line,) = error_lines(result)
    assert line.startswith(f"error: {folder / 'a_s2.tif'}: cannot read rows ") and "See previous" not in line
    assert "ZIPDecode" in line or "TIFFReadEncodedTile" in line, line
    assert result.returncode == 2 and "Traceback" not in result.stderr
