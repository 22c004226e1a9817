import numpy as np
import pytest

from ibhfn.runtime.nodata import fill_invalid, valid_pixels


@pytest.fixture
def dn():
    values = np.random.default_rng(0).integers(1, 5000, (13, 6, 7)).astype(np.uint16)
    values[:, 0, 0] = 0  # nodata in every band
    values[:5, 1, 1] = 0  # zero in some bands only: data
    return values


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.float32, np.float64])
def test_nodata_is_every_band_at_the_fill_value_whatever_the_type(dn, dtype):
    valid = valid_pixels(dn.astype(dtype), None)
    assert valid.shape == (6, 7) and valid.sum() == 6 * 7 - 1
    assert not valid[0, 0] and valid[1, 1]


def test_integer_values_need_no_finiteness_check(dn):
    values = dn.astype(np.float32)
    assert np.array_equal(valid_pixels(values, None, finite=True), valid_pixels(values, None))
    values[7, 4, 5] = np.nan  # what `finite` promises not to hold: then it is not looked for
    assert valid_pixels(values, None, finite=True)[4, 5] and not valid_pixels(values, None)[4, 5]


def test_a_declared_nodata_value_replaces_zero(dn):
    dn[:, 2, 3] = 65535
    valid = valid_pixels(dn, 65535.0)
    assert not valid[2, 3] and valid[0, 0]
    assert np.array_equal(valid_pixels(dn, np.nan), valid_pixels(dn, None))  # NaN declared: zero, as undeclared


def test_nan_in_any_band_is_nodata(dn):
    values = dn.astype(np.float32)
    values[7, 4, 5] = np.nan
    valid = valid_pixels(values, None)
    assert not valid[4, 5] and not valid[0, 0] and valid.sum() == 6 * 7 - 2


def test_invalid_pixels_take_the_band_means_of_the_valid_ones(dn):
    optical = dn.astype(np.float32)
    valid = valid_pixels(dn, None)
    filled = fill_invalid(optical, valid)
    np.testing.assert_allclose(filled[:, 0, 0], optical[:, valid].mean(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(filled[:, valid], optical[:, valid])
    assert fill_invalid(optical, np.ones((6, 7), bool)) is optical
