"""Where the tiles of a scene lie, and how a tile row is cut into blocks of bounded width.

Tiles are spread evenly along each axis, every one full size and inside the scene (nnU-Net's
sliding window): neighbours share at least the asked overlap, a little more where the scene
length is not a whole number of strides. Only a scene smaller than one tile is padded, by
reflection.

A tile row is restored in blocks: runs of neighbouring tiles whose scene window is at most a
given width, so memory follows that width. A block's window starts at the first column the earlier
blocks of its row left unfinished; it finishes its columns up to the next block's first tile,
rounded down to the output's block grid, so finished pieces are whole output blocks wide.

What a tile row hands on to the next spans the width restored top to bottom, so a very wide scene
is cut into column panels (`panels`), each restored top to bottom on its own: a panel runs every
tile that touches its columns, those on its edges again in the next panel, and keeps only its own
columns, so memory follows the panel's width, never the scene's, and the output does not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ibhfn.errors import IbhfnError


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile offsets along one axis: as few tiles as keep `overlap`, spread evenly from 0 to `length - tile`."""
    if length <= tile:
        return [0]
    gaps = -(-(length - tile) // (tile - overlap))
    return [index * (length - tile) // gaps for index in range(gaps + 1)]


@dataclass(frozen=True)
class Tile:
    """One tile: its top-left pixel in scene coordinates."""

    row: int
    col: int


@dataclass(frozen=True)
class TileBlock:
    """Neighbouring tiles of one tile row, restored together, and the scene window that holds them."""

    tile_row: int  # which tile row, counted from 0
    row: int  # the window's first scene row: the tile row's top
    col: int  # the window's first scene column: the first one earlier blocks of the row left unfinished
    height: int  # window rows
    width: int  # window columns
    tiles: tuple[Tile, ...]
    finished_rows: int  # the window's leading rows that no later tile row touches
    finished_cols: int  # the window's leading columns that no later block of the row touches
    panel: tuple[int, int] = (0, 0)  # the scene columns [start, end) of the panel it belongs to, the ones it keeps

    @property
    def kept_cols(self) -> slice:
        """The finished columns of the window that belong to its panel (the first block's start left of it)."""
        return slice(min(max(0, self.panel[0] - self.col), self.finished_cols), self.finished_cols)


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
            raise IbhfnError(f"tile overlap must be in [0, {self.tile}) for {self.tile} px tiles, got {self.overlap}")

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

    def panels(self, panel_width: int, align: int) -> list[tuple[int, int]]:
        """Scene columns [start, end) of panels at most `panel_width` wide (at least `align`), cut on multiples of
        it."""
        if self.width <= panel_width:
            return [(0, self.width)]
        step = max(align, panel_width // align * align)
        return [(start, min(start + step, self.width)) for start in range(0, self.width, step)]

    def blocks(self, max_width: int, align: int, panel: tuple[int, int] | None = None) -> list[TileBlock]:
        """The tiles touching `panel`'s columns (all: None) in blocks, in raster order.

        Finished columns end on multiples of `align` or the panel's end. `max_width` below one tile
        plus two `align` steps is raised to that, so every block finishes columns.
        """
        max_width = max(max_width, self.tile + 2 * align)
        panel = panel or (0, self.width)
        spans = self._column_spans(max_width, align, panel)
        blocks = []
        for index, top in enumerate(self.rows):
            height = min(self.tile, self.height - top)
            for first, last, start, finished in spans:
                end = min(self.cols[last - 1] + self.tile, self.width)
                blocks.append(
                    TileBlock(
                        index,
                        top,
                        start,
                        height,
                        end - start,
                        tuple(Tile(top, col) for col in self.cols[first:last]),
                        self.final_row(index) - top,
                        finished - start,
                        panel,
                    )
                )
        return blocks

    def _column_spans(self, max_width: int, align: int, panel: tuple[int, int]) -> list[tuple[int, int, int, int]]:
        """Per block of a row: its first and past-last tile column, window start and first unfinished column."""
        spans = []
        first = next(index for index, col in enumerate(self.cols) if col + self.tile > panel[0])
        stop = sum(col < panel[1] for col in self.cols)  # past the panel's last tile
        start = self.cols[first]
        while first < stop:
            last = first + 1
            while last < stop and self.cols[last] + self.tile - start <= max_width:
                last += 1
            finished = panel[1] if last == stop else max(start, self.cols[last] // align * align)
            spans.append((first, last, start, finished))
            first, start = last, finished
        return spans


def pad_to_tile(array: np.ndarray, tile: int) -> np.ndarray:
    """Pad the last two axes by reflection up to `tile` where they are shorter; a no-op otherwise."""
    pad_h = max(0, tile - array.shape[-2])
    pad_w = max(0, tile - array.shape[-1])
    if not pad_h and not pad_w:
        return array
    widths = [(0, 0)] * (array.ndim - 2) + [(0, pad_h), (0, pad_w)]
    return np.pad(array, widths, mode="reflect")
