from pathlib import Path

import numpy as np
import pytest

from ibhfn.runtime.radiometry import sample_window, unit_warnings
from ibhfn.runtime.s2_offset import GIVEN, NOT_DECLARED

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
    assert warning == (
        "a_s2.tif: values are at most 0.5: they look like reflectance in [0, 1], not DN = reflectance x 10000"
    )


def test_a_window_without_data_is_not_judged(scene):
    s1_db, s2_dn, valid = scene
    assert unit_warnings(S1, 10 ** (s1_db / 10), S2, s2_dn / 10000, np.zeros_like(valid)) == []


@pytest.fixture
def offset_dn(scene):
    """The fixture's S2 as a product of processing baseline 04.00 stores it: DN + 1000."""
    return scene[1] + 1000


@pytest.mark.parametrize(
    "origin, said, advice",
    [
        (NOT_DECLARED, "the file declares none", "run it with --s2-offset -1000"),
        (GIVEN, "as --s2-offset says", "run it with --s2-offset -1000"),
        (
            "PROCESSING_BASELINE 02.09",
            "as the file declares: PROCESSING_BASELINE 02.09",
            "correct the file's metadata or run it with --s2-offset -1000",
        ),
    ],
)
def test_an_offset_product_read_without_its_offset_is_named(scene, offset_dn, origin, said, advice):
    s1_db, _, valid = scene
    [warning] = unit_warnings(S1, s1_db, S2, offset_dn, valid, s2_offset_origin=origin)
    assert warning.startswith("a_s2.tif: no value is below 1000 DN")
    assert warning.endswith(f"read without an offset ({said}); if it is, {advice}")
    assert unit_warnings(S1, s1_db, S2, offset_dn, valid, s2_offset=-1000, s2_offset_origin=origin) == []


def test_a_window_under_thick_cloud_is_not_taken_for_an_offset_product(scene):
    s1_db, s2_dn, valid = scene
    cloud = 2000 + s2_dn  # every band, the cirrus band too, bright: no value near 1000 DN
    assert unit_warnings(S1, s1_db, S2, cloud, valid) == []


@pytest.mark.parametrize(
    "origin, said, advice",
    [
        (GIVEN, "as --s2-offset says", "run it with --s2-offset 0"),
        (
            "band offsets",
            "as the file declares: band offsets",
            "correct the file's metadata or run it with --s2-offset 0",
        ),
    ],
)
def test_a_product_without_an_offset_read_with_one_is_named(scene, origin, said, advice):
    s1_db, s2_dn, valid = scene
    [warning] = unit_warnings(S1, s1_db, S2, s2_dn, valid, s2_offset=-1000, s2_offset_origin=origin)
    share = np.mean(s2_dn < 900)
    assert warning.startswith(
        f"a_s2.tif: {share:.0%} of values are below 900 DN, reflectance below -0.01 with "
        f"an add-offset of -1000 DN ({said})"
    )
    assert warning.endswith(f"if it is, {advice}")


def test_a_few_slightly_negative_reflectances_are_not_judged_an_offset_mistake(scene, offset_dn):
    s1_db, _, valid = scene
    offset_dn[10, :1, :8] = 850  # 8 of 13312 values (0.06 %) at reflectance -0.015: noise in a dark band
    assert unit_warnings(S1, s1_db, S2, offset_dn, valid, s2_offset=-1000) == []
