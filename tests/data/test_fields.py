from __future__ import annotations

import numpy as np

from ibhfn.data.fields import fractal, value_noise


def test_a_window_equals_the_same_part_of_the_whole_field():
    rows, cols = np.arange(200.0)[:, None], np.arange(150.0)[None, :]
    whole = fractal(7, rows, cols, 64.0, 4)
    window = fractal(7, rows[37:90], cols[:, 101:150], 64.0, 4)
    np.testing.assert_array_equal(window, whole[37:90, 101:150])


def test_fractal_is_about_zero_mean_unit_variance_and_depends_on_seed():
    rows, cols = np.arange(512.0)[:, None], np.arange(512.0)[None, :]
    field = fractal(1, rows, cols, 32.0, 3)
    assert abs(field.mean()) < 0.3 and 0.6 < field.std() < 1.4
    assert not np.array_equal(field, fractal(2, rows, cols, 32.0, 3))


def test_value_noise_is_smooth_and_bounded_at_any_points():
    points = np.array([-1000.5, -3.2, 0.0, 17.9, 4096.25])
    values = value_noise(3, points, points[::-1], 16.0)
    assert values.shape == (5,) and values.min() >= 0 and values.max() <= 1
    step = np.abs(np.diff(value_noise(3, np.zeros(1000), np.arange(1000.0) / 4, 16.0)))
    assert step.max() < 0.05  # a quarter pixel never jumps
