"""The benchmark's null engine and I/O-only pass (bench/null_engine.py, bench/host_pipeline.py) on a small scene."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def bench_modules():
    sys.path.insert(0, str(BENCH))  # as `python bench/run.py` finds its sibling modules
    try:
        import null_engine
        yield null_engine, None
    finally:
        sys.path.remove(str(BENCH))


def test_null_engine_returns_a_copy_of_its_optical_input(bench_modules):
    null_engine, _ = bench_modules
    rng = np.random.default_rng(0)
    sar, optical = rng.random((2, 2, 32, 32), dtype=np.float32), rng.random((2, 13, 32, 32), dtype=np.float32)
    with null_engine.NullEngine() as engine:
        restored = engine.infer(sar, optical)
    assert np.array_equal(restored, optical) and not np.shares_memory(restored, optical)
