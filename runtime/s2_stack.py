"""The 13 bands of a Level-1C product as one GeoTIFF on its 10 m grid: the S2 input `ibhfn-run` takes.

Bands at 20 and 60 m are resampled onto the grid of B2 (10 m) through a `WarpedVRT`, with 0 as
nodata, as ESA stores it outside the swath: by nearest neighbour unless asked otherwise, as Google
Earth Engine (which SEN12MS-CR was prepared with) resamples by default, so that the coarse bands
most likely look as the network saw them in training. The stack is written strip by strip, so memory
is bounded by one strip of all 13 bands, never the product. The product's offset is declared the way
the runtime reads it back (`s2_offset.py`): band scale 0.0001 and offset, and the product's
RADIO_ADD_OFFSET and PROCESSING_BASELINE as metadata.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from ibhfn.atomic import atomic_path
from ibhfn.bands import S2_BANDS
from ibhfn.errors import InputError
from ibhfn.runtime.engine import available_cpus
from ibhfn.runtime.l1c_product import L1CProduct
from ibhfn.runtime.pipeline import GDAL_CACHE_BYTES
from ibhfn.runtime.raster_source import error_reason, same_grid
from ibhfn.runtime.writer import SceneWriter, reflectance_scaling

RESAMPLINGS = {"nearest": Resampling.nearest, "bilinear": Resampling.bilinear, "cubic": Resampling.cubic}
REFERENCE_BAND = "B2"  # a 10 m band: its grid is the stack's
STRIP = 1024  # rows per strip, a row of the products' JPEG 2000 tiles: 290 MB of 13 bands at 10980 px
# GDAL's block cache (pipeline.GDAL_CACHE_BYTES) holds the tile rows of the 20 and 60 m bands that a strip shares


def stack_l1c(product: L1CProduct, output: Path, *, resampling: str = "nearest", compress: str = "deflate") -> Path:
    """Write `product`'s 13 bands in the engine's order as a uint16 GeoTIFF on its 10 m grid at `output`."""
    check_resampling(resampling)
    with ExitStack() as stack:
        stack.enter_context(rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES))
        bands = {band: stack.enter_context(_open_band(path)) for band, path in product.band_files.items()}
        reference = bands[REFERENCE_BAND]
        sources = [
            _on_grid(stack, bands[band], reference, product.band_files[band], RESAMPLINGS[resampling])
            for band in S2_BANDS
        ]
        profile = {
            "width": reference.width,
            "height": reference.height,
            "crs": reference.crs,
            "transform": reference.transform,
        }
        writer = stack.enter_context(
            SceneWriter(
                stack.enter_context(atomic_path(output)),
                profile,
                bands=len(S2_BANDS),
                dtype="uint16",
                descriptions=S2_BANDS,
                compress=compress,
                tags=_tags(product),
                scaling=reflectance_scaling("uint16", product.offset),
            )
        )
        paths = [product.band_files[band] for band in S2_BANDS]
        threads = min(available_cpus(), len(S2_BANDS))
        readers = stack.enter_context(ThreadPoolExecutor(threads, thread_name_prefix="ibhfn-band"))
        for row in range(0, reference.height, STRIP):
            window = Window(0, row, reference.width, min(STRIP, reference.height - row))
            strip = np.empty((len(S2_BANDS), window.height, window.width), np.uint16)
            list(readers.map(partial(_read, window=window), sources, paths, strip))  # each band into its row of strip
            writer.write(row, 0, _blank_partial_pixels(strip))
    return Path(output)


def check_resampling(resampling: str) -> None:
    """Refuse a resampling that is not one of RESAMPLINGS, before any product is read."""
    if resampling not in RESAMPLINGS:
        raise InputError(f"unknown resampling {resampling!r}; choose one of {', '.join(RESAMPLINGS)}")


def _open_band(path: str) -> rasterio.DatasetReader:
    """One band's JPEG 2000 file, checked to hold one band of uint16 DN on a CRS."""
    try:
        dataset = rasterio.open(path)
    except RasterioError as exc:
        raise InputError(f"{path}: not a readable image ({error_reason(exc)})") from None
    if dataset.count != 1 or dataset.dtypes[0] != "uint16" or dataset.crs is None:
        dataset.close()
        raise InputError(f"{path}: expected one band of uint16 DN with a CRS, as ESA's Level-1C images hold")
    return dataset


def _on_grid(
    stack: ExitStack, band: rasterio.DatasetReader, reference: rasterio.DatasetReader, path: str, resampling: Resampling
) -> rasterio.DatasetReader | WarpedVRT:
    """`band` as it lies on `reference`'s grid: itself when it already does, else resampled onto it."""
    if band.crs != reference.crs:
        raise InputError(f"{path}: in {band.crs}, not in the CRS of the product's 10 m bands ({reference.crs})")
    if same_grid(band, reference):
        return band
    return stack.enter_context(
        WarpedVRT(
            band,
            crs=reference.crs,
            transform=reference.transform,
            width=reference.width,
            height=reference.height,
            resampling=resampling,
            src_nodata=0,
            nodata=0,
        )
    )


def _read(source: rasterio.DatasetReader | WarpedVRT, path: str, out: np.ndarray, *, window: Window) -> None:
    """One band's rows of `window` into `out`; bands are read in threads (GDAL decodes without the GIL)."""
    try:
        source.read(1, window=window, out=out)
    except RasterioError as exc:
        reason = exc.__cause__ or exc  # rasterio's own message only points to GDAL's, its cause
        raise InputError(
            f"{path}: cannot read rows {window.row_off}..{window.row_off + window.height} ({error_reason(reason)})"
        ) from None


def _blank_partial_pixels(strip: np.ndarray) -> np.ndarray:
    """Set every band to 0 where any band is 0 (nodata, as L1C's valid DN start at 1), in place.

    The bands' swath edges do not coincide once resampled to 10 m; a pixel with only some bands
    would reach the network, which masks only pixels with none, as reflectance -0.1 in the others.
    """
    partial_pixels = np.zeros(strip.shape[1:], bool)
    for band in strip:
        partial_pixels |= band == 0
    for band in strip:
        band[partial_pixels] = 0
    return strip


def _tags(product: L1CProduct) -> dict[str, str]:
    """What the product's metadata say of its radiometry, and where the stack came from."""
    return {
        "PRODUCT_URI": product.product_uri,
        "RADIO_ADD_OFFSET": str(product.offset),
        **({"PROCESSING_BASELINE": product.baseline} if product.baseline else {}),
    }
