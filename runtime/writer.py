"""The restored scene as a tiled, compressed GeoTIFF on the input's grid, written by row strips.

Rows arrive in order; they are gathered into whole block rows before writing, so every compressed
block is written once. The output keeps S2's CRS, transform, size and band descriptions. GDAL's COG
driver can only copy (GDAL #4929), so `cog=True` writes the tiled GeoTIFF first and then copies it
to a COG, whose overviews (average) the driver builds.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.errors import RasterioError

from ibhfn.errors import InputError
from ibhfn.preprocessing import Preprocessing

OUTPUT_DTYPES = ("uint16", "float32")
BLOCK = 256
COG_BLOCK = 512
CREATION = {"compress": "deflate", "bigtiff": "if_safer"}


def output_nodata(dtype: str) -> float:
    """The output's nodata value: 0 for uint16 DN (as Sentinel-2 products), NaN for float32."""
    return 0 if dtype == "uint16" else float("nan")


def encode(restored: np.ndarray, valid: np.ndarray, preprocessing: Preprocessing, dtype: str) -> np.ndarray:
    """Network-scale rows to uint16 DN (reflectance x 10000) or float32 reflectance, nodata outside `valid`."""
    if dtype == "uint16":
        values = preprocessing.to_dn(restored)
    else:
        values = preprocessing.reflectance(restored)
    values[:, ~valid] = output_nodata(dtype)
    return values


@contextlib.contextmanager
def write_errors(path: Path) -> Iterator[None]:
    """Turn GDAL's write failures (a full disk, a read-only folder) into one-line errors naming the file."""
    try:
        yield
    except (RasterioError, OSError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{path}: cannot write the output ({reason})") from None


class SceneWriter:
    """Writes the rows of one scene top to bottom into `path`; a context manager."""

    def __init__(
        self,
        path: Path,
        profile: dict,
        *,
        bands: int,
        dtype: str,
        descriptions: tuple[str, ...],
        cog: bool = False,
    ) -> None:
        self.path = Path(path)
        self._cog = cog
        self._strips_path = self.path.with_name(self.path.name + ".strips") if cog else self.path
        with write_errors(self.path):
            self._dataset = self._open(profile, bands, dtype)
        for index, description in enumerate(descriptions, start=1):
            self._dataset.set_band_description(index, description)
        self._pending = np.empty((bands, BLOCK, profile["width"]), dtype)
        self._pending_rows = 0
        self._written_rows = 0  # scene rows already in the file
        self._next_row = 0  # first scene row not yet received
        self._closed = False

    def _open(self, profile: dict, bands: int, dtype: str) -> rasterio.io.DatasetWriter:
        """Create the tiled, compressed GeoTIFF on the input's grid."""
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
            predictor=2 if dtype == "uint16" else 3,
            **CREATION,
        )

    def write_rows(self, row: int, values: np.ndarray) -> None:
        """Add the (bands, n, width) rows starting at scene row `row`, which must follow the last ones."""
        if row != self._next_row:
            raise ValueError(f"rows must arrive in order: expected row {self._next_row}, got {row}")
        self._next_row += values.shape[1]
        while values.shape[1]:
            take = min(BLOCK - self._pending_rows, values.shape[1])
            self._pending[:, self._pending_rows:self._pending_rows + take] = values[:, :take]
            self._pending_rows += take
            values = values[:, take:]
            if self._pending_rows == BLOCK:
                self._write_pending()

    def _write_pending(self) -> None:
        window = rasterio.windows.Window(0, self._written_rows, self._dataset.width, self._pending_rows)
        with write_errors(self.path):
            self._dataset.write(self._pending[:, :self._pending_rows], window=window)
        self._written_rows += self._pending_rows
        self._pending_rows = 0

    def close(self) -> None:
        """Write what is pending and close; with `cog`, copy to the COG and remove the strip file."""
        if self._closed:
            return
        self._closed = True
        if self._pending_rows:
            self._write_pending()
        with write_errors(self.path):
            self._dataset.close()
        if self._written_rows != self._dataset.height:
            raise ValueError(f"{self.path}: {self._written_rows} of {self._dataset.height} rows were written")
        if self._cog:
            try:
                with write_errors(self.path):
                    rasterio.shutil.copy(
                        self._strips_path,
                        self.path,
                        driver="COG",
                        blocksize=COG_BLOCK,
                        overview_resampling="average",
                        predictor="yes",
                        **CREATION,
                    )
            finally:
                self._strips_path.unlink(missing_ok=True)

    def abort(self) -> None:
        """Close without finishing; leave nothing behind but what the caller cleans up."""
        self._closed = True
        self._dataset.close()
        if self._cog:
            self._strips_path.unlink(missing_ok=True)

    def __enter__(self) -> "SceneWriter":
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
