"""Where the tiles of a scene lie: a regular grid with overlap, the last tile shifted inward.

Every tile is full size and inside the scene (MONAI, nnU-Net), so the network never sees padding
except when the scene itself is smaller than one tile; then the scene is padded by reflection.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ibhfn.errors import IbhfnError


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile offsets along one axis: every `tile - overlap` pixels, the last moved to end at `length`."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, tile - overlap))
    starts.append(length - tile)
    return starts


@dataclass(frozen=True)
class Tile:
    """One tile: its top-left pixel in scene coordinates."""

    row: int
    col: int


@dataclass(frozen=True)
class TileGrid:
    """The tiles covering a `height` x `width` scene, row by row."""

    height: int
    width: int
    tile: int
    overlap: int

    def __post_init__(self) -> None:
        if self.height < 1 or self.width < 1:
            raise IbhfnError(f"scene of {self.height} x {self.width} px has no pixels to tile")
        if self.tile < 1:
            raise IbhfnError(f"tile size must be positive, got {self.tile}")
        if not 0 <= self.overlap < self.tile:
            raise IbhfnError(
                f"tile overlap must be in [0, {self.tile}) for {self.tile} px tiles, got {self.overlap}"
            )

    @cached_property
    def rows(self) -> list[int]:
        """Top row of each tile row."""
        return tile_starts(self.height, self.tile, self.overlap)

    @cached_property
    def cols(self) -> list[int]:
        """Left column of each tile column."""
        return tile_starts(self.width, self.tile, self.overlap)

    def __len__(self) -> int:
        return len(self.rows) * len(self.cols)

    def tiles_in_row(self, index: int) -> list[Tile]:
        """The tiles of tile row `index`, left to right."""
        return [Tile(self.rows[index], col) for col in self.cols]

    def final_row(self, index: int) -> int:
        """First scene row still touched by a later tile row, once tile row `index` is done."""
        return self.rows[index + 1] if index + 1 < len(self.rows) else self.height

    def scene_edges(self, tile: Tile) -> tuple[bool, bool, bool, bool]:
        """Whether the tile's top, bottom, left and right sides lie on the scene edge."""
        return (
            tile.row == 0,
            tile.row + self.tile >= self.height,
            tile.col == 0,
            tile.col + self.tile >= self.width,
        )

    def strip_rows(self, index: int) -> int:
        """Scene rows read for tile row `index` (fewer than a tile only when the scene is smaller)."""
        return min(self.tile, self.height - self.rows[index])


def pad_to_tile(array: np.ndarray, tile: int) -> np.ndarray:
    """Pad the last two axes by reflection up to `tile` where they are shorter; a no-op otherwise."""
    pad_h = max(0, tile - array.shape[-2])
    pad_w = max(0, tile - array.shape[-1])
    if not pad_h and not pad_w:
        return array
    widths = [(0, 0)] * (array.ndim - 2) + [(0, pad_h), (0, pad_w)]
    return np.pad(array, widths, mode="reflect")
