import numpy as np
import pytest

from ibhfn.runtime.accumulator import BlendAccumulator
from ibhfn.runtime.blend import blend_window
from ibhfn.runtime.tiling import Tile, TileGrid


def blend_image_back(image, grid, max_width, align=16):
    """Cut `image` into the grid's tiles and blend them back block by block, as the pipeline does."""
    bands, height, width = image.shape
    out = np.full(image.shape, np.nan, np.float32)
    blocks = grid.blocks(max_width, align)
    accumulator = BlendAccumulator(bands, width, (grid.tile, max(block.width for block in blocks)))
    for block in blocks:
        accumulator.open(block)
        for tile in block.tiles:
            h, w = min(grid.tile, height - tile.row), min(grid.tile, width - tile.col)
            window = blend_window(grid.tile, grid.overlap, scene_edges=grid.scene_edges(tile))
            accumulator.add(tile, image[:, tile.row : tile.row + h, tile.col : tile.col + w], window[:h, :w])
        finished = accumulator.close()
        assert finished.shape == (bands, block.finished_rows, block.finished_cols)
        out[:, block.row : block.row + block.finished_rows, block.col : block.col + block.finished_cols] = finished
    return out


@pytest.mark.parametrize("max_width", [60, 100, 1000])
def test_tiles_cut_from_an_image_blend_back_into_it_exactly(max_width):
    image = np.random.default_rng(0).random((3, 150, 230), dtype=np.float32)
    np.testing.assert_allclose(blend_image_back(image, TileGrid(150, 230, 48, 12), max_width), image, rtol=1e-5)


def test_block_width_does_not_change_the_numbers():
    """Sums hand on between blocks in tile order, so narrow blocks add up exactly like one wide block."""
    image = np.random.default_rng(1).random((2, 200, 300), dtype=np.float32) * np.linspace(1, 3, 300, dtype=np.float32)
    grid = TileGrid(200, 300, 64, 24)
    np.testing.assert_array_equal(blend_image_back(image, grid, 100), blend_image_back(image, grid, 10_000))


def test_a_tile_outside_the_open_block_is_refused():
    grid = TileGrid(64, 300, 64, 16)
    first = grid.blocks(100, align=16)[0]
    accumulator = BlendAccumulator(1, 300, (64, first.width))
    accumulator.open(first)
    with pytest.raises(ValueError, match="outside"):
        accumulator.add(Tile(0, 200), np.ones((1, 64, 64), np.float32), np.ones((64, 64), np.float32))


def test_pixels_no_tile_covers_are_zero():
    grid = TileGrid(64, 64, 64, 16)
    (block,) = grid.blocks(1000, align=16)
    accumulator = BlendAccumulator(1, 64, (64, 64))
    accumulator.open(block)
    accumulator.add(Tile(0, 0), np.full((1, 32, 32), 5.0, np.float32), np.ones((32, 32), np.float32))
    finished = accumulator.close()
    np.testing.assert_array_equal(finished[0, :32, :32], 5.0)
    np.testing.assert_array_equal(finished[0, 32:], 0.0)


def dense_blend(image, grid, kind):
    """The whole scene's weighted sums over its weights, tile by tile in raster order: what blending means."""
    values, weights = np.zeros(image.shape, np.float32), np.zeros(image.shape[1:], np.float32)
    for top in grid.rows:
        for left in grid.cols:
            h, w = min(grid.tile, grid.height - top), min(grid.tile, grid.width - left)
            window = blend_window(grid.tile, grid.overlap, kind, scene_edges=grid.scene_edges(Tile(top, left)))[:h, :w]
            values[:, top : top + h, left : left + w] += image[:, top : top + h, left : left + w] * window
            weights[top : top + h, left : left + w] += window
    return values / weights


@pytest.mark.parametrize("max_width", [60, 100, 1000])
def test_only_overlaps_are_weighted_and_interiors_are_the_tiles_own_values(max_width):
    """Hann weights are 1 where a tile is alone, so copying its interior gives the weighted blend bit for bit."""
    image = np.random.default_rng(2).random((3, 150, 230), dtype=np.float32) * 7
    grid = TileGrid(150, 230, 48, 12)
    blended = blend_image_back(image, grid, max_width)
    np.testing.assert_array_equal(blended, dense_blend(image, grid, "hann"))
    count = np.zeros(image.shape[1:], int)
    for top in grid.rows:
        for left in grid.cols:
            count[top : top + grid.tile, left : left + grid.tile] += 1
    alone = count == 1  # pixels one tile covers
    assert alone.any() and not alone.all()
    np.testing.assert_array_equal(blended[:, alone], image[:, alone])


def test_a_tile_left_out_leaves_its_neighbours_blended_and_its_own_pixels_zero():
    """The pipeline skips tiles with no valid pixel: the others blend as if it did not exist."""
    image = np.random.default_rng(3).random((2, 100, 200), dtype=np.float32)
    grid = TileGrid(100, 200, 48, 12)
    skipped = Tile(grid.rows[1], grid.cols[2])
    blocks = grid.blocks(100, 16)
    accumulator = BlendAccumulator(2, 200, (48, max(block.width for block in blocks)))
    out = np.full(image.shape, np.nan, np.float32)
    for block in blocks:
        accumulator.open(block)
        for tile in block.tiles:
            if tile != skipped:
                window = blend_window(48, 12, scene_edges=grid.scene_edges(tile))
                accumulator.add(tile, image[:, tile.row : tile.row + 48, tile.col : tile.col + 48], window)
        rows = slice(block.row, block.row + block.finished_rows)
        cols = slice(block.col, block.col + block.finished_cols)
        out[:, rows, cols] = accumulator.close()
    own = np.zeros(image.shape[1:], bool)
    own[skipped.row : skipped.row + 48, skipped.col : skipped.col + 48] = True
    for top in grid.rows:
        for left in grid.cols:
            if Tile(top, left) != skipped:
                own[top : top + 48, left : left + 48] = False
    assert own.any()
    np.testing.assert_array_equal(out[:, own], 0.0)
    np.testing.assert_allclose(out[:, ~own], image[:, ~own], rtol=1e-6)
