"""An engine that costs nothing: it returns each batch's optical bands as the restored bands.

It stands for a GPU fast enough to vanish from the scene's time, so that the pipeline's host
stages (reading, preprocessing, blending, encoding, writing) are what a scene run with it measures.
Its result is a copy, as a GPU's output copied back to the host would be: the pipeline fills the
batch's input arrays again while the result is still being blended. The copy goes into a host
buffer of its own that nothing refers to any more, as a GPU backend's output buffers are reused,
so that the engine costs the copy and not fresh memory (page faults) for every batch.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ibhfn.bundled import BUNDLED_ONNX, bundled_file
from ibhfn.export.onnx_metadata import read_metadata
from ibhfn.runtime.engine import Engine

NULL_BACKEND = "null (returns its input)"
RESULT_BUFFERS = 8  # at most this many kept for reuse: a few batches are blended while the next one runs


class NullEngine(Engine):
    """The metadata of an ONNX engine (`path`, the bundled one by default), with inference that copies its input."""

    def __init__(self, path: Path | None = None, *, max_batch: int | None = None) -> None:
        path = bundled_file(BUNDLED_ONNX) if path is None else Path(path)
        super().__init__(path, read_metadata(path), backend=NULL_BACKEND, max_batch=max_batch)
        self._buffers: list[np.ndarray] = []  # results handed out before, reused once nothing refers to them

    def _infer_impl(self, sar: np.ndarray, optical: np.ndarray) -> np.ndarray:
        result = self._free_buffer(optical.shape)
        np.copyto(result, optical)
        return result

    def _free_buffer(self, shape: tuple[int, ...]) -> np.ndarray:
        """A buffer of `shape` that no array (a view of a tile included) refers to, else a new one."""
        for buffer in self._buffers:
            # references: the list's, the loop's and getrefcount's own; any more is a result still in use
            if buffer.shape == shape and sys.getrefcount(buffer) == 3:
                return buffer
        buffer = np.empty(shape, np.float32)
        if len(self._buffers) < RESULT_BUFFERS:
            self._buffers.append(buffer)
        return buffer
