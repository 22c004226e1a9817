import numpy as np
import pytest

from ibhfn.errors import IbhfnError
from ibhfn.runtime.tiling import Tile, TileGrid, pad_to_tile, tile_starts


@pytest.mark.parametrize("length", [64, 65, 100, 191, 192, 777, 1000])
def test_tiles_cover_the_axis_inside_the_scene_with_at_least_the_overlap(length):
    starts = tile_starts(length, 64, 16)
    assert starts[0] == 0 and starts[-1] + 64 == length
    assert all(0 <= s and s + 64 <= length for s in starts)
    gaps = np.diff(starts)
    assert np.all(gaps > 0) and np.all(gaps <= 64 - 16)


def test_regular_stride_and_last_tile_shifted_inward():
    assert tile_starts(300, 128, 32) == [0, 96, 172]
    assert tile_starts(320, 128, 32) == [0, 96, 192]


def test_scene_smaller_than_a_tile_gets_one_tile():
    grid = TileGrid(40, 100, 64, 16)
    assert grid.rows == [0] and grid.cols == [0, 36]
    assert grid.strip_rows(0) == 40 and grid.final_row(0) == 40


def test_final_rows_follow_the_next_tile_row():
    grid = TileGrid(300, 90, 128, 32)
    assert [grid.final_row(i) for i in range(len(grid.rows))] == [96, 172, 300]
    assert len(grid) == 3
    assert grid.tiles_in_row(1) == [Tile(96, 0)]


@pytest.mark.parametrize("overlap", [-1, 64, 100])
def test_overlap_must_be_smaller_than_the_tile(overlap):
    with pytest.raises(IbhfnError, match="overlap"):
        TileGrid(100, 100, 64, overlap)


def test_reflect_padding_only_where_smaller():
    array = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    padded = pad_to_tile(array, 8)
    assert padded.shape == (2, 8, 8)
    np.testing.assert_array_equal(padded[:, :3, :5], array)
    np.testing.assert_array_equal(padded[:, 3, :5], array[:, 1])  # reflection, not edge repetition
    assert pad_to_tile(array, 3) is array
