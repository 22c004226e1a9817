"""Reading and preprocessing in two background threads, one block of tiles at a time.

One thread reads each block's window of the scene, the next turns it into network inputs, so
that on a many-core host (a GPU's) neither waits for the other and both overlap inference. GDAL
releases the GIL while it reads and numpy while it computes. Bounded queues keep at most `depth`
blocks waiting between the stages. The reading thread alone uses the scene's datasets while it
runs (GDAL handles are not safe to share between threads).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial

import numpy as np

from ibhfn.preprocessing import Preprocessing
from ibhfn.runtime.nodata import fill_invalid, valid_pixels
from ibhfn.runtime.producer_thread import ProducerThread
from ibhfn.runtime.raster_source import SceneSource
from ibhfn.runtime.tiling import Tile, TileBlock, pad_to_tile


@dataclass(eq=False)  # blocks are told apart by identity
class PreparedBlock:
    """Network inputs for one block's window, padded to a tile where the scene is smaller, and its valid mask.

    Nodata pixels are filled per tile, when a tile's inputs are taken (`inputs`).
    """

    block: TileBlock
    valid: np.ndarray  # (height, width) bool, True where S2 holds data
    tiles: list[Tile]  # the block's tiles with any valid pixel
    read_seconds: float
    prepare_seconds: float
    sar: np.ndarray | None  # (2, max(height, tile), max(width, tile)) float32; None once dropped
    optical: np.ndarray | None  # (13, max(height, tile), max(width, tile)) float32; None once dropped

    @property
    def empty_tiles(self) -> int:
        """Tiles skipped because all their pixels are nodata."""
        return len(self.block.tiles) - len(self.tiles)

    def inputs(self, tile: Tile, size: int) -> tuple[np.ndarray, np.ndarray]:
        """The (2, size, size) and (13, size, size) network inputs of one of the block's tiles.

        Nodata pixels get the band means of the tile's own valid pixels, so the block width never
        changes what the network sees.
        """
        assert self.sar is not None and self.optical is not None, "inputs() after drop_inputs()"
        top, left = tile.row - self.block.row, tile.col - self.block.col
        window = (slice(top, top + size), slice(left, left + size))
        valid = pad_to_tile(self.valid, size)[window]
        bands_window = (slice(None), *window)
        return self.sar[bands_window], fill_invalid(self.optical[bands_window], valid)

    def drop_inputs(self) -> None:
        """Free the network inputs once every tile has been copied into a batch; the mask stays for writing."""
        self.sar = self.optical = None


@dataclass
class ReadBlock:
    """A block's window of the scene as read: S1 in dB and S2 DN, float32."""

    block: TileBlock
    s1_db: np.ndarray
    s2_dn: np.ndarray
    seconds: float


def read_block(source: SceneSource, block: TileBlock) -> ReadBlock:
    """Read the block's window of the scene."""
    start = time.perf_counter()
    s1_db, s2_dn = source.read_window(block.row, block.col, block.height, block.width)
    return ReadBlock(block, s1_db, s2_dn, time.perf_counter() - start)


def prepare_block(
    read: ReadBlock,
    tile: int,
    preprocessing: Preprocessing,
    s2_nodata: float | None,
    s2_offset: int = 0,
    s2_integer: bool = False,
) -> PreparedBlock:
    """Turn a block as read into network inputs, in place, with its valid mask and the tiles worth running.

    `s2_offset` is the S2 product's radiometric add-offset in DN (`Preprocessing.optical`); `s2_integer`:
    S2's file holds integers (no NaN or infinity to look for).
    """
    start = time.perf_counter()
    block = read.block
    valid = valid_pixels(read.s2_dn, s2_nodata, finite=s2_integer)
    # a pixel with a NaN band is not valid: PreparedBlock.inputs replaces it, so NaN needs no clipping pass of its own
    optical = preprocessing.optical(read.s2_dn, offset=s2_offset, in_place=True, nan_masked=True)
    optical = pad_to_tile(optical, tile)
    sar = pad_to_tile(preprocessing.sar(read.s1_db, in_place=True), tile)
    tiles = [t for t in block.tiles if valid[:, t.col - block.col : t.col - block.col + tile].any()]
    return PreparedBlock(block, valid, tiles, read.seconds, time.perf_counter() - start, sar, optical)


class BlockReader:
    """Iterates over the prepared blocks of a scene, read and prepared by two background threads; a context manager."""

    def __init__(
        self,
        source: SceneSource,
        blocks: Sequence[TileBlock],
        tile: int,
        preprocessing: Preprocessing,
        *,
        depth: int,
        s2_offset: int = 0,
    ) -> None:
        self._reading = ProducerThread(partial(read_block, source), blocks, depth=depth, name="ibhfn-block-reader")
        self._preparing = ProducerThread(
            partial(
                prepare_block,
                tile=tile,
                preprocessing=preprocessing,
                s2_nodata=source.s2_nodata,
                s2_offset=s2_offset,
                s2_integer=np.dtype(source.profile["dtype"]).kind in "iu",
            ),
            self._reading,
            depth=depth,
            name="ibhfn-preprocessor",
        )

    def __enter__(self) -> BlockReader:
        with ExitStack() as stages:  # if the second thread cannot start, the first is stopped here
            stages.enter_context(self._reading)
            stages.enter_context(self._preparing)  # stopped first, while the reading thread still feeds it
            self._stages = stages.pop_all()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stages.close()

    def __iter__(self) -> Iterator[PreparedBlock]:
        return iter(self._preparing)
