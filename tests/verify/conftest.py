"""Small generated outputs for the verifier's tests: truth, a reference near it, an engine near that."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from ibhfn.verify.parity import ParityAccumulator, ParitySummary


@dataclass
class Sample:
    """One generated sample: (13, H, W) float32 arrays in [0, 1]."""

    truth: np.ndarray
    reference: np.ndarray
    cloudy: np.ndarray


def make_sample(seed: int, size: int = 16) -> Sample:
    """Truth in [0.05, 0.6], a reference 0.03 away from it, and a cloudy input."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.05, 0.6, (13, size, size)).astype(np.float32)
    reference = np.clip(truth + rng.normal(0.0, 0.03, truth.shape), 0.0, 1.0).astype(np.float32)
    cloudy = np.clip(truth + 0.5 * rng.random((1, size, size)), 0.0, 1.0).astype(np.float32)
    return Sample(truth, reference, cloudy)


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    """Four generated samples (shared: copy before changing one)."""
    return [make_sample(seed) for seed in range(4)]


@pytest.fixture(scope="module")
def summarise(samples):
    """Summarise the samples with engine output `engine_of(index, sample)`; coverage 0, 0.25, 0.5, 0.75."""

    def run(engine_of, *, with_truth: bool = True) -> ParitySummary:
        accumulator = ParityAccumulator(worst_count=3)
        for i, s in enumerate(samples):
            accumulator.add(
                engine_of(i, s), s.reference, sample_id=f"s{i}", truth=s.truth if with_truth else None,
                cloudy=s.cloudy, coverage=0.25 * i,
            )
        return accumulator.summary()

    return run
