from __future__ import annotations

import pytest

from ibhfn.data import COVERAGE_BUCKETS, coverage_bucket
from ibhfn.errors import InputError


@pytest.mark.parametrize(
    ("coverage", "bucket"),
    [
        (0.0, "0-10%"),
        (0.0999, "0-10%"),
        (0.1, "10-50%"),
        (0.49, "10-50%"),
        (0.5, "50-90%"),
        (0.9, "90-100%"),
        (1.0, "90-100%"),
    ],
)
def test_coverage_bucket_edges(coverage, bucket):
    assert coverage_bucket(coverage) == bucket
    assert bucket in COVERAGE_BUCKETS


@pytest.mark.parametrize("coverage", [-0.01, 1.01, float("nan")])
def test_coverage_outside_unit_interval_is_an_error(coverage):
    with pytest.raises(InputError, match="fraction"):
        coverage_bucket(coverage)
