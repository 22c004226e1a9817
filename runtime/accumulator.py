"""A rolling strip of weighted sums: memory bounded by one tile row of the scene, never the scene.

Tiles arrive row by row. Once every tile of a tile row has been added, the rows above the next
tile row are final: `flush` normalises and returns them, and the strip moves down. A 10980 px wide
scene with 13 bands and 256 px tiles needs about 150 MB here, whatever its height.
"""

from __future__ import annotations

import numpy as np


class StripAccumulator:
    """Weighted sums and summed weights for `depth` scene rows starting at `origin`."""

    def __init__(self, bands: int, width: int, depth: int) -> None:
        self._sum = np.zeros((bands, depth, width), np.float32)
        self._weight = np.zeros((depth, width), np.float32)
        self.origin = 0

    @property
    def depth(self) -> int:
        """How many scene rows the strip holds."""
        return self._weight.shape[0]

    def add(self, row: int, col: int, values: np.ndarray, weight: np.ndarray) -> None:
        """Add a (bands, h, w) prediction with its (h, w) weight at scene pixel (row, col)."""
        top = row - self.origin
        height, width = weight.shape
        if top < 0 or top + height > self.depth:
            raise ValueError(
                f"rows {row}..{row + height} lie outside the strip {self.origin}..{self.origin + self.depth}"
            )
        self._sum[:, top:top + height, col:col + width] += values * weight
        self._weight[top:top + height, col:col + width] += weight

    def flush(self, until: int) -> np.ndarray:
        """Return the normalised rows from `origin` up to `until` (0 where nothing was added)."""
        count = until - self.origin
        if not 0 <= count <= self.depth:
            raise ValueError(f"cannot flush to row {until} from a strip at row {self.origin}")
        weight = self._weight[:count]
        done = np.divide(
            self._sum[:, :count], weight, out=np.zeros_like(self._sum[:, :count]), where=weight > 0
        )
        self._shift(count)
        self.origin = until
        return done

    def _shift(self, count: int) -> None:
        self._sum[:, :self.depth - count] = self._sum[:, count:]
        self._sum[:, self.depth - count:] = 0.0
        self._weight[:self.depth - count] = self._weight[count:]
        self._weight[self.depth - count:] = 0.0
