"""The quantizer's view of the calibration set: an onnxruntime `CalibrationDataReader` over it.

Each chosen patch is read when the quantizer asks for it (never all at once) and cropped at the
top-left to `tile` x `tile`, as the verifier crops, into a batch of one named `sar`, `optical`.
`chunks` hands the set out a few patches at a time: ONNX Runtime's calibrator keeps every
intermediate output of what one `collect_data` call reads, so feeding it chunk by chunk bounds
its memory by the chunk, not by the set. A patch that cannot be read is skipped with one warning
naming its file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from ibhfn.calibration.selection import CalibrationSelection
from ibhfn.data import SEN12MSCR, Sample
from ibhfn.errors import ShapeError

Progress = Callable[[int, int], None]  # called with (patches fed so far, patches in all)


def crop(sample: Sample, tile: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The top-left tile x tile of a sample's SAR, cloudy optical and cloud-free target."""
    height, width = sample.sar.shape[1:]
    if min(height, width) < tile:
        raise ShapeError(
            f"{sample.scene} patch {sample.patch}: {height} x {width} px is smaller than the {tile} px tile"
        )
    return tuple(  # type: ignore[return-value]
        np.ascontiguousarray(array[:, :tile, :tile]) for array in (sample.sar, sample.optical, sample.target)
    )


class SelectionReader(CalibrationDataReader):  # type: ignore[misc]
    """Feeds the chosen patches to the quantizer, one batch of one each; `rewind` starts over."""

    def __init__(
        self, dataset: SEN12MSCR, selection: CalibrationSelection, tile: int, progress: Progress | None = None
    ) -> None:
        self.dataset = dataset
        self.selection = selection
        self.tile = tile
        self.progress = progress
        self.fed = 0  # patches handed out (or skipped) so far
        self.stop = len(selection.patches)  # where the current chunk ends

    def __len__(self) -> int:
        return len(self.selection.patches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        """The next readable patch as {'sar': (1, 2, t, t), 'optical': (1, 13, t, t)}, or None at the chunk's end."""
        while self.fed < self.stop:
            sample = self.dataset.read_or_skip(self.selection.patches[self.fed].index)
            self.fed += 1
            if self.progress is not None:
                self.progress(self.fed, len(self))
            if sample is not None:
                sar, optical, _ = crop(sample, self.tile)
                return {"sar": sar[None], "optical": optical[None]}
        return None

    def rewind(self) -> None:
        """Start again from the first patch, the whole set as one chunk."""
        self.fed, self.stop = 0, len(self)

    def chunks(self, size: int) -> Iterator[SelectionReader]:
        """This reader from the first patch on, `size` patches at a time (it returns None at each chunk's end)."""
        self.fed = 0
        while self.fed < len(self):
            self.stop = min(self.fed + size, len(self))
            yield self
        self.stop = len(self)
