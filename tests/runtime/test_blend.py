import numpy as np
import pytest

from ibhfn.errors import IbhfnError
from ibhfn.runtime.blend import WEIGHT_FLOOR, blend_window
from ibhfn.runtime.tiling import tile_starts


def test_hann_window_is_one_inside_and_ramps_to_the_floor_at_the_edges():
    window = blend_window(128, 40)
    assert window.shape == (128, 128) and window.dtype == np.float32
    np.testing.assert_array_equal(window[40:88, 40:88], 1.0)
    assert window[0, 0] == pytest.approx(WEIGHT_FLOOR**2)
    assert window[0, 64] == pytest.approx(WEIGHT_FLOOR)
    assert window.min() >= WEIGHT_FLOOR**2 and not window.flags.writeable
    np.testing.assert_allclose(window, window.T)
    np.testing.assert_allclose(window, window[::-1, ::-1])


def test_hann_ramps_of_neighbours_sum_to_one():
    tile, overlap, length = 64, 16, 64 + 3 * 48
    profile = blend_window(tile, overlap, floor=0.0)[tile // 2]
    total = np.zeros(length)
    for start in tile_starts(length, tile, overlap):
        total[start : start + tile] += profile
    np.testing.assert_allclose(total[overlap:-overlap], 1.0, atol=1e-6)


def test_gaussian_window_peaks_in_the_centre():
    window = blend_window(64, 16, "gaussian")
    assert window[31, 31] == pytest.approx(window.max())
    assert window[0, 0] < 0.02


def test_sides_on_the_scene_edge_keep_full_weight():
    window = blend_window(128, 40, scene_edges=(True, False, False, True))
    np.testing.assert_array_equal(window[:88, 40:], 1.0)
    assert window[127, 64] == pytest.approx(WEIGHT_FLOOR) and window[64, 0] == pytest.approx(WEIGHT_FLOOR)
    np.testing.assert_array_equal(blend_window(64, 16, "gaussian", scene_edges=(True,) * 4), 1.0)


def test_no_overlap_means_uniform_weight():
    np.testing.assert_array_equal(blend_window(32, 0), 1.0)


def test_unknown_window_is_named():
    with pytest.raises(IbhfnError, match="triangle"):
        blend_window(32, 8, "triangle")
