"""Cloud-coverage buckets, for stratified calibration and per-bucket metrics."""

from __future__ import annotations

from ibhfn.errors import InputError

COVERAGE_BUCKETS: tuple[str, ...] = ("0-10%", "10-50%", "50-90%", "90-100%")
_UPPER_EDGES = (0.1, 0.5, 0.9)


def coverage_bucket(coverage: float) -> str:
    """The bucket of a cloud-covered fraction in [0, 1]; each bucket includes its lower edge."""
    if not 0.0 <= coverage <= 1.0:
        raise InputError(f"cloud coverage must be a fraction in [0, 1]; got {coverage}")
    for bucket, edge in zip(COVERAGE_BUCKETS, _UPPER_EDGES):
        if coverage < edge:
            return bucket
    return COVERAGE_BUCKETS[-1]
