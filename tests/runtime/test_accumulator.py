import numpy as np
import pytest

from ibhfn.runtime.accumulator import StripAccumulator
from ibhfn.runtime.blend import blend_window
from ibhfn.runtime.tiling import TileGrid


def test_tiles_cut_from_an_image_blend_back_into_it_exactly():
    rng = np.random.default_rng(0)
    image = rng.random((3, 150, 110), dtype=np.float32)
    grid = TileGrid(150, 110, 48, 12)
    window = blend_window(48, 12)
    strip = StripAccumulator(3, 110, depth=48)
    rows = []
    for index, top in enumerate(grid.rows):
        for tile in grid.tiles_in_row(index):
            strip.add(tile.row, tile.col, image[:, tile.row:tile.row + 48, tile.col:tile.col + 48], window)
        rows.append(strip.flush(grid.final_row(index)))
    np.testing.assert_allclose(np.concatenate(rows, axis=1), image, rtol=1e-5)


def test_memory_is_one_strip_and_rows_outside_it_are_refused():
    strip = StripAccumulator(2, 10, depth=4)
    strip.add(0, 0, np.ones((2, 4, 10), np.float32), np.ones((4, 10), np.float32))
    assert strip.flush(2).shape == (2, 2, 10)
    assert strip.origin == 2
    with pytest.raises(ValueError):
        strip.add(1, 0, np.ones((2, 1, 10), np.float32), np.ones((1, 10), np.float32))
    with pytest.raises(ValueError):
        strip.add(3, 0, np.ones((2, 4, 10), np.float32), np.ones((4, 10), np.float32))


def test_rows_shift_up_and_unweighted_pixels_are_zero():
    strip = StripAccumulator(1, 3, depth=4)
    strip.add(0, 0, np.full((1, 4, 3), 2.0, np.float32), np.ones((4, 3), np.float32))
    strip.flush(2)
    strip.add(4, 0, np.full((1, 2, 2), 5.0, np.float32), np.ones((2, 2), np.float32))
    rows = strip.flush(6)
    np.testing.assert_array_equal(rows[0, :2], 2.0)
    np.testing.assert_array_equal(rows[0, 2:, :2], 5.0)
    np.testing.assert_array_equal(rows[0, 2:, 2], 0.0)
