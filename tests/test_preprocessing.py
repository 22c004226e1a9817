import numpy as np
import pytest

from ibhfn.preprocessing import PREPROCESSING, S2_BASELINE_04_OFFSET


@pytest.fixture(params=sorted(PREPROCESSING))
def preprocessing(request):
    return PREPROCESSING[request.param]


@pytest.fixture
def raw():
    rng = np.random.default_rng(0)
    dn = rng.integers(0, 20000, (13, 16, 16)).astype(np.float32)
    db = rng.normal(-15, 10, (2, 16, 16)).astype(np.float32)
    dn[3, 2, 2] = db[1, 4, 4] = np.nan
    return dn, db


def test_in_place_gives_the_same_numbers_and_reuses_the_input(preprocessing, raw):
    dn, db = raw
    optical = preprocessing.optical(dn)
    for convert, values in ((preprocessing.optical, dn), (preprocessing.sar, db), (preprocessing.reflectance, optical)):
        scratch = values.copy()
        result = convert(scratch, in_place=True)
        np.testing.assert_array_equal(result, convert(values.copy()))
        assert np.shares_memory(result, scratch)
    scratch = optical.copy()
    np.testing.assert_array_equal(preprocessing.to_dn(scratch, in_place=True), preprocessing.to_dn(optical))
    assert not np.array_equal(scratch, optical)  # used as scratch space on the way to uint16


def test_network_ranges_and_nan_to_zero(preprocessing, raw):
    dn, db = raw
    optical, sar = preprocessing.optical(dn), preprocessing.sar(db)
    assert optical.dtype == sar.dtype == np.float32
    assert optical[3, 2, 2] == 0.0 and sar[1, 4, 4] == 0.0
    assert optical.min() >= 0 and optical.max() == pytest.approx(preprocessing.s2_dn_max / preprocessing.s2_divisor)
    assert sar.min() >= 0 and sar.max() <= preprocessing.s1_scale * (1 + 1e-6)


def test_dn_round_trip(preprocessing):
    dn = np.arange(0, 10000, 7, dtype=np.uint16).reshape(1, 1, -1)
    back = preprocessing.to_dn(preprocessing.optical(dn))
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, np.minimum(dn, preprocessing.s2_dn_max))


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.int32])
def test_integer_dn_maps_as_its_float_values_and_stays_untouched(preprocessing, dtype):
    low = 0 if np.issubdtype(dtype, np.unsignedinteger) else -3000
    dn = np.random.default_rng(1).integers(low, 20000, (13, 8, 8)).astype(dtype)
    original = dn.copy()
    optical = preprocessing.optical(dn, in_place=True)
    assert optical.dtype == np.float32
    np.testing.assert_array_equal(optical, preprocessing.optical(dn.astype(np.float32)))
    np.testing.assert_array_equal(dn, original)


def test_an_offset_product_maps_as_the_same_reflectance_and_comes_back_in_its_own_dn(preprocessing, raw):
    dn, _ = raw
    shifted = dn - S2_BASELINE_04_OFFSET  # the same reflectance as a product of baseline 04.00 stores it
    optical = preprocessing.optical(shifted, offset=S2_BASELINE_04_OFFSET)
    np.testing.assert_array_equal(optical, preprocessing.optical(dn))
    np.testing.assert_array_equal(
        preprocessing.optical(shifted.copy(), offset=S2_BASELINE_04_OFFSET, in_place=True), optical
    )
    assert optical[3, 2, 2] == 0.0  # NaN is still reflectance 0
    dark = np.full((1, 1, 1), 400.0, np.float32)  # reflectance -0.06 once offset: clipped to 0
    assert preprocessing.optical(dark, offset=S2_BASELINE_04_OFFSET).item() == 0.0
    back = preprocessing.to_dn(optical, offset=S2_BASELINE_04_OFFSET)
    np.testing.assert_array_equal(back, preprocessing.to_dn(optical).astype(np.int32) - S2_BASELINE_04_OFFSET)
