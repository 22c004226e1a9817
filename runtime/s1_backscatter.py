"""Sentinel-1 backscatter as the network takes it: VV then VH, in dB, on the grid of the S2 scene it pairs with.

SEN12MS-CR's S1 is GRD sigma0 after thermal noise removal, calibration and terrain correction, in
dB. A SNAP chain to that point writes linear power by default, names its bands `Sigma0_VH` and
`Sigma0_VV` (VH first) and covers a whole 250 km swath. This module turns such a file into
`<scene>_s1.tif` beside `<scene>_s2.tif`: cut and resampled onto S2's grid (in the input's units,
so linear power is averaged as power), bands ordered by their descriptions, linear power converted
to dB, nodata (0 or the file's nodata) as NaN. It is written strip by strip, like every output.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

import ibhfn
from ibhfn.atomic import atomic_path, refuse_overwriting
from ibhfn.bands import S1_BANDS, described_order
from ibhfn.errors import InputError
from ibhfn.runtime.pairing import scene_name
from ibhfn.runtime.pipeline import GDAL_CACHE_BYTES
from ibhfn.runtime.raster_source import open_raster, s1_overlap, s1_resampling
from ibhfn.runtime.writer import SceneWriter

UNITS = ("auto", "db", "linear")
SAMPLE = 256  # px on a side of the decimated view of the whole scene that `auto` judges the units on
STRIP = 1024  # rows per strip: 8 MB a band at 10980 px


@dataclass(frozen=True)
class PreparedS1:
    """Where the prepared S1 went and what was done to it, for the user."""

    output: Path
    linear: bool  # whether the input was linear power, converted to dB
    cover: float  # the share of the S2 scene the input covers


def prepare_s1(s1: Path, like: Path, *, order: tuple[str, ...] | None = None, units: str = "auto") -> PreparedS1:
    """Write `s1` as VV, VH in dB on the grid of the S2 file `like`, as `<scene>_s1.tif` beside it.

    `order` names the input's bands (VV, VH in some order) where its descriptions do not; `units`
    says whether it holds dB or linear power, `auto` telling them apart by the descriptions or the
    values (backscatter in dB is below 0 almost everywhere, linear power is not).
    """
    if units not in UNITS:
        raise InputError(f"unknown units {units!r}; choose one of {', '.join(UNITS)}")
    s1, like = Path(s1), Path(like)
    output = like.with_name(f"{scene_name(like)}_s1.tif")
    if output.exists() and s1.exists() and output.samefile(s1):
        raise InputError(f"{s1}: is already the {output.name} beside {like.name}, which this would write; "
                         "rename or move it first")
    refuse_overwriting(output, s1, like)
    with ExitStack() as stack:
        stack.enter_context(rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES))
        source = stack.enter_context(open_raster(s1))
        grid = stack.enter_context(open_raster(like))
        indexes = _band_indexes(s1, source, order)
        cover = _check_cover(s1, like, source, grid)
        nodata = 0.0 if source.nodata is None else source.nodata
        warped = stack.enter_context(WarpedVRT(
            source, crs=grid.crs, transform=grid.transform, width=grid.width, height=grid.height,
            resampling=s1_resampling(source, grid, s1_overlap(source, grid).s1_bounds), src_nodata=nodata,
            nodata=np.nan, dtype="float32"))
        linear = _is_linear(s1, source, warped, units)
        profile = {"width": grid.width, "height": grid.height, "crs": grid.crs, "transform": grid.transform}
        tags = {"TIFFTAG_SOFTWARE": f"ibhfn {ibhfn.__version__}", "IBHFN_S1_SOURCE": s1.name,
                "IBHFN_S1_UNITS_IN": "linear" if linear else "db"}
        writer = stack.enter_context(SceneWriter(stack.enter_context(atomic_path(output)), profile,
                                                 bands=len(S1_BANDS), dtype="float32", descriptions=S1_BANDS,
                                                 tags=tags))
        for row in range(0, grid.height, STRIP):
            window = Window(0, row, grid.width, min(STRIP, grid.height - row))
            values = warped.read(indexes, window=window)
            writer.write(row, 0, _to_db(values) if linear else values)
    return PreparedS1(output, linear, cover)


def _band_indexes(path: Path, source: rasterio.DatasetReader, order: tuple[str, ...] | None) -> list[int]:
    """The input's band numbers of VV and VH, from `order` or the band descriptions."""
    if source.count != len(S1_BANDS):
        raise InputError(f"{path}: has {source.count} bands; S1 needs {len(S1_BANDS)} ({', '.join(S1_BANDS)})")
    named = tuple(name.upper() for name in order) if order else described_order(source.descriptions, S1_BANDS)
    if named is None:
        raise InputError(f"{path}: its band descriptions do not say which band is VV and which VH; give "
                         "--bands VV,VH or --bands VH,VV")
    if sorted(named) != sorted(S1_BANDS):
        raise InputError(f"--bands {','.join(order or ())}: give VV and VH once each, in the file's order")
    return [named.index(band) + 1 for band in S1_BANDS]


def _check_cover(s1: Path, like: Path, source: rasterio.DatasetReader, grid: rasterio.DatasetReader) -> float:
    """The share of the S2 scene that S1 covers; none is an error."""
    if source.crs is None:
        raise InputError(f"{s1}: no CRS, so it cannot be brought onto {like.name}'s grid")
    cover = s1_overlap(source, grid).fraction
    if cover == 0.0:
        raise InputError(f"{s1}: does not overlap {like.name} (no common ground in {grid.crs})")
    return cover


def _is_linear(path: Path, source: rasterio.DatasetReader, warped: WarpedVRT, units: str) -> bool:
    """Whether the input holds linear power: as `units` says, else as its descriptions or values say."""
    if units != "auto":
        return units == "linear"
    if any("DB" in (text or "").upper().replace("_", " ").split() for text in source.descriptions):
        return False
    view = warped.read(out_shape=(warped.count, SAMPLE, SAMPLE))
    valid = view[np.isfinite(view)]
    if not valid.size:
        raise InputError(f"{path}: no valid value where it covers the scene")
    return bool(np.median(valid) > 0)


def _to_db(power: np.ndarray) -> np.ndarray:
    """Linear power as dB; zero or negative power (no signal) as NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(power > 0, 10 * np.log10(power), np.nan).astype(np.float32)
