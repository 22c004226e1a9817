"""An engine that costs nothing: it returns each batch's optical bands as the restored bands.

It stands for a GPU fast enough to vanish from the scene's time, so that the pipeline's host
stages (reading, preprocessing, blending, encoding, writing) are what a scene run with it measures.
Its result is a copy, as a GPU's output copied back to the host would be: the pipeline fills the
batch's input arrays again while the result is still being blended.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ibhfn.bundled import BUNDLED_ONNX, bundled_file
from ibhfn.export.onnx_metadata import read_metadata
from ibhfn.runtime.engine import Engine

NULL_BACKEND = "null (returns its input)"


class NullEngine(Engine):
    """The metadata of an ONNX engine (`path`, the bundled one by default), with inference that copies its input."""

    def __init__(self, path: Path | None = None, *, max_batch: int | None = None) -> None:
        path = bundled_file(BUNDLED_ONNX) if path is None else Path(path)
        super().__init__(path, read_metadata(path), backend=NULL_BACKEND, max_batch=max_batch)

    def _infer_impl(self, sar: np.ndarray, optical: np.ndarray) -> np.ndarray:
        return optical.copy()
