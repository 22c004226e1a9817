"""The tiles of prepared blocks cut into engine batches in a background thread of their own.

Copying each tile's inputs into a batch (and filling its nodata pixels) takes a few milliseconds a
tile. Done in the thread that calls the engine, it would hold up every call; here it is done ahead,
so that the engine's thread only runs the engine. Batches may span blocks. The input arrays of a
batch whose result is back are filled again for a later batch (`TileBatcher.give_back`): fresh
arrays of this size cost page faults on every batch.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from ibhfn.runtime.block_reader import PreparedBlock
from ibhfn.runtime.producer_thread import ProducerThread
from ibhfn.runtime.tiling import Tile


class BatchInputs:
    """The network inputs of one batch, filled one tile at a time so that a block's inputs can go once copied."""

    def __init__(self, batch: int, tile: int, sar_bands: int, optical_bands: int) -> None:
        self._sar = np.empty((batch, sar_bands, tile, tile), np.float32)
        self._optical = np.empty((batch, optical_bands, tile, tile), np.float32)
        self.count = 0

    def emptied(self) -> "BatchInputs":
        """This batch, with nothing in it, to be filled again."""
        self.count = 0
        return self

    def add(self, sar: np.ndarray, optical: np.ndarray) -> int:
        """Copy one tile's inputs in; return how many tiles the batch holds."""
        self._sar[self.count], self._optical[self.count] = sar, optical
        self.count += 1
        return self.count

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The filled part of the batch."""
        return self._sar[:self.count], self._optical[:self.count]

    def padded(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole batch, zeros after the filled part: every call of the scene has one shape."""
        self._sar[self.count:] = 0
        self._optical[self.count:] = 0
        return self._sar, self._optical


@dataclass
class TileBatch:
    """One engine call's tiles, in order, each with its block, and the arrays to call the engine with.

    A block without tiles to run (all nodata) is a member once, with None for its tile. The last
    batch of a scene may hold only such blocks: then it has no inputs and is not run.
    """

    members: list[tuple[PreparedBlock, Tile | None]]
    inputs: BatchInputs | None
    arrays: tuple[np.ndarray, np.ndarray] | None
    seconds: float  # spent filling the inputs


class TileBatcher:
    """Iterates over the `TileBatch`es of `blocks`, cut in a background thread; a context manager.

    `pad` gives every batch the full size (`Engine.fixed_batch`).
    """

    def __init__(self, blocks: Iterable[PreparedBlock], *, tile: int, batch: int, bands: tuple[int, int],
                 pad: bool, depth: int) -> None:
        self._tile, self._batch, self._bands, self._pad = tile, batch, bands, pad
        self._spare: deque[BatchInputs] = deque()  # given back by the engine's thread, taken by the batcher's
        self._thread = ProducerThread(_unchanged, self._cut(blocks), depth=depth, name="ibhfn-batcher")

    def __enter__(self) -> "TileBatcher":
        self._thread.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._thread.__exit__(*exc_info)

    def __iter__(self) -> Iterator[TileBatch]:
        return iter(self._thread)

    def give_back(self, batch: TileBatch) -> None:
        """Let the batch's input arrays be filled again: the engine has returned its result."""
        if batch.inputs is not None:
            self._spare.append(batch.inputs)

    def _empty_inputs(self) -> BatchInputs:
        try:
            return self._spare.popleft().emptied()
        except IndexError:
            return BatchInputs(self._batch, self._tile, *self._bands)

    def _cut(self, blocks: Iterable[PreparedBlock]) -> Iterator[TileBatch]:
        members: list[tuple[PreparedBlock, Tile | None]] = []
        inputs, seconds = self._empty_inputs(), 0.0
        for prepared in blocks:
            for tile in prepared.tiles or [None]:
                members.append((prepared, tile))
                if tile is None:
                    continue
                start = time.perf_counter()
                count = inputs.add(*prepared.inputs(tile, self._tile))
                seconds += time.perf_counter() - start
                if count == self._batch:
                    yield TileBatch(members, inputs, inputs.arrays(), seconds)
                    members, inputs, seconds = [], self._empty_inputs(), 0.0
            prepared.drop_inputs()
        if inputs.count:
            yield TileBatch(members, inputs, inputs.padded() if self._pad else inputs.arrays(), seconds)
        elif members:
            yield TileBatch(members, None, None, seconds)


def _unchanged(batch: TileBatch) -> TileBatch:
    return batch
