"""Sentinel-1 backscatter as the network takes it: VV then VH, in dB, on the grid of the S2 scene it pairs with.

SEN12MS-CR's S1 is GRD sigma0 after thermal noise removal, calibration and terrain correction, in
dB. A SNAP chain to that point writes linear power by default, a dual-polarisation product's bands
VH first, and a whole 250 km swath; its GeoTIFFs keep band names, units and nodata in SNAP's own
header, not where GDAL reads them, so that header is read (`snap_header.py`), and a file with
neither names nor header needs `--bands`. This module turns such a file into `<scene>_s1.tif` beside
`<scene>_s2.tif`: cut and resampled onto S2's grid in the input's units (linear power is averaged as
power; dB input is resampled in dB, which reads a speckled scene 0.3-0.4 dB lower), bands ordered
VV, VH, linear power converted to dB, NaN where there is no signal (where every band holds 0 or the
file's nodata, or power is not positive). It is written strip by strip, like every output.
Amplitude, uncalibrated intensity, gamma0, beta0 and HH/HV bands are refused where the band names
say so.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from ibhfn.atomic import atomic_path, refuse_overwriting
from ibhfn.bands import S1_BANDS, described_order, description_words
from ibhfn.errors import InputError
from ibhfn.runtime.pairing import scene_name
from ibhfn.runtime.pipeline import GDAL_CACHE_BYTES
from ibhfn.runtime.raster_source import open_raster, s1_onto_s2_grid, s1_overlap
from ibhfn.runtime.snap_header import snap_bands
from ibhfn.runtime.writer import SceneWriter

UNITS = ("auto", "db", "linear")
SAMPLE = 256  # px on a side of the decimated view of the whole scene that the units are judged on
STRIP = 1024  # rows per strip: 8 MB a band at 10980 px
NOT_SIGMA0 = {"AMPLITUDE": "amplitude", "INTENSITY": "uncalibrated intensity", "GAMMA0": "gamma0", "BETA0": "beta0"}
CROSS_POLS = ("HH", "HV")  # polarisations of a product that has no VV and VH


@dataclass(frozen=True)
class PreparedS1:
    """Where the prepared S1 went and what was done to it, for the user."""

    output: Path
    linear: bool  # whether the input was linear power, converted to dB
    valid: float  # the share of the S2 scene's pixels with backscatter in both bands


def prepare_s1(s1: Path, like: Path, *, order: tuple[str, ...] | None = None, units: str = "auto") -> PreparedS1:
    """Write `s1` as VV, VH in dB on the grid of the S2 file `like`, as `<scene>_s1.tif` beside it.

    `order` names the input's bands (VV, VH in some order) where neither its descriptions nor SNAP's
    header do; `units` says whether it holds dB or linear power, which its band names or values must
    not contradict (backscatter in dB is below 0 almost everywhere, power is not).
    """
    if units not in UNITS:
        raise InputError(f"unknown units {units!r}; choose one of {', '.join(UNITS)}")
    s1, like = Path(s1), Path(like)
    output = like.with_name(f"{scene_name(like)}_s1.tif")
    if output.exists() and s1.exists() and output.samefile(s1):  # refuse_overwriting's message would not say why
        raise InputError(
            f"{s1}: is already the {output.name} beside {like.name}, which this would write; rename or move it first"
        )
    refuse_overwriting(output, s1, like)
    with ExitStack() as stack:
        stack.enter_context(rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES))
        source = stack.enter_context(open_raster(s1))
        grid = stack.enter_context(open_raster(like))
        bands = _described_bands(s1, source)
        indexes = _band_indexes(s1, source.count, bands.names, order)
        _check_cover(s1, like, source, grid)
        warped = stack.enter_context(s1_onto_s2_grid(source, grid, src_nodata=bands.nodata))
        linear = _is_linear(s1, bands, warped, units)
        profile = {"width": grid.width, "height": grid.height, "crs": grid.crs, "transform": grid.transform}
        tags = {"IBHFN_S1_SOURCE": s1.name, "IBHFN_S1_UNITS_IN": "linear" if linear else "db"}
        writer = stack.enter_context(
            SceneWriter(
                stack.enter_context(atomic_path(output)),
                profile,
                bands=len(S1_BANDS),
                dtype="float32",
                descriptions=S1_BANDS,
                tags=tags,
            )
        )
        valid = 0
        for row in range(0, grid.height, STRIP):
            window = Window(0, row, grid.width, min(STRIP, grid.height - row))
            values = warped.read(indexes, window=window)
            values = _to_db(values) if linear else values
            valid += int(np.isfinite(values).all(axis=0).sum())
            writer.write(row, 0, values)
        if not valid:  # nothing is left under the output's name
            raise InputError(f"{s1}: no backscatter where it covers {like.name} (all nodata)")
    return PreparedS1(output, linear, valid / (grid.width * grid.height))


@dataclass(frozen=True)
class _Bands:
    """What a file says of its bands: names (GDAL's descriptions, else SNAP's), whether in dB, its nodata."""

    names: tuple[str | None, ...]
    db: bool
    nodata: float


def _described_bands(path: Path, source: rasterio.DatasetReader) -> _Bands:
    """The input's band names, units and nodata, from GDAL or, for SNAP's GeoTIFFs, SNAP's own header."""
    snap = snap_bands(path) if not any(source.descriptions) else None
    names = tuple(band.name for band in snap) if snap else source.descriptions
    db = any("DB" in description_words(name) for name in names) or any(band.unit.endswith("_db") for band in snap or ())
    snap_nodata = {band.nodata for band in snap} if snap else set()
    nodata = (
        source.nodata
        if source.nodata is not None
        else (snap_nodata.pop() if len(snap_nodata) == 1 and None not in snap_nodata else 0.0)
    )
    return _Bands(names, db, nodata)


def _band_indexes(path: Path, count: int, names: tuple[str | None, ...], order: tuple[str, ...] | None) -> list[int]:
    """The input's band numbers of VV and VH, from its band names or `order`, which must agree."""
    words = {word for text in names for word in description_words(text)}
    pols = sorted(words & set(CROSS_POLS))
    if pols:
        raise InputError(
            f"{path}: holds {', '.join(pols)}; the network takes VV and VH, from a dual-polarisation "
            "VV+VH product (1SDV)"
        )
    if count != len(S1_BANDS):
        raise InputError(
            f"{path}: has {count} band(s); the network takes VV and VH, from a "
            "dual-polarisation VV+VH product (1SDV), as two bands"
        )
    for word, quantity in NOT_SIGMA0.items():
        if word in words:
            raise InputError(
                f"{path}: holds {quantity}, not sigma0 as SEN12MS-CR: calibrate to sigma0 (SNAP's "
                "Calibration, Output sigma0 band) before terrain correction"
            )
    described = described_order(names, S1_BANDS)
    given = tuple(name.upper() for name in order) if order else None
    option = f"--bands {','.join(order or ())}"
    if given is not None and sorted(given) != sorted(S1_BANDS):
        raise InputError(f"{option}: give VV and VH once each, in the file's order")
    if given is not None and described is not None and given != described:
        raise InputError(f"{option}: {path} names its bands {', '.join(described)}")
    named = given or described
    if named is None:
        raise InputError(
            f"{path}: does not name its bands (no band descriptions, no SNAP header): give --bands VH,VV "
            "or --bands VV,VH (SNAP puts VH first)"
        )
    return [named.index(band) + 1 for band in S1_BANDS]


def _check_cover(s1: Path, like: Path, source: rasterio.DatasetReader, grid: rasterio.DatasetReader) -> None:
    """Refuse an S1 file without a CRS or whose footprint misses the S2 scene."""
    if source.crs is None:
        raise InputError(f"{s1}: no CRS, so it cannot be brought onto {like.name}'s grid")
    if s1_overlap(source, grid).fraction == 0.0:
        raise InputError(f"{s1}: does not overlap {like.name} (no common ground in {grid.crs})")


def _is_linear(path: Path, bands: _Bands, warped: WarpedVRT, units: str) -> bool:
    """Whether the input holds linear power: as its band names or units, the values and `units` agree."""
    view = warped.read(out_shape=(warped.count, SAMPLE, SAMPLE))
    values = view[np.isfinite(view)]
    if not values.size:
        raise InputError(f"{path}: no backscatter where it covers the scene (all nodata)")
    median = float(np.median(values))
    linear = median > 0 and not bands.db
    if units == "linear" and not linear:
        why = "its band names say dB" if bands.db else f"its values are below 0 (median {median:.3g})"
        raise InputError(f"{path}: --units linear, but {why}: it holds dB; leave --units out")
    if units == "db" and median > 0:
        raise InputError(
            f"{path}: --units db, but its median is {median:.3g}, above 0 dB: it looks like linear "
            "power; leave --units out"
        )
    return linear


def _to_db(power: np.ndarray) -> np.ndarray:
    """Linear power as dB; zero or negative power (no signal) as NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(power > 0, 10 * np.log10(power), np.nan).astype(np.float32)
