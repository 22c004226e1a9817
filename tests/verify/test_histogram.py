"""The bounded histogram behind the dataset-level percentiles."""

from __future__ import annotations

import numpy as np
import pytest

from ibhfn.verify.histogram import AbsDiffHistogram


def test_percentiles_bound_the_exact_ones_within_one_bin():
    rng = np.random.default_rng(1)
    diff = np.abs(rng.normal(0.0, 1e-3, (3, 40, 50)))
    histogram = AbsDiffHistogram(3)
    histogram.add(diff[:, :20])
    histogram.add(diff[:, 20:])  # two samples add up to one
    for q in (50.0, 99.0, 99.9):
        exact = np.percentile(diff, q, method="inverted_cdf")
        assert exact <= histogram.percentile(q) <= exact * 1.024
        exact_band = np.percentile(diff[1], q, method="inverted_cdf")
        assert exact_band <= histogram.percentile(q, band=1) <= exact_band * 1.024


def test_percentiles_never_exceed_the_largest_value():
    histogram = AbsDiffHistogram(1)
    histogram.add(np.full((1, 4, 4), 3e-5))
    assert histogram.percentile(99.9) == pytest.approx(3e-5)


def test_exact_zeros_and_infinities_have_their_own_bins():
    diff = np.zeros((2, 10, 10))
    diff[0, 0, 0] = np.inf
    histogram = AbsDiffHistogram(2)
    histogram.add(diff)
    assert histogram.counts[0] == 199 and histogram.counts[-1] == 1
    assert histogram.percentile(99.0) == 0.0
    assert histogram.percentile(99.9) == np.inf
    assert histogram.percentile(99.9, band=1) == 0.0


def test_empty_histogram_has_no_percentile():
    assert np.isnan(AbsDiffHistogram(13).percentile(99.0))


def test_bins_from_the_logarithm_are_those_of_a_search_even_on_and_next_to_edges():
    histogram = AbsDiffHistogram(1)
    edges = histogram.edges
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            np.abs(rng.standard_normal(100_000)) * 10.0 ** rng.uniform(-12, 2, 100_000),
            edges,
            np.nextafter(edges[:-1], np.inf),
            np.nextafter(edges[1:], 0),
            [0.0, np.inf, 5e-324],
        ]
    )
    np.testing.assert_array_equal(histogram.bin_of(values), np.searchsorted(edges, values, side="left"))


def test_merge_adds_counts_and_keeps_the_largest_value():
    a, b, both = AbsDiffHistogram(2), AbsDiffHistogram(2), AbsDiffHistogram(2)
    first, second = np.full((2, 3, 3), 1e-3), np.full((2, 3, 3), 0.5)
    a.add(first)
    b.add(second)
    both.add(first)
    both.add(second)
    a.merge(b)
    np.testing.assert_array_equal(a.band_counts, both.band_counts)
    np.testing.assert_array_equal(a.band_max, [0.5, 0.5])
