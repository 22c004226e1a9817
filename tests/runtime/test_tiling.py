import numpy as np
import pytest

from ibhfn.errors import IbhfnError
from ibhfn.runtime.tiling import TileGrid, pad_to_tile, tile_starts


@pytest.mark.parametrize("length", [64, 65, 100, 191, 192, 777, 1000])
def test_tiles_cover_the_axis_inside_the_scene_with_at_least_the_overlap(length):
    starts = tile_starts(length, 64, 16)
    assert starts[0] == 0 and starts[-1] + 64 == length
    assert all(0 <= s and s + 64 <= length for s in starts)
    gaps = np.diff(starts)
    assert np.all(gaps > 0) and np.all(gaps <= 64 - 16)


def test_tiles_are_spread_evenly():
    assert tile_starts(300, 128, 32) == [0, 86, 172]
    assert tile_starts(320, 128, 32) == [0, 96, 192]
    assert tile_starts(321, 128, 32) == [0, 64, 128, 193]


def test_scene_smaller_than_a_tile_gets_one_tile():
    grid = TileGrid(40, 100, 64, 16)
    assert grid.rows == [0] and grid.cols == [0, 36]
    assert grid.final_row(0) == 40
    first, second = grid.blocks(max_width=64, align=16)
    assert (first.height, first.finished_rows) == (40, 40)
    assert first.col + first.finished_cols == second.col and second.col + second.finished_cols == 100


def test_final_rows_follow_the_next_tile_row():
    grid = TileGrid(300, 90, 128, 32)
    assert [grid.final_row(i) for i in range(len(grid.rows))] == [86, 172, 300]
    assert len(grid) == 3


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


@pytest.mark.parametrize(
    "height, width, max_width", [(300, 1000, 200), (64, 777, 150), (129, 2048, 5000), (40, 100, 64)]
)
def test_blocks_hold_every_tile_once_and_finish_every_pixel_once(height, width, max_width):
    grid = TileGrid(height, width, 64, 16)
    blocks = grid.blocks(max_width, align=32)
    tiles = [tile for block in blocks for tile in block.tiles]
    assert len(tiles) == len(set(tiles)) == len(grid)
    finished = np.zeros((height, width), int)
    for block in blocks:
        assert block.width <= max(max_width, 64 + 2 * 32)
        assert all(block.col <= t.col and t.col + 64 <= max(block.col + block.width, 64) for t in block.tiles)
        end = block.col + block.finished_cols
        assert end == width or end % 32 == 0
        finished[block.row : block.row + block.finished_rows, block.col : end] += 1
    np.testing.assert_array_equal(finished, 1)


def test_a_wide_row_is_cut_into_blocks_no_wider_than_asked():
    grid = TileGrid(256, 8192, 256, 32)
    blocks = grid.blocks(max_width=2048, align=256)
    assert len(blocks) == 5 and max(block.width for block in blocks) <= 2048
    assert [block.col for block in blocks] == [0, 1792, 3584, 5376, 7168]


def test_panels_keep_every_column_once_and_run_every_tile_that_touches_them():
    grid = TileGrid(300, 1100, 128, 40)
    panels = grid.panels(256, 256)
    assert panels == [(0, 256), (256, 512), (512, 768), (768, 1024), (1024, 1100)]
    assert grid.panels(1100, 256) == [(0, 1100)]
    kept = []
    for panel in panels:
        blocks = [block for block in grid.blocks(300, 16, panel) if block.tile_row == 0]
        kept += [
            column for block in blocks for column in range(block.col, block.col + block.finished_cols)[block.kept_cols]
        ]
        touching = {col for col in grid.cols if col < panel[1] and col + grid.tile > panel[0]}
        assert {tile.col for block in blocks for tile in block.tiles} == touching
    assert kept == list(range(1100))
