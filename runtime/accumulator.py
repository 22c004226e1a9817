"""Weighted sums of the tiles of one block, and what they hand on: memory follows the block, not the scene.

Blocks arrive in raster order (`TileGrid.blocks`). Each block sums its tiles' weighted
predictions over its window. When it closes, its finished part is normalised and returned; its
unfinished columns go on to the next block of the row, and its unfinished rows (the overlap with
the next tile row) go into a full-width band that the next tile row takes up. That band is about
an overlap deep: for a 10980 px wide scene with 13 bands, about 20 MB, two of them alive at once,
whatever the scene's height.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ibhfn.runtime.tiling import Tile, TileBlock


@dataclass
class Sums:
    """Weighted sums (bands, rows, cols) and their summed weights (rows, cols)."""

    values: np.ndarray
    weight: np.ndarray

    @classmethod
    def zeros(cls, bands: int, rows: int, cols: int) -> Sums:
        """Sums of nothing yet."""
        return cls(np.zeros((bands, rows, cols), np.float32), np.zeros((rows, cols), np.float32))

    def add(self, other: Sums, row: int, col: int) -> None:
        """Add `other` with its top-left at (row, col) of these sums."""
        rows, cols = other.weight.shape
        self.values[:, row : row + rows, col : col + cols] += other.values
        self.weight[row : row + rows, col : col + cols] += other.weight

    def part(self, rows: slice, cols: slice) -> Sums:
        """A view of some rows and columns."""
        return Sums(self.values[:, rows, cols], self.weight[rows, cols])

    def normalise(self) -> np.ndarray:
        """Divide the sums by their weights, in place, and return them; 0 stays where nothing was added."""
        with np.errstate(invalid="ignore"):  # 0 / 0 where nothing was added, set back to 0 below
            np.divide(self.values, self.weight, out=self.values)  # faster than with `where=`, bit-identical
        if not self.weight.all():
            self.values[:, self.weight == 0] = 0.0
        return self.values


class BlendAccumulator:
    """Sums the tiles of one block at a time, handing unfinished sums on to later blocks.

    `block_shape` is the largest (height, width) of the blocks to come.
    """

    def __init__(self, bands: int, scene_width: int, block_shape: tuple[int, int]) -> None:
        self._bands, self._scene_width = bands, scene_width
        self._buffer = Sums.zeros(bands, *block_shape)  # the open block's sums, reused by every block
        self._weighted = np.empty((bands, 0, 0), np.float32)  # one tile's weighted prediction, reused by every tile
        self._above = Sums.zeros(bands, 0, scene_width)  # the previous tile row's unfinished rows
        self._below = Sums.zeros(bands, 0, scene_width)  # this tile row's unfinished rows
        self._left: Sums | None = None  # the previous block's unfinished columns
        self._block: TileBlock | None = None
        self._sums: Sums | None = None
        self._tile_row = -1
        self._taken = 0  # scene columns of `_above` already taken up by this tile row

    def open(self, block: TileBlock) -> None:
        """Start summing `block`, which must follow the last closed block in raster order."""
        if block.tile_row != self._tile_row:
            self._above = self._below  # frees the band above, taken up in full, before the next is made
            self._below = Sums.zeros(self._bands, block.height - block.finished_rows, self._scene_width)
            self._tile_row, self._left, self._taken = block.tile_row, None, 0
        sums = self._buffer.part(slice(None, block.height), slice(None, block.width))
        sums.values.fill(0.0)
        sums.weight.fill(0.0)
        if self._left is not None:
            sums.add(self._left, 0, 0)
        end = block.col + block.width
        sums.add(self._above.part(slice(None), slice(self._taken, end)), 0, self._taken - block.col)
        self._taken = end
        self._block, self._sums = block, sums

    def add(self, tile: Tile, values: np.ndarray, weight: np.ndarray) -> None:
        """Add a (bands, h, w) prediction with its (h, w) weight at the tile's scene position."""
        block, sums = self._block, self._sums
        assert block is not None and sums is not None, "add() before open()"
        top, left = tile.row - block.row, tile.col - block.col
        height, width = weight.shape
        if top < 0 or left < 0 or top + height > block.height or left + width > block.width:
            raise ValueError(f"tile at {tile.row}, {tile.col} lies outside the open block's window")
        if self._weighted.shape[1] < height or self._weighted.shape[2] < width:
            self._weighted = np.empty((self._bands, height, width), np.float32)
        weighted = np.multiply(values, weight, out=self._weighted[:, :height, :width])
        sums.add(Sums(weighted, weight), top, left)

    def close(self) -> np.ndarray:
        """Finish the open block: its finished (bands, finished_rows, finished_cols) part, normalised.

        The result lives in a buffer the next block reuses: use it before opening the next.
        """
        block, sums = self._block, self._sums
        assert block is not None and sums is not None, "close() before open()"
        rows, cols = block.finished_rows, block.finished_cols
        self._below.add(sums.part(slice(rows, None), slice(None, cols)), 0, block.col)
        left = sums.part(slice(None), slice(cols, None))
        self._left = Sums(left.values.copy(), left.weight.copy())
        self._block = self._sums = None
        return sums.part(slice(None, rows), slice(None, cols)).normalise()
