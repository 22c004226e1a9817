"""The restored scene as a tiled (and by default compressed) GeoTIFF on the input's grid, written piece by piece.

Pieces arrive in raster order, whole blocks wide, over the whole width or panel by panel (column
ranges written top to bottom in turn); their rows are gathered in one block row of the panel's
width until their blocks are complete, so every compressed block is written once. The output
keeps S2's CRS, transform, size and band descriptions. GDAL's COG driver can only copy (GDAL
#4929), so `cog=True` writes the tiled GeoTIFF first and then copies it to a COG, whose overviews
(average) the driver builds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError

import ibhfn
from ibhfn.atomic import final_path, new_file, no_room
from ibhfn.errors import InputError
from ibhfn.preprocessing import Preprocessing
from ibhfn.runtime.gdal_failures import gdal_failures
from ibhfn.runtime.s2_offset import REFLECTANCE_SCALE

OUTPUT_DTYPES = ("uint16", "float32")
GATE_DTYPE = "uint8"  # the clear-sky gate in percent, GATE_NODATA outside the data
GATE_NODATA = 255
BLOCK = 256
COG_BLOCK = 512
CREATION = {"bigtiff": "if_safer", "num_threads": "all_cpus"}  # compressed in GDAL's threads
COMPRESSIONS = ("deflate", "zstd", "none")  # deflate: read by every GeoTIFF reader; zstd: less CPU time
LEVEL = 1  # the fastest of both; DEFLATE 1 is about as small as its default 6 on restored scenes, in less time


def compression_options(compress: str, dtype: str, *, cog: bool = False) -> dict[str, object]:
    """GDAL creation options for one of COMPRESSIONS, at LEVEL, with the predictor that suits `dtype`."""
    if compress == "none":
        return {"compress": "none"}
    if cog:  # the COG driver names its options differently
        return {"compress": compress, "level": LEVEL, "predictor": "yes"}
    level = {"zlevel": LEVEL} if compress == "deflate" else {"zstd_level": LEVEL}
    return {"compress": compress, "predictor": 3 if dtype == "float32" else 2, **level}


def output_nodata(dtype: str) -> float:
    """The output's nodata value: 0 for uint16 DN (as Sentinel-2 products), NaN for float32, 255 for the gate."""
    return {"uint16": 0, GATE_DTYPE: GATE_NODATA}.get(dtype, float("nan"))


def reflectance_scaling(dtype: str, s2_offset: int) -> tuple[float, float] | None:
    """The GDAL band (scale, offset) that turns `dtype` output into reflectance: uint16 DN's, None for float32.

    Readers that honour them (QGIS, rioxarray's mask_and_scale, ibhfn itself) see reflectance, and
    the offset is declared where the next tool looks for it.
    """
    return (REFLECTANCE_SCALE, s2_offset * REFLECTANCE_SCALE) if dtype == "uint16" else None


def encode(
    restored: np.ndarray, valid: np.ndarray, preprocessing: Preprocessing, dtype: str, *, s2_offset: int = 0
) -> np.ndarray:
    """Network-scale rows to uint16 DN (reflectance x 10000 - `s2_offset`, at least 1) or float32 reflectance.

    Nodata (0 or NaN) off `valid`.

    The result is a new array, written while `restored`'s buffer takes the next block; `restored`
    (float32) may be overwritten on the way.
    """
    if dtype == "uint16":
        values = _to_dn(restored, preprocessing, s2_offset)
    else:
        values = preprocessing.reflectance(restored)
    if not valid.all():
        values[:, ~valid] = output_nodata(dtype)
    return values


def _to_dn(restored: np.ndarray, preprocessing: Preprocessing, s2_offset: int) -> np.ndarray:
    """`Preprocessing.to_dn` and a floor of 1 DN (0 is nodata) in three passes (four with an offset), the last a cast.

    Clipping at max(0, 1 + offset) before taking the offset off gives what clipping at 0 and then
    raising to 1 DN gives (offsets are 0 or negative), so the floor costs no pass of its own.
    """
    scaled = np.multiply(restored, np.float32(preprocessing.s2_divisor), out=restored)
    np.rint(scaled, out=scaled)
    values = np.empty(scaled.shape, np.uint16)
    if s2_offset:
        np.clip(scaled, max(0, 1 + s2_offset), 65535 + s2_offset, out=scaled)
        np.subtract(scaled, np.float32(s2_offset), out=values, casting="unsafe")
    else:
        np.clip(scaled, 1, 65535, out=values, casting="unsafe")
    return values


def encode_gate(gate: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The (1, h, w) clear-sky gate G in [0, 1] as uint8 percent (100: the input kept), GATE_NODATA outside `valid`."""
    percent: np.ndarray = np.rint(np.clip(gate, 0.0, 1.0) * 100.0).astype(np.uint8)
    percent[:, ~valid] = GATE_NODATA
    return percent


@contextlib.contextmanager
def write_errors(path: Path, *, created: bool = True) -> Iterator[None]:
    """GDAL's failures on creating the file, or on writing it (a full disk, which GDAL may only log), as one line."""
    final = final_path(path)
    with gdal_failures() as failures:
        try:
            yield
        except (RasterioError, CPLE_BaseError, OSError) as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise (
                no_room(final, reason) if created else InputError(f"{final}: cannot write the output ({reason})")
            ) from None
    if failures and created:  # on creation a failure is raised, a logged one is not the file's
        raise no_room(final, f"GDAL: {failures[0]}")


class SceneWriter:
    """Writes the rows of one scene top to bottom into `path`; a context manager."""

    def __init__(
        self,
        path: Path,
        profile: dict[str, Any],
        *,
        bands: int,
        dtype: str,
        descriptions: tuple[str, ...],
        cog: bool = False,
        compress: str = "deflate",
        tags: dict[str, str] | None = None,
        scaling: tuple[float, float] | None = None,
    ) -> None:
        self.path = Path(path)
        self._cog = cog
        self._compress, self._dtype = compress, dtype
        with write_errors(self.path, created=False):
            self._strips_path = new_file(self.path.with_name(self.path.name + ".strips")) if cog else self.path
            try:
                self._dataset = self._open(profile, bands, dtype, compress)
            except BaseException:
                if cog:
                    self._strips_path.unlink(missing_ok=True)
                raise
        try:
            for index, description in enumerate(descriptions, start=1):
                self._dataset.set_band_description(index, description)
            self._dataset.update_tags(TIFFTAG_SOFTWARE=f"ibhfn {ibhfn.__version__}", **(tags or {}))
            if scaling is not None:
                self._dataset.scales, self._dataset.offsets = ((value,) * bands for value in scaling)
        except BaseException:
            self.abort()
            raise
        self._bands = bands
        self._pending: np.ndarray | None = None  # one block row of the panel, filled piece by piece
        self._panel = (0, profile["width"])  # the columns [start, end) pieces are written in, top to bottom
        self._columns_done = 0  # the panels before this column are written
        self._next_row, self._next_col = 0, 0  # where the next piece must start
        self._strip_rows = 0  # the height of every piece of the strip being written
        self._closed = False

    def _open(self, profile: dict[str, Any], bands: int, dtype: str, compress: str) -> rasterio.io.DatasetWriter:
        """Create the tiled GeoTIFF on the input's grid."""
        return rasterio.open(
            self._strips_path,
            "w",
            driver="GTiff",
            width=profile["width"],
            height=profile["height"],
            count=bands,
            dtype=dtype,
            crs=profile.get("crs"),
            transform=profile["transform"],
            nodata=output_nodata(dtype),
            tiled=True,
            blockxsize=BLOCK,
            blockysize=BLOCK,
            **CREATION,
            **compression_options(compress, dtype),
        )

    def begin_panel(self, start: int, end: int) -> None:
        """Take the next pieces in scene columns [start, end) only, top to bottom; the panels left of it are written.

        `start` is a multiple of BLOCK; `end` one too, or the scene's width.
        """
        width = self._dataset.width
        fresh = (self._next_row, self._next_col) == (0, self._panel[0])
        if (
            start != self._columns_done
            or not (fresh or self._next_row == self._dataset.height)
            or not (start % BLOCK == 0 and start < end <= width and (end % BLOCK == 0 or end == width))
        ):
            raise ValueError(f"panel of columns {start}..{end} does not follow the last one or does not end on a block")
        self._panel, self._pending = (start, end), None
        self._next_row, self._next_col = 0, start

    def write(self, row: int, col: int, values: np.ndarray) -> None:
        """Add the (bands, h, w) piece whose top-left is scene pixel (row, col).

        Pieces come in strips of rows, each strip left to right across the panel (the whole width
        unless `begin_panel` said otherwise), and start and end on multiples of BLOCK columns or the
        panel's end, so every block is written whole, once.
        """
        rows, cols = values.shape[1:]
        first, stop = self._panel
        strip_rows = rows if col == first else self._strip_rows
        on_blocks = col % BLOCK == 0 and ((col + cols) % BLOCK == 0 or col + cols == stop) and col + cols <= stop
        if (row, col) != (self._next_row, self._next_col) or not on_blocks or rows != strip_rows:
            raise ValueError(
                f"piece at row {row}, column {col} of {rows} x {cols} px does not follow the last one, "
                f"does not end on a block or differs in height from its strip"
            )
        self._strip_rows = strip_rows
        if not cols:
            return
        if self._pending is None:
            self._pending = np.empty((self._bands, BLOCK, stop - first), self._dataset.dtypes[0])
        end = row + rows
        while row < end:
            top = row // BLOCK * BLOCK
            bottom = min(top + BLOCK, self._dataset.height)
            take = min(end, bottom) - row
            self._pending[:, row - top : row - top + take, col - first : col - first + cols] = values[:, :take]
            values = values[:, take:]
            row += take
            if row == bottom:
                window = rasterio.windows.Window(col, top, cols, bottom - top)
                with write_errors(self.path):
                    self._dataset.write(
                        self._pending[:, : bottom - top, col - first : col - first + cols], window=window
                    )
        self._next_col = col + cols
        if self._next_col == stop:
            self._next_row, self._next_col = end, first
            if end == self._dataset.height:
                self._columns_done, self._pending = stop, None

    def close(self) -> None:
        """Close, checking every row was written; with `cog`, copy to the COG and remove the intermediate file."""
        if self._closed:
            return
        self._closed = True
        with write_errors(self.path):
            self._dataset.close()
        if self._columns_done != self._dataset.width:
            where = "" if self._panel == (0, self._dataset.width) else f" in columns {self._panel[0]}..{self._panel[1]}"
            raise ValueError(f"{self.path}: {self._next_row} of {self._dataset.height} rows were written{where}")
        if self._cog:
            try:
                with write_errors(self.path):
                    rasterio.shutil.copy(
                        self._strips_path,
                        self.path,
                        driver="COG",
                        blocksize=COG_BLOCK,
                        overview_resampling="average",
                        **CREATION,
                        **compression_options(self._compress, self._dtype, cog=True),
                    )
            finally:
                self._strips_path.unlink(missing_ok=True)

    def abort(self) -> None:
        """Close without finishing; leave nothing behind but what the caller cleans up."""
        self._closed = True
        self._dataset.close()
        if self._cog:
            self._strips_path.unlink(missing_ok=True)

    def __enter__(self) -> SceneWriter:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
