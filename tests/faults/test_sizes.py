"""Sizes claimed in a header: refused before anything is allocated, and memory bounded whatever a scene's width."""

from __future__ import annotations

import json

import numpy as np
import rasterio
from affine import Affine

from .conftest import RUN, assert_refused, measured, tool

MEMORY = 2 * 2**30  # address space of the child: the interpreter, ONNX Runtime, GDAL and their threads
REFUSED_PEAK = 500 * 2**20  # resident bytes a refused input may cost
WIDE = 160_000  # px: a scene whose every full-width buffer (a block row of output: 1 GiB) would not fit
WIDE_PEAK = 800 * 2**20  # resident bytes the wide scene may cost: about what a 2048 px scene costs
CRS = "EPSG:32631"
TOP = 5_000_000.0


def claimed_s2(path, width: int, height: int, *, nodata: float | None = None):
    """A tiled, compressed, sparse 13-band S2 GeoTIFF of a few kB whose header claims `width` x `height` px."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=13,
        dtype="uint16",
        crs=CRS,
        transform=Affine(10, 0, 0, 0, -10, TOP),
        tiled=True,
        blockxsize=512,
        blockysize=256,
        sparse_ok=True,
        compress="deflate",
        bigtiff="yes",
        nodata=nodata,
    ):
        pass
    return path


def coarse_s1(path, width: int, height: int):
    """An S1 of -12 dB everywhere on a grid 100 times coarser than claimed_s2's, covering `width` x `height` of it."""
    columns, rows = width // 100 + 2, height // 100 + 2
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=columns,
        height=rows,
        count=2,
        dtype="float32",
        crs=CRS,
        transform=Affine(1000, 0, 0, 0, -1000, TOP),
    ) as dataset:
        dataset.write(np.full((2, rows, columns), -12.0, np.float32))
    return path


def test_a_huge_size_claimed_in_a_header_is_refused_in_one_line_before_any_allocation(tmp_path):
    scenes = tmp_path / "in"
    scenes.mkdir()
    claims = {"wide": (2_000_000, 512), "square": (200_000, 200_000)}
    for name, (width, height) in claims.items():
        claimed_s2(scenes / f"{name}_s2.tif", width, height)
        coarse_s1(scenes / f"{name}_s1.tif", 1000, 500)
        assert (scenes / f"{name}_s2.tif").stat().st_size < 4 * 2**20
    out = tmp_path / "out"
    result, peak = measured(RUN, scenes, out, memory=MEMORY)
    assert_refused(
        result,
        *(
            f"{scenes / f'{name}_s2.tif'}: is {width} x {height} px ({width * height:,} px), more than the 500,000,000 "
            "px allowed; if its header is wrong, rewrite the file; else cut it into scenes (gdal_translate -srcwin) or "
            f"pass --max-pixels {width * height} to restore it whole"
            for name, (width, height) in claims.items()
        ),
    )
    assert peak < REFUSED_PEAK, f"{peak / 2**20:.0f} MiB"
    assert not out.exists() or not any(out.iterdir())
    checked = tool(RUN, "--check", scenes, out)  # --check says the same
    assert checked.returncode == 2 and checked.stderr.count("more than the 500,000,000 px allowed") == 2


def test_the_limit_can_be_lowered_or_raised(tmp_path):
    scenes = tmp_path / "in"
    scenes.mkdir()
    coarse_s1(scenes / "x_s1.tif", 600, 300)
    claimed_s2(scenes / "x_s2.tif", 600, 300, nodata=0)
    lowered = tool(RUN, "--max-pixels", 1000, scenes, tmp_path / "out")
    assert_refused(
        lowered,
        f"{scenes / 'x_s2.tif'}: is 600 x 300 px (180,000 px), more than the 1,000 px allowed; "
        "if its header is wrong, rewrite the file; else cut it into scenes (gdal_translate "
        "-srcwin) or pass --max-pixels 180000 to restore it whole",
    )
    assert tool(RUN, "--max-pixels", 180_000, scenes, tmp_path / "out").returncode == 0


def test_memory_does_not_follow_a_wide_scene_s_width(tmp_path):
    """A 160,000 x 256 px scene (all nodata: no tile to run) restores within what a 2048 px scene takes."""
    scenes = tmp_path / "in"
    scenes.mkdir()
    claimed_s2(scenes / "wide_s2.tif", WIDE, 256, nodata=0)
    coarse_s1(scenes / "wide_s1.tif", WIDE, 256)
    out = tmp_path / "out"
    result, peak = measured(RUN, scenes, out, memory=MEMORY)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert peak < WIDE_PEAK, f"{peak / 2**20:.0f} MiB"
    with rasterio.open(out / "wide.tif") as restored:
        assert restored.shape == (256, WIDE)
        assert not restored.read(1, window=((0, 256), (WIDE - 5000, WIDE))).any()  # nodata, written to the end
    record = json.loads((out / "wide.tif.json").read_text())
    assert record["tiles"]["run"] == 0 and record["tiles"]["empty"] == record["tiles"]["total"]
