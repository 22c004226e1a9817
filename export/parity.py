"""Parity of an exported graph against its reference, on generated inputs of several shapes.

Inputs are uniform in [0, 1] (the network's input scale) from a fixed seed, so a report can be
reproduced. The shapes vary batch, height and width, all multiples of the size multiple.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ibhfn.bands import S1_BANDS, S2_BANDS

Shape = tuple[int, int, int]  # batch, height, width
Runner = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ParityCase:
    """How far one engine's output lies from the reference's on one input shape."""

    batch: int
    height: int
    width: int
    max_abs: float
    mean_abs: float
    nonfinite: int  # inf or NaN values in the engine's output

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def parity_shapes(size_multiple: int, static_shape: Shape | None = None) -> list[Shape]:
    """The shapes parity is measured on: the static shape alone, else three batch x size mixes."""
    if static_shape is not None:
        return [static_shape]
    m = max(size_multiple, 4)
    return [(1, 8 * m, 8 * m), (2, 4 * m, 12 * m), (3, 12 * m, 4 * m)]


def generated_inputs(shape: Shape, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Float32 `sar` and `optical` in [0, 1] of the given (batch, height, width)."""
    batch, height, width = shape
    rng = np.random.default_rng(seed)
    sar = rng.random((batch, len(S1_BANDS), height, width), dtype=np.float32)
    optical = rng.random((batch, len(S2_BANDS), height, width), dtype=np.float32)
    return sar, optical


def compare(reference: np.ndarray, output: np.ndarray) -> tuple[float, float, int]:
    """(max abs difference, mean abs difference, count of inf/NaN in `output`)."""
    diff = np.abs(output.astype(np.float64) - reference.astype(np.float64))
    finite = np.isfinite(diff)
    nonfinite = int(np.size(output) - np.count_nonzero(np.isfinite(output)))
    max_abs = float(diff.max()) if finite.all() else float("inf")
    mean_abs = float(diff[finite].mean()) if finite.any() else float("inf")
    return max_abs, mean_abs, nonfinite


def measure_parity(reference: Runner, engine: Runner, shapes: list[Shape], seed: int = 0) -> list[ParityCase]:
    """Run both on generated inputs of every shape and compare their outputs."""
    cases = []
    for shape in shapes:
        sar, optical = generated_inputs(shape, seed)
        max_abs, mean_abs, nonfinite = compare(reference(sar, optical), engine(sar, optical))
        cases.append(ParityCase(*shape, max_abs=max_abs, mean_abs=mean_abs, nonfinite=nonfinite))
    return cases
