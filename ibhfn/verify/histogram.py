"""A fixed-bin histogram of absolute differences, per band: dataset percentiles in bounded memory.

Bins are log-spaced (100 per decade from 1e-9 to 10) plus one bin for exact zeros and one for
everything above 10 (inf included). A percentile is reported as the upper edge of the bin it falls
in, capped at the largest value seen, so it never understates the exact (inverted-CDF) percentile
and overstates it by at most one bin width (2.3 %).
"""

from __future__ import annotations

import numpy as np

LOWEST_EDGE = 1e-9
HIGHEST_EDGE = 10.0
BINS_PER_DECADE = 100


class AbsDiffHistogram:
    """Counts of |engine - reference| per band, added one sample at a time."""

    def __init__(self, n_bands: int) -> None:
        decades = round(np.log10(HIGHEST_EDGE / LOWEST_EDGE))
        log_edges = np.logspace(np.log10(LOWEST_EDGE), np.log10(HIGHEST_EDGE), decades * BINS_PER_DECADE + 1)
        # Bin i holds values in (edges[i-1], edges[i]]; bin 0 holds exact zeros, the last bin inf.
        self.edges = np.concatenate([[0.0], log_edges, [np.inf]])
        self.band_counts = np.zeros((n_bands, len(self.edges)), dtype=np.int64)
        self.band_max = np.zeros(n_bands)

    def add(self, abs_diff: np.ndarray) -> None:
        """Count a (C, H, W) array of absolute differences (NaN must already be mapped to inf)."""
        n_bands, n_bins = self.band_counts.shape
        flat = abs_diff.reshape(n_bands, -1)
        for band, values in enumerate(flat):  # a band at a time: the temporaries stay in the CPU's cache
            self.band_counts[band] += np.bincount(self.bin_of(values), minlength=n_bins)
        if flat.shape[1]:
            self.band_max = np.maximum(self.band_max, flat.max(axis=1))

    def merge(self, other: AbsDiffHistogram) -> None:
        """Add the counts of a histogram with the same bands."""
        self.band_counts += other.band_counts
        self.band_max = np.maximum(self.band_max, other.band_max)

    def bin_of(self, values: np.ndarray) -> np.ndarray:
        """The bin of each value, as `np.searchsorted(edges, values)`: from its logarithm, then set exact.

        The logarithm lands within one bin of the right one; one comparison with each neighbouring
        edge corrects a value that rounding put across an edge.
        """
        last = len(self.edges) - 1  # the bin of inf
        with np.errstate(divide="ignore"):  # log10(0) = -inf: bin 0
            guess = np.log10(values)
        guess -= np.log10(LOWEST_EDGE)
        guess *= BINS_PER_DECADE
        np.ceil(guess, out=guess)
        np.clip(guess, -1, last - 1, out=guess)
        bins = guess.astype(np.intp)
        bins += 1
        bins -= (bins > 0) & (values <= self.edges[bins - 1])
        bins += (bins < last) & (values > self.edges[bins])
        return bins

    @property
    def counts(self) -> np.ndarray:
        """Counts over all bands."""
        return self.band_counts.sum(axis=0)

    def percentile(self, q: float, band: int | None = None) -> float:
        """The q-th percentile (0-100) over all bands or one: an upper bound within one bin."""
        counts = self.counts if band is None else self.band_counts[band]
        largest = self.band_max.max() if band is None else self.band_max[band]
        total = int(counts.sum())
        if total == 0:
            return float("nan")
        rank = max(1, int(np.ceil(q / 100.0 * total)))  # as numpy's method="inverted_cdf" ranks
        index = int(np.searchsorted(np.cumsum(counts), rank, side="left"))
        return float(min(self.edges[index], largest))
