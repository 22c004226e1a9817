"""Reading and preprocessing in a background thread, one tile row of the scene at a time.

GDAL releases the GIL while it reads, so the reader thread overlaps I/O and preprocessing with
inference. A bounded queue keeps at most `depth` prepared strips in memory. The thread alone uses
the scene's datasets while it runs (GDAL handles are not safe to share between threads).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ibhfn.preprocessing import Preprocessing
from ibhfn.runtime.nodata import fill_invalid, valid_pixels
from ibhfn.runtime.raster_source import SceneSource
from ibhfn.runtime.tiling import Tile, TileGrid, pad_to_tile

_END = object()
_POLL_SECONDS = 0.1


@dataclass
class PreparedStrip:
    """Network inputs for one tile row, padded to a tile where the scene is smaller, and its valid mask."""

    index: int  # tile row
    row: int  # first scene row
    sar: np.ndarray  # (2, tile, max(width, tile)) float32
    optical: np.ndarray  # (13, tile, max(width, tile)) float32
    valid: np.ndarray  # (rows read, width) bool, True where S2 holds data
    tiles: list[Tile]  # the tiles with any valid pixel
    empty_tiles: int  # tiles skipped because all their pixels are nodata
    read_seconds: float


def prepare_strip(source: SceneSource, grid: TileGrid, preprocessing: Preprocessing, index: int) -> PreparedStrip:
    """Read tile row `index` of the scene and turn it into network inputs."""
    start = time.perf_counter()
    row = grid.rows[index]
    s1_db, s2_dn = source.read_rows(row, grid.strip_rows(index))
    valid = valid_pixels(s2_dn, source.s2_nodata)
    optical = pad_to_tile(fill_invalid(preprocessing.optical(s2_dn), valid), grid.tile)
    sar = pad_to_tile(preprocessing.sar(s1_db), grid.tile)
    candidates = grid.tiles_in_row(index)
    tiles = [tile for tile in candidates if valid[:, tile.col:tile.col + grid.tile].any()]
    return PreparedStrip(
        index, row, sar, optical, valid, tiles, len(candidates) - len(tiles), time.perf_counter() - start
    )


class StripReader:
    """Iterates over the prepared strips of a scene, produced by a background thread."""

    def __init__(self, source: SceneSource, grid: TileGrid, preprocessing: Preprocessing, depth: int = 2) -> None:
        self._source, self._grid, self._preprocessing = source, grid, preprocessing
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ibhfn-strip-reader", daemon=True)

    def __enter__(self) -> "StripReader":
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
            for index in range(len(self._grid.rows)):
                if not self._put(prepare_strip(self._source, self._grid, self._preprocessing, index)):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)
            return
        self._put(_END)

    def __iter__(self) -> Iterator[PreparedStrip]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
