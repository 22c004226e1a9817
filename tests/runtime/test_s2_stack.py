import os

import numpy as np
import pytest
import rasterio

from ibhfn.bands import S2_BANDS
from ibhfn.errors import InputError
from ibhfn.runtime import s2_stack
from ibhfn.runtime.l1c_product import open_l1c
from ibhfn.runtime.s2_offset import DeclaredOffset, declared_offset
from ibhfn.runtime.s2_stack import stack_l1c


def blank(image, rows=slice(None), cols=slice(None)):
    """Set part of a band's JPEG 2000 file to 0, ESA's nodata, as outside the swath."""
    with rasterio.open(image) as dataset:
        values = dataset.read()
        grid = {
            key: dataset.profile[key] for key in ("driver", "width", "height", "count", "dtype", "crs", "transform")
        }
    values[:, rows, cols] = 0
    with rasterio.open(image, "w", **grid, QUALITY=100, REVERSIBLE="YES") as dataset:
        dataset.write(values)


@pytest.fixture
def product(tmp_path, make_l1c_product):
    """A Level-1C product of 120 px at 10 m and its bands at their own resolutions."""
    return make_l1c_product(tmp_path / "products", size=120)


def test_the_stack_lies_on_the_10_m_grid_in_the_engines_band_order(tmp_path, product, monkeypatch):
    monkeypatch.setattr(s2_stack, "STRIP", 32)  # several strips, the last one short
    safe, bands = product
    output = stack_l1c(open_l1c(safe), tmp_path / "T32TQM_20230412_s2.tif", resampling="nearest")
    with rasterio.open(output) as stack, rasterio.open(open_l1c(safe).band_files["B2"]) as b2:
        assert (stack.count, stack.shape, stack.dtypes[0]) == (13, (120, 120), "uint16")
        assert (stack.crs, stack.transform, stack.nodata) == (b2.crs, b2.transform, 0)
        assert stack.descriptions == S2_BANDS
        values = stack.read()
        assert declared_offset(output, stack) == DeclaredOffset(-1000, "band offsets")
        assert stack.tags()["PROCESSING_BASELINE"] == "05.09" and stack.tags()["RADIO_ADD_OFFSET"] == "-1000"
    for index, band in enumerate(S2_BANDS):  # nearest: every coarse pixel repeated over its 10 m pixels
        repeat = 120 // bands[band].shape[0]
        np.testing.assert_array_equal(values[index], np.kron(bands[band], np.ones((repeat, repeat), np.uint16)))
    assert sorted(p.name for p in tmp_path.iterdir()) == [output.name, "products"]


def test_bilinear_resampling_keeps_nodata_out_of_the_valid_values(tmp_path, product):
    safe, bands = product
    blank(open_l1c(safe).band_files["B5"], cols=slice(0, 30))  # the left half of a 20 m band
    output = stack_l1c(open_l1c(safe), tmp_path / "stack.tif", resampling="bilinear")
    with rasterio.open(output) as stack:
        values = stack.read()
    stacked = values[S2_BANDS.index("B5")]
    assert (stacked[:, :58] == 0).all() and (stacked[:, 62:] > 1000).all()
    assert ((stacked == 0) | (stacked > 1000)).all()  # no value blended with nodata's 0
    assert stacked[:, 62:].min() >= bands["B5"][:, 30:].min() and stacked.max() <= bands["B5"].max()
    assert (values[:, stacked == 0] == 0).all() and (values[:, stacked > 0] > 0).all()  # no pixel with some bands


@pytest.mark.parametrize("resampling", ["nearest", "cubic"])
def test_a_pixel_that_some_band_lacks_is_nodata_in_every_band(tmp_path, product, resampling):
    safe, _ = product
    blank(open_l1c(safe).band_files["B1"], rows=slice(0, 3))  # 60 m: 18 rows at 10 m
    with rasterio.open(stack_l1c(open_l1c(safe), tmp_path / "stack.tif", resampling=resampling)) as stack:
        stacked = stack.read()
    assert (stacked[:, :17] == 0).all() and (stacked[:, 19:] > 0).all()
    assert ((stacked == 0).all(axis=0) | (stacked > 0).all(axis=0)).all()


def test_a_zipped_product_stacks_as_its_folder(tmp_path, product, zipped):
    safe, _ = product
    outputs = [stack_l1c(open_l1c(path), tmp_path / f"{path.suffix[1:]}.tif") for path in (safe, zipped(safe))]
    with rasterio.open(outputs[0]) as folder, rasterio.open(outputs[1]) as archive:
        np.testing.assert_array_equal(folder.read(), archive.read())
        assert folder.profile == archive.profile


def test_a_product_before_baseline_04_declares_no_offset(tmp_path, make_l1c_product):
    safe, _ = make_l1c_product(tmp_path / "old", size=60, baseline="02.09", offset=None)
    with rasterio.open(stack_l1c(open_l1c(safe), tmp_path / "stack.tif")) as stack:
        assert declared_offset(tmp_path / "stack.tif", stack) == DeclaredOffset(0, "band offsets")
        assert (stack.tags()["RADIO_ADD_OFFSET"], stack.tags()["PROCESSING_BASELINE"]) == ("0", "02.09")


def test_an_unknown_resampling_is_refused_before_anything_is_written(tmp_path, product):
    with pytest.raises(InputError, match="unknown resampling 'lanczos'; choose one of nearest, bilinear, cubic"):
        stack_l1c(open_l1c(product[0]), tmp_path / "stack.tif", resampling="lanczos")
    assert not (tmp_path / "stack.tif").exists()


@pytest.mark.parametrize("keep", [100, 0.5], ids=["header", "half"])
def test_a_damaged_band_file_is_named_and_nothing_is_written(tmp_path, product, keep):
    found = open_l1c(product[0])
    image = found.band_files["B11"]
    size = os.path.getsize(image)
    with open(image, "r+b") as damaged:  # cut within the header (fails on opening) or within the data (on reading)
        damaged.truncate(keep if isinstance(keep, int) else int(size * keep))
    with pytest.raises(InputError) as raised:
        stack_l1c(found, tmp_path / "stack.tif")
    assert str(raised.value).startswith(f"{image}: ") and "See previous exception" not in str(raised.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["products"]
