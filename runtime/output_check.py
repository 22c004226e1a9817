"""Whether what an engine returns is reflectance at all: a broken engine fails its scene, never writes it.

A restored pixel is judged after blending, on the valid pixels only: it is bad when any band is
non-finite or outside reflectance REFLECTANCE_RANGE (a working network stays near [0, 1]). More
bad pixels than BROKEN_SHARE of the valid ones fail the scene, as soon as they exceed that share
of the whole scene; fewer are written as nodata where non-finite, and said in a warning.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ibhfn.errors import ModelError
from ibhfn.preprocessing import S2_DN_MAX, Preprocessing
from ibhfn.runtime.engine import BROKEN_ENGINE

REFLECTANCE_RANGE = (-0.5, 2.0)
BROKEN_SHARE = 0.001


class OutputCheck:
    """Counts the bad pixels of one scene's restored blocks, and raises once they say the engine is broken."""

    def __init__(self, output: Path, engine: Path, preprocessing: Preprocessing, pixels: int) -> None:
        self.output, self.engine = output, engine
        per_reflectance = S2_DN_MAX / preprocessing.s2_divisor  # network units per unit of reflectance
        self.low, self.high = (np.float32(bound * per_reflectance) for bound in REFLECTANCE_RANGE)
        self.pixels = pixels  # the scene's, a bound on its valid pixels before they are all seen
        self.valid = self.non_finite = self.out_of_range = 0

    @property
    def bad(self) -> int:
        """Valid pixels seen so far with a band non-finite or out of range."""
        return self.non_finite + self.out_of_range

    def add(self, restored: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Judge a block's (bands, h, w) network-scale values; return the pixels to write: `valid` but non-finite ones.

        Non-finite values are set to 0 in place, so that encoding them cannot fail; they are nodata.
        """
        lowest, highest = restored.min(axis=0), restored.max(axis=0)  # NaN wherever a band is NaN
        self.valid += np.count_nonzero(valid)
        bad = valid & ~((lowest >= self.low) & (highest <= self.high))
        if not bad.any():
            return valid
        finite = np.isfinite(lowest) & np.isfinite(highest)
        self.non_finite += np.count_nonzero(bad & ~finite)
        self.out_of_range += np.count_nonzero(bad & finite)
        if self.bad > BROKEN_SHARE * self.pixels:
            raise self._error("the first ")
        np.nan_to_num(restored, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        written: np.ndarray = valid & finite
        return written

    def finish(self) -> None:
        """Raise the scene's error when its bad pixels exceed BROKEN_SHARE of its valid ones."""
        if self.bad > BROKEN_SHARE * self.valid:
            raise self._error("")

    def _counts(self, first: str) -> str:
        low, high = REFLECTANCE_RANGE
        return (
            f"non-finite or out-of-range values at {self.bad} of {first}{self.valid} valid pixels "
            f"({self.non_finite} non-finite, {self.out_of_range} outside reflectance {low:g}..{high:g})"
        )

    def _error(self, first: str) -> ModelError:
        return ModelError(f"{self.output}: not written: {self.engine} returned {self._counts(first)}; {BROKEN_ENGINE}")

    def warning(self) -> str | None:
        """What to say of a scene with bad pixels too few to fail it; None when it has none."""
        if not self.bad:
            return None
        return (
            f"{self.output}: {self.engine} returned {self._counts('')}; the non-finite ones are written as "
            "nodata; check the engine with `ibhfn-verify`"
        )
