"""Reading and preprocessing in a background thread, one block of tiles at a time.

GDAL releases the GIL while it reads, so the reader thread overlaps I/O and preprocessing with
inference. A bounded queue keeps at most `depth` prepared blocks in memory. The thread alone uses
the scene's datasets while it runs (GDAL handles are not safe to share between threads).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from ibhfn.preprocessing import Preprocessing
from ibhfn.runtime.nodata import fill_invalid, valid_pixels
from ibhfn.runtime.raster_source import SceneSource
from ibhfn.runtime.tiling import Tile, TileBlock, pad_to_tile

_END = object()
_POLL_SECONDS = 0.1


@dataclass(eq=False)  # blocks are told apart by identity
class PreparedBlock:
    """Network inputs for one block's window, padded to a tile where the scene is smaller, and its valid mask.

    Nodata pixels are filled per tile, when a tile's inputs are taken (`inputs`).
    """

    block: TileBlock
    valid: np.ndarray  # (height, width) bool, True where S2 holds data
    tiles: list[Tile]  # the block's tiles with any valid pixel
    read_seconds: float
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
        top, left = tile.row - self.block.row, tile.col - self.block.col
        window = (slice(top, top + size), slice(left, left + size))
        valid = pad_to_tile(self.valid, size)[window]
        return self.sar[(slice(None), *window)], fill_invalid(self.optical[(slice(None), *window)], valid)

    def drop_inputs(self) -> None:
        """Free the network inputs once every tile has been copied into a batch; the mask stays for writing."""
        self.sar = self.optical = None


def prepare_block(source: SceneSource, block: TileBlock, tile: int, preprocessing: Preprocessing) -> PreparedBlock:
    """Read the block's window of the scene and turn it into network inputs."""
    start = time.perf_counter()
    s1_db, s2_dn = source.read_window(block.row, block.col, block.height, block.width)
    valid = valid_pixels(s2_dn, source.s2_nodata)
    optical = pad_to_tile(preprocessing.optical(s2_dn, in_place=True), tile)
    sar = pad_to_tile(preprocessing.sar(s1_db, in_place=True), tile)
    tiles = [t for t in block.tiles if valid[:, t.col - block.col:t.col - block.col + tile].any()]
    return PreparedBlock(block, valid, tiles, time.perf_counter() - start, sar, optical)


class BlockReader:
    """Iterates over the prepared blocks of a scene, produced by a background thread."""

    def __init__(self, source: SceneSource, blocks: Sequence[TileBlock], tile: int, preprocessing: Preprocessing,
                 *, depth: int) -> None:
        self._source, self._blocks, self._tile, self._preprocessing = source, blocks, tile, preprocessing
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ibhfn-block-reader", daemon=True)

    def __enter__(self) -> "BlockReader":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for block in self._blocks:
                if not self._put(prepare_block(self._source, block, self._tile, self._preprocessing)):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)
            return
        self._put(_END)

    def __iter__(self) -> Iterator[PreparedBlock]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
