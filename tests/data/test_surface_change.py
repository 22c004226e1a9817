"""Pairs whose target shows snow where the input shows clear ground are told apart, from the two images alone."""

from __future__ import annotations

import numpy as np
import pytest

from ibhfn.data import SEN12MSCR
from ibhfn.data.surface_change import (
    CHANGED_SHARE,
    SAME_SURFACE,
    SNOW_IN_TARGET,
    new_snow_share,
    snow_mask,
    surface_group,
)
from ibhfn.preprocessing import get_preprocessing


def ground(size: int = 8) -> np.ndarray:
    """Snow-free vegetation: dark green and SWIR brighter than green."""
    image = np.full((13, size, size), 0.05, np.float32)
    image[2], image[7], image[11] = 0.06, 0.30, 0.15
    return image


def snow(size: int = 8) -> np.ndarray:
    """Snow: bright in the visible and NIR, dark in SWIR."""
    image = np.full((13, size, size), 0.7, np.float32)
    image[11] = 0.04
    return image


def test_snow_is_bright_green_and_dark_swir_and_ground_is_not():
    assert snow_mask(snow()).all()
    assert not snow_mask(ground()).any()


def test_snow_in_the_target_over_clear_ground_is_counted_and_flags_the_pair():
    target = ground()
    target[:, :4] = snow()[:, :4]  # half the patch snowed over
    share = new_snow_share(ground(), target, cloud_mask=None)
    assert share == pytest.approx(0.5)
    assert surface_group(share) == SNOW_IN_TARGET
    assert surface_group(CHANGED_SHARE / 2) == SAME_SURFACE


def test_snow_hidden_under_cloud_in_the_input_is_cloud_removal_not_a_change():
    cloud_mask = np.ones((8, 8), np.float32)
    assert new_snow_share(ground(), snow(), cloud_mask) == 0.0
    assert new_snow_share(snow(), snow(), None) == 0.0  # snow on both dates


def test_of_the_real_pairs_only_the_snowed_over_scene_is_flagged(real_pairs):
    reflectance = get_preprocessing("default").reflectance
    reader = SEN12MSCR(real_pairs, "all", s1="constant")
    flagged = {
        (s.scene, s.patch)
        for s in reader
        if surface_group(new_snow_share(reflectance(s.optical), reflectance(s.target), s.cloud_mask)) == SNOW_IN_TARGET
    }
    assert flagged == {("ROIs1158_spring/26", 100), ("ROIs1158_spring/26", 500), ("ROIs1158_spring/26", 840)}
