from pathlib import Path

import numpy as np
import pytest

from ibhfn.runtime.radiometry import sample_window, unit_warnings

S1, S2 = Path("a_s1.tif"), Path("a_s2.tif")


@pytest.fixture
def scene():
    """A window of S1 in dB and S2 DN as the network expects them, and its valid mask."""
    rng = np.random.default_rng(0)
    s1_db = rng.uniform(-25, -2, (2, 32, 32)).astype(np.float32)
    s2_dn = rng.integers(1, 5000, (13, 32, 32)).astype(np.float32)
    return s1_db, s2_dn, np.ones((32, 32), bool)


def test_the_central_window_or_the_whole_of_a_small_scene():
    assert sample_window(1000, 777) == (468, 356, 64, 64)
    assert sample_window(40, 70) == (0, 3, 40, 64)


def test_values_in_the_expected_units_give_no_warning(scene):
    assert unit_warnings(S1, *scene[:1], S2, *scene[1:]) == []


def test_s1_in_linear_power_is_named(scene):
    s1_db, s2_dn, valid = scene
    linear = 10 ** (s1_db / 10)
    linear[:, :4] = 0.0  # zero-filled nodata does not count
    [warning] = unit_warnings(S1, linear, S2, s2_dn, valid)
    assert warning.startswith("a_s1.tif: backscatter has a median of 0.0") and "linear power, not dB" in warning


def test_s2_as_reflectance_is_named_and_nodata_does_not_count(scene):
    s1_db, s2_dn, valid = scene
    reflectance = s2_dn / 10000
    reflectance[:, :4] = 65535.0
    valid[:4] = False
    [warning] = unit_warnings(S1, s1_db, S2, reflectance, valid)
    assert warning == ("a_s2.tif: values are at most 0.5: they look like reflectance in [0, 1], "
                       "not DN = reflectance x 10000")


def test_a_window_without_data_is_not_judged(scene):
    s1_db, s2_dn, valid = scene
    assert unit_warnings(S1, 10 ** (s1_db / 10), S2, s2_dn / 10000, np.zeros_like(valid)) == []
