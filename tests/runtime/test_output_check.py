"""The judgement of restored values: a share of bad pixels fails the scene, fewer are nodata and a warning."""

from pathlib import Path

import numpy as np
import pytest

from ibhfn.errors import ModelError
from ibhfn.preprocessing import PREPROCESSING
from ibhfn.runtime.output_check import BROKEN_SHARE, OutputCheck

OUTPUT, ENGINE = Path("out/a.tif"), Path("model.onnx")


def block(values_at=(), size=100, bands=13, value=0.3):
    """(bands, size, size) network-scale values of `value`, band 0 of its first pixels (row by row) as given."""
    restored = np.full((bands, size, size), value, np.float32)
    for index, bad in enumerate(values_at):
        restored[0, index // size, index % size] = bad
    return restored


def test_values_within_reflectance_pass_and_leave_every_valid_pixel_to_write():
    check = OutputCheck(OUTPUT, ENGINE, PREPROCESSING["default"], pixels=10_000)
    valid = np.ones((100, 100), bool)
    assert check.add(block(values_at=[-0.5, 2.0, 0.0, 1.5]), valid) is valid
    check.finish()
    assert check.bad == 0 and check.valid == 10_000 and check.warning() is None


def test_bad_values_outside_the_valid_pixels_are_not_judged():
    check = OutputCheck(OUTPUT, ENGINE, PREPROCESSING["default"], pixels=10_000)
    valid = np.ones((100, 100), bool)
    valid[0, :50] = False
    check.add(block(values_at=[np.nan] * 50), valid)
    check.finish()
    assert check.bad == 0 and check.valid == 9_950


def test_a_few_bad_pixels_are_a_warning_and_the_non_finite_ones_nodata():
    check = OutputCheck(OUTPUT, ENGINE, PREPROCESSING["default"], pixels=10_000)
    restored = block(values_at=[np.nan, np.inf, 2.5, -0.6])  # 4 of 10 000: below the share
    written = check.add(restored, np.ones((100, 100), bool))
    check.finish()
    assert written[0, :4].tolist() == [False, False, True, True] and written[0, 4:].all() and written[1:].all()
    assert np.isfinite(restored).all()  # what is encoded can be cast
    assert check.warning() == (
        "out/a.tif: model.onnx returned non-finite or out-of-range values at 4 of 10000 valid "
        "pixels (2 non-finite, 2 outside reflectance -0.5..2); the non-finite ones are "
        "written as nodata; check the engine with `ibhfn-verify`"
    )


def test_more_bad_pixels_than_the_share_of_the_valid_ones_fail_the_scene_at_its_end():
    bad = int(BROKEN_SHARE * 5_000) + 1
    check = OutputCheck(OUTPUT, ENGINE, PREPROCESSING["default"], pixels=20_000)  # half of it nodata
    valid = np.ones((100, 100), bool)
    valid[50:] = False
    check.add(block(values_at=[np.nan] * bad), valid)  # fewer than the share of the whole scene: goes on
    with pytest.raises(
        ModelError,
        match=rf"^out/a.tif: not written: model.onnx returned .* at {bad} of 5000 valid "
        r"pixels \(6 non-finite, 0 outside .*; the engine is broken: export it again",
    ):
        check.finish()


def test_bad_pixels_beyond_the_share_of_the_whole_scene_fail_it_at_once():
    check = OutputCheck(OUTPUT, ENGINE, PREPROCESSING["default"], pixels=1_000_000)
    with pytest.raises(ModelError, match=r"at 10000 of the first 10000 valid pixels \(0 non-finite, 10000 outside"):
        check.add(block(value=1e6), np.ones((100, 100), bool))


def test_the_range_is_reflectance_whatever_the_network_scale():
    """'resnet' feeds S2 / 2000: network values up to 10 are reflectance up to 2."""
    check = OutputCheck(OUTPUT, ENGINE, PREPROCESSING["resnet"], pixels=10_000)
    check.add(block(values_at=[9.9, -2.4], value=4.5), np.ones((100, 100), bool))
    assert check.bad == 0
    check.add(block(values_at=[10.1, -2.6], value=4.5), np.ones((100, 100), bool))
    assert check.out_of_range == 2
