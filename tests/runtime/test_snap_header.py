import numpy as np
import rasterio

from ibhfn.runtime.snap_header import SnapBand, snap_bands

BANDS = [("Sigma0_VH", "intensity", 0.0), ("Sigma0_VV", "intensity", 0.0)]


def write(path, **options):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=16,
        height=8,
        count=2,
        dtype="float32",
        crs="EPSG:32631",
        transform=rasterio.Affine(10, 0, 500000, 0, -10, 4000000),
        **options,
    ) as dataset:
        dataset.write(np.ones((2, 8, 16), np.float32))
    return path


def test_snaps_header_gives_the_bands_in_order_and_gdal_still_reads_the_file(tmp_path, snap_header):
    path = snap_header(write(tmp_path / "s1.tif"), BANDS)
    assert snap_bands(path) == (SnapBand("Sigma0_VH", "intensity", 0.0), SnapBand("Sigma0_VV", "intensity", 0.0))
    with rasterio.open(path) as dataset:  # the patched directory keeps every GeoTIFF tag
        assert dataset.crs.to_epsg() == 32631 and dataset.transform.c == 500000 and dataset.read().sum() == 256


def test_a_file_without_the_header_has_none(tmp_path):
    assert snap_bands(write(tmp_path / "plain.tif")) is None
    assert snap_bands(write(tmp_path / "big.tif", BIGTIFF="YES")) is None  # BigTIFF directories are read too
    (tmp_path / "junk.tif").write_bytes(b"not a tiff")
    assert snap_bands(tmp_path / "junk.tif") is None


def test_a_header_that_is_not_snaps_is_ignored(tmp_path, snap_header):
    path = snap_header(write(tmp_path / "s1.tif"), BANDS)
    data = path.read_bytes().replace(b"<BAND_INDEX>1</BAND_INDEX>", b"<BAND_INDEX>x</BAND_INDEX>")
    path.write_bytes(data)
    assert snap_bands(path) is None
