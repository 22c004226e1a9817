"""The two inputs of one scene, read by windows on the cloudy Sentinel-2 grid.

S2 is opened first and is the reference: its CRS, transform and size become the output's, so the
georeferencing is never lost. S1 is read directly when it lies on the same grid, otherwise through
a `WarpedVRT` onto S2's grid (bilinear; average when S1 is finer than S2); either grid may be
north-up or south-up. Everything that can be checked before any compute is checked on opening, and
every problem found is reported at once; `geotiffs_only` keeps a batch to GeoTIFFs before that.
Windows of neighbouring blocks share the file's strips or tiles; GDAL's block cache, which the
pipeline caps, keeps a striped file from being decoded once per block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.coords import disjoint_bounds
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from ibhfn.bands import described_order
from ibhfn.engine_metadata import EngineMetadata
from ibhfn.errors import InputError
from ibhfn.runtime.nodata import valid_pixels
from ibhfn.runtime.pairing import Pairing, PairingProblem, not_a_file
from ibhfn.runtime.radiometry import sample_window, unit_warnings
from ibhfn.runtime.remote import is_remote, open_remote, read_failure, shown
from ibhfn.runtime.s2_offset import scene_offset

S2_DTYPES = ("uint16", "int16", "uint32", "int32", "float32", "float64")
S1_DTYPES = ("float32", "float64")
FULL_COVER = 0.999  # S1 covering less of S2 than this is reported as partial
GEOTIFF_DRIVER = "GTiff"  # GDAL's driver of GeoTIFFs and COGs: the one format ibhfn-run reads unless told otherwise
ANY_FORMAT_OPTION = "--allow-any-format"
SAMPLE_GRID = 8  # windows down and across S1 over S2 in which its backscatter is counted
SAMPLE_WINDOW = 64  # px on a side of each
STRIP = 256  # rows read at a time where every pixel is counted
STRIP_WIDTH = 4096  # columns read at a time there
MAX_PIXELS = 500_000_000  # px in S1 or S2 (four 10980 px Sentinel-2 granules): more is refused unless allowed
MAX_PIXELS_OPTION = "--max-pixels"


def error_reason(exc: BaseException) -> str:
    """An exception's message on one line (GDAL's span several), or its type where it has none.

    rasterio's "Read failed. See previous exception for details." gives way to the GDAL errors it
    chains (the block that failed and why: "ZIPDecode:Decoding error at scanline 0"), each said once.
    """
    text = " ".join(str(exc).split())
    if "See previous exception" not in text:
        return text or type(exc).__name__
    messages: list[str] = []
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(messages) < 8:
        message = " ".join(str(cause).split()).rstrip(".")
        if message and not any(message in kept for kept in messages):
            messages.append(message)
        cause = cause.__cause__ or cause.__context__
    return "; ".join(messages) or text


def open_raster(path: Path) -> rasterio.DatasetReader:
    """Open a raster for reading, or raise InputError naming the file (a remote one's URL and HTTP status)."""
    if is_remote(path):
        return open_remote(Path(path))
    reason = not_a_file(Path(path))
    if reason is not None:
        raise InputError(f"{path}: {reason}")
    if Path(path).stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    try:
        return rasterio.open(path)
    except RasterioError as exc:
        raise InputError(f"{path}: not a readable raster ({error_reason(exc)})") from None


def geotiffs_only(pairing: Pairing) -> Pairing:
    """`pairing` with each scene whose S1 or S2 is no GeoTIFF (GDAL's GTiff driver, COGs included) made a problem.

    A VRT, say, may read other files or devices, which `--resume` would not hash; a file GDAL cannot open
    is left to the scene, which says why when it opens it.
    """
    checked = Pairing(problems=list(pairing.problems))
    for pair in pairing.pairs:
        problems = [
            PairingProblem(
                path,
                f"a {driver} file, not a GeoTIFF; convert it (gdal_translate -of GTiff) or "
                f"pass {ANY_FORMAT_OPTION} to read it as it is",
                pair.name,
            )
            for path in (pair.s1, pair.s2)
            if (driver := _driver(path)) not in (GEOTIFF_DRIVER, None)
        ]
        checked.problems += problems
        checked.pairs += [] if problems else [pair]
    return checked


def _driver(path: Path) -> str | None:
    """The GDAL driver that opens `path`, or None where none does."""
    try:
        with open_raster(path) as dataset:
            return str(dataset.driver)
    except InputError:
        return None


def area_km2(dataset: rasterio.DatasetReader) -> float | None:
    """Ground area a raster covers, when its CRS is projected."""
    crs = dataset.crs
    if crs is None or not crs.is_projected:
        return None
    metres = crs.linear_units_factor[1]
    return float(abs(dataset.transform.determinant) * metres**2 * dataset.width * dataset.height / 1e6)


def footprint(dataset: rasterio.DatasetReader) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a dataset in its CRS, whether its grid is north-up or south-up."""
    left, bottom, right, top = dataset.bounds
    return min(left, right), min(bottom, top), max(left, right), max(bottom, top)


@dataclass(frozen=True)
class Overlap:
    """How much of the S2 footprint the S1 footprint covers, in S2's CRS."""

    fraction: float
    s1_bounds: tuple[float, float, float, float]


def s1_overlap(s1: rasterio.DatasetReader, s2: rasterio.DatasetReader) -> Overlap:
    """How much of S2's footprint S1's covers."""
    bounds = transform_bounds(s1.crs, s2.crs, *footprint(s1)) if s1.crs != s2.crs else footprint(s1)
    left, bottom, right, top = s2_bounds = footprint(s2)
    width = max(0.0, min(right, bounds[2]) - max(left, bounds[0]))
    height = max(0.0, min(top, bounds[3]) - max(bottom, bounds[1]))
    fraction = 0.0 if disjoint_bounds(bounds, s2_bounds) else width * height / ((right - left) * (top - bottom))
    return Overlap(fraction, bounds)


def same_grid(dataset: rasterio.DatasetReader, reference: rasterio.DatasetReader) -> bool:
    """Whether `dataset` lies on `reference`'s grid (CRS, size, and transform within a millionth of a pixel)."""
    return bool(
        dataset.crs == reference.crs
        and dataset.shape == reference.shape
        and dataset.transform.almost_equals(reference.transform, precision=1e-6 * abs(reference.transform.a))
    )


def _s1_resampling(s1: rasterio.DatasetReader, s2: rasterio.DatasetReader, s1_bounds: tuple[float, ...]) -> Resampling:
    """How S1 is brought onto S2's grid: average where S1 is finer, else bilinear."""
    s1_pixel = (s1_bounds[2] - s1_bounds[0]) / s1.width
    return Resampling.average if s1_pixel < 0.75 * abs(s2.transform.a) else Resampling.bilinear


def has_backscatter(s1: np.ndarray, nodata: float | None) -> np.ndarray:
    """(H, W) bool: where (bands, H, W) S1 is finite and not `nodata` in every band, nor 0 in all of them."""
    empty = np.all(s1 == 0, axis=0)  # SNAP's nodata, and no dB scene's value in both bands
    if nodata is not None and not np.isnan(nodata):
        empty |= np.any(s1 == nodata, axis=0)
    backscatter: np.ndarray = np.isfinite(s1).all(axis=0) & ~empty
    return backscatter


def backscatter_share(s1: rasterio.DatasetReader, s2: rasterio.DatasetReader) -> float:
    """The share of S1's pixels over S2's footprint with backscatter, in S1's grid.

    Counted in a grid of small windows spread over the footprint; only where they hold none is all of it read.
    """
    window = _window_over(s1, footprint(s2) if s1.crs == s2.crs else transform_bounds(s2.crs, s1.crs, *footprint(s2)))
    if window is None:
        return 0.0
    height, width = min(SAMPLE_WINDOW, window.height), min(SAMPLE_WINDOW, window.width)
    rows, cols = (
        sorted({start + (length - size) * step // (SAMPLE_GRID - 1) for step in range(SAMPLE_GRID)})
        for start, length, size in ((window.row_off, window.height, height), (window.col_off, window.width, width))
    )
    samples = [Window(col, row, width, height) for row in rows for col in cols]
    share = np.mean([has_backscatter(s1.read(window=sample), s1.nodata).mean() for sample in samples])
    if share > 0:
        return float(share)
    strips = [
        Window(
            col,
            row,
            min(STRIP_WIDTH, window.col_off + window.width - col),
            min(STRIP, window.row_off + window.height - row),
        )
        for row in range(window.row_off, window.row_off + window.height, STRIP)
        for col in range(window.col_off, window.col_off + window.width, STRIP_WIDTH)
    ]
    with_backscatter = sum(int(has_backscatter(s1.read(window=strip), s1.nodata).sum()) for strip in strips)
    return float(with_backscatter / (window.width * window.height))


def _window_over(dataset: rasterio.DatasetReader, bounds: tuple[float, float, float, float]) -> Window | None:
    """The window of `dataset` that holds `bounds` (in its CRS, any grid orientation), or None where none does."""
    inverse = ~dataset.transform
    cols, rows = zip(*(inverse @ (x, y) for x in bounds[0::2] for y in bounds[1::2]))
    col0, row0 = max(0, math.floor(min(cols))), max(0, math.floor(min(rows)))
    col1, row1 = min(dataset.width, math.ceil(max(cols))), min(dataset.height, math.ceil(max(rows)))
    return Window(col0, row0, col1 - col0, row1 - row0) if col1 > col0 and row1 > row0 else None


def too_large(path: Path, dataset: rasterio.DatasetReader, max_pixels: int) -> str | None:
    """Why `dataset` is refused for its size (what its header claims, before anything is read); None when it is not."""
    pixels = dataset.width * dataset.height
    if pixels <= max_pixels:
        return None
    return (
        f"{path}: is {dataset.width} x {dataset.height} px ({pixels:,} px), more than the {max_pixels:,} px "
        f"allowed; if its header is wrong, rewrite the file; else cut it into scenes (gdal_translate -srcwin) "
        f"or pass {MAX_PIXELS_OPTION} {pixels} to restore it whole"
    )


def s1_onto_s2_grid(
    s1: rasterio.DatasetReader, s2: rasterio.DatasetReader, *, src_nodata: float | None = None
) -> WarpedVRT:
    """S1 as float32 on S2's grid, NaN where it has no data; `src_nodata` None takes S1's own nodata."""
    return WarpedVRT(
        s1,
        crs=s2.crs,
        transform=s2.transform,
        width=s2.width,
        height=s2.height,
        resampling=_s1_resampling(s1, s2, s1_overlap(s1, s2).s1_bounds),
        nodata=np.nan,
        dtype="float32",
        **({} if src_nodata is None else {"src_nodata": src_nodata}),
    )


class SceneSource:
    """S1 and S2 of one scene on S2's grid; a context manager. `warnings` lists what to tell the user.

    `s2_offset` is the RADIO_ADD_OFFSET the run was given (None: none given), and `self.s2_offset`
    the one S2 is read with, which its values are checked against: the given one, else what the
    file declares, else 0 (`s2_offset.py`); `self.s2_offset_origin` says which. An S1 without
    backscatter over S2 is refused, and one with backscatter over only part of it is a warning. Either
    file larger than `max_pixels` is refused before anything is read.
    """

    def __init__(
        self,
        s1_path: Path,
        s2_path: Path,
        metadata: EngineMetadata,
        *,
        s2_offset: int | None = None,
        max_pixels: int = MAX_PIXELS,
    ) -> None:
        self.s1_path, self.s2_path = Path(s1_path), Path(s2_path)
        self.warnings: list[str] = []
        self._s2 = open_raster(self.s2_path)
        try:
            self._s1 = open_raster(self.s1_path)
            try:
                self._check(metadata, max_pixels)
                offset = scene_offset(self.s2_path, self._s2, s2_offset)
                self.s2_offset, self.s2_offset_origin = offset.dn, offset.origin
                self.warnings += offset.warnings
                self._check_backscatter()
                self._s1_grid = self._s1 if same_grid(self._s1, self._s2) else s1_onto_s2_grid(self._s1, self._s2)
            except BaseException:
                self._s1.close()
                raise
        except BaseException:
            self._s2.close()
            raise
        try:
            self.warnings += self._check_units()
        except BaseException:
            self.close()
            raise

    def _check(self, metadata: EngineMetadata, max_pixels: int) -> None:
        sizes = [
            reason
            for path, dataset in ((self.s2_path, self._s2), (self.s1_path, self._s1))
            if (reason := too_large(path, dataset, max_pixels)) is not None
        ]
        if sizes:
            raise InputError("; ".join(sizes))
        problems = []
        for path, dataset, bands, dtypes, what in (
            (self.s2_path, self._s2, metadata.s2_bands, S2_DTYPES, "S2 DN (reflectance x 10000)"),
            (self.s1_path, self._s1, metadata.s1_bands, S1_DTYPES, "S1 backscatter in dB"),
        ):
            if dataset.count != len(bands):
                problems.append(
                    f"{path}: has {dataset.count} bands; the engine expects {len(bands)} ({', '.join(bands)})"
                )
            if dataset.dtypes[0] not in dtypes:
                problems.append(
                    f"{path}: holds {dataset.dtypes[0]}; the engine expects {what} as {' or '.join(dtypes)}"
                )
            order = described_order(dataset.descriptions, bands)
            if order is not None and order != tuple(bands):
                problems.append(
                    f"{path}: its band descriptions give the order {', '.join(order)}; the engine "
                    f"expects {', '.join(bands)} (reorder the bands, for example with gdal_translate -b)"
                )
        if not problems and not same_grid(self._s1, self._s2):
            problems += self._check_overlap()
        if problems:
            raise InputError("; ".join(problems))

    def _check_overlap(self) -> list[str]:
        missing = [str(path) for path, ds in ((self.s1_path, self._s1), (self.s2_path, self._s2)) if ds.crs is None]
        if missing:
            return [f"{' and '.join(missing)}: no CRS, so S1 cannot be aligned with S2 on another grid"]
        overlap = s1_overlap(self._s1, self._s2)
        if overlap.fraction == 0.0:
            return [f"{self.s1_path}: does not overlap {self.s2_path.name} (no common ground in {self._s2.crs})"]
        if overlap.fraction < FULL_COVER:
            self.warnings.append(
                f"{self.s1_path}: covers {overlap.fraction:.1%} of {self.s2_path.name}; "
                "outside it the network sees no S1 signal"
            )
        return []

    def _check_backscatter(self) -> None:
        """Refuse an S1 with no backscatter over S2 (the network would see none), and say where it has little."""
        try:
            share = backscatter_share(self._s1, self._s2)
        except RasterioError as exc:
            raise InputError(f"{self.s1_path}: cannot be read ({error_reason(exc)})") from None
        if share == 0.0:
            raise InputError(
                f"{self.s1_path}: holds no backscatter over {self.s2_path.name} (NaN, or 0 or its "
                "nodata, throughout), so the network would see no S1 signal; give an S1 that covers "
                "the scene (ibhfn-prepare s1 says how much of it does)"
            )
        if share < FULL_COVER:
            self.warnings.append(
                f"{self.s1_path}: holds backscatter in about {share:.1%} of where it covers "
                f"{self.s2_path.name} (the rest is NaN, or 0 or its nodata); there the network "
                "sees no S1 signal"
            )

    def _check_units(self) -> list[str]:
        s1_db, s2_dn = self.read_window(*sample_window(self.height, self.width))
        valid = valid_pixels(s2_dn, self.s2_nodata)
        warnings: list[str] = unit_warnings(
            self.s1_path,
            s1_db,
            self.s2_path,
            s2_dn,
            valid,
            s2_offset=self.s2_offset,
            s2_offset_origin=self.s2_offset_origin,
        )
        return warnings

    @property
    def warped(self) -> bool:
        """Whether S1 is resampled onto S2's grid."""
        return self._s1_grid is not self._s1

    @property
    def height(self) -> int:
        return int(self._s2.height)

    @property
    def width(self) -> int:
        return int(self._s2.width)

    @property
    def profile(self) -> dict[str, Any]:
        """S2's profile: the georeferencing the output inherits."""
        return dict(self._s2.profile)

    @property
    def s2_nodata(self) -> float | None:
        nodata = self._s2.nodata
        return None if nodata is None else float(nodata)

    @property
    def s2_descriptions(self) -> tuple[str | None, ...]:
        return tuple(self._s2.descriptions)

    @property
    def area_km2(self) -> float | None:
        """Ground area of the scene, when its CRS is projected."""
        return area_km2(self._s2)

    def read_window(self, row: int, col: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """S1 in dB (2, height, width) and S2 DN (13, height, width), both float32, from scene pixel (row, col)."""
        window = Window(col, row, width, height)
        arrays = []
        for path, dataset in ((self.s1_path, self._s1_grid), (self.s2_path, self._s2)):
            try:
                arrays.append(dataset.read(window=window, out_dtype="float32"))
            except RasterioError as exc:
                raise InputError(
                    f"{shown(path)}: cannot read rows {row}..{row + height}, columns {col}..{col + width} "
                    f"({read_failure(path, exc) if is_remote(path) else error_reason(exc)})"
                ) from None
        return arrays[0], arrays[1]

    def close(self) -> None:
        """Close the S1 view and both files."""
        if self.warped:
            self._s1_grid.close()
        self._s1.close()
        self._s2.close()

    def __enter__(self) -> SceneSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
