import numpy as np
import pytest
import rasterio

from ibhfn.bands import S2_BANDS
from ibhfn.errors import InputError
from ibhfn.runtime import s2_stack
from ibhfn.runtime.l1c_product import open_l1c
from ibhfn.runtime.s2_offset import DeclaredOffset, declared_offset
from ibhfn.runtime.s2_stack import stack_l1c


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
    b5 = open_l1c(safe).band_files["B5"]
    with rasterio.open(b5) as dataset:  # no image outside the swath, in the left half of a 20 m band
        values, profile = dataset.read(), dataset.profile
    values[:, :, :30] = 0
    with rasterio.open(b5, "w", **profile, QUALITY=100, REVERSIBLE="YES") as dataset:
        dataset.write(values)
    output = stack_l1c(open_l1c(safe), tmp_path / "stack.tif")
    with rasterio.open(output) as stack:
        stacked = stack.read(S2_BANDS.index("B5") + 1)
    assert (stacked[:, :58] == 0).all() and (stacked[:, 62:] > 1000).all()
    assert ((stacked == 0) | (stacked > 1000)).all()  # no value blended with nodata's 0
    assert stacked[:, 62:].min() >= bands["B5"][:, 30:].min() and stacked.max() <= bands["B5"].max()


def test_an_unknown_resampling_is_refused_before_anything_is_written(tmp_path, product):
    with pytest.raises(InputError, match="unknown resampling 'lanczos'; choose one of bilinear, nearest, cubic"):
        stack_l1c(open_l1c(product[0]), tmp_path / "stack.tif", resampling="lanczos")
    assert not (tmp_path / "stack.tif").exists()


def test_a_damaged_band_file_is_named_and_nothing_is_written(tmp_path, product):
    found = open_l1c(product[0])
    with open(found.band_files["B11"], "r+b") as image:
        image.truncate(100)
    with pytest.raises(InputError) as raised:
        stack_l1c(found, tmp_path / "stack.tif")
    assert str(raised.value).startswith(f"{found.band_files['B11']}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["products"]
