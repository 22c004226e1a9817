"""Per-sample and dataset statistics of engine against reference (and both against truth)."""

from __future__ import annotations

import numpy as np
import pytest

from ibhfn.errors import InputError, ShapeError
from ibhfn.metrics import psnr, sam
from ibhfn.verify.parity import (
    COVERAGE_LABELS,
    ParityAccumulator,
    SampleComparison,
    coverage_label,
)


def test_identical_outputs_give_zero_differences(summarise):
    summary = summarise(lambda i, s: s.reference.copy())
    d = summary.overall.difference
    assert (d.max_abs, d.mean_abs, d.rms, d.rel_l2, d.p99, d.p99_9, d.non_finite) == (0, 0, 0, 0, 0, 0, 0)
    assert d.psnr == np.inf and d.ssim == pytest.approx(1.0)
    assert all(b.max_abs == 0 for b in summary.overall.bands)
    q = summary.overall.quality
    assert (q.delta_psnr, q.delta_ssim, q.delta_sam, q.delta_mae) == (0, 0, 0, 0)


def test_sample_statistics_match_direct_computation(samples):
    s = samples[0]
    rng = np.random.default_rng(5)
    engine = (s.reference + rng.normal(0, 1e-3, s.reference.shape)).astype(np.float32)
    result = SampleComparison.from_arrays(engine, s.reference, sample_id="a", truth=s.truth)
    diff = np.abs(engine.astype(np.float64) - s.reference)
    d = result.comparison.difference
    assert d.max_abs == pytest.approx(diff.max())
    assert d.rms == pytest.approx(np.sqrt(np.mean(diff**2)))
    assert d.rel_l2 == pytest.approx(np.linalg.norm(diff) / np.linalg.norm(s.reference.astype(np.float64)))
    assert d.p99_9 == pytest.approx(np.percentile(diff, 99.9, method="inverted_cdf"))
    assert d.psnr == pytest.approx(psnr(engine, s.reference))
    assert result.comparison.sam == pytest.approx(sam(engine, s.reference))
    assert result.comparison.bands[4].max_abs == pytest.approx(diff[4].max())
    q = result.comparison.quality
    assert q.engine.psnr == pytest.approx(psnr(engine, s.truth))
    assert q.delta_psnr == pytest.approx(psnr(s.reference, s.truth) - psnr(engine, s.truth))
    assert np.mean([b.psnr for b in result.comparison.band_deltas]) == pytest.approx(
        np.mean(psnr(s.reference, s.truth, per_band=True) - psnr(engine, s.truth, per_band=True))
    )


def test_perturbing_one_band_shows_in_that_band_only(summarise):
    def engine(i, s):
        out = s.reference.copy()
        out[5] = np.clip(out[5] + 0.05, 0, 1)
        return out

    summary = summarise(engine)
    bands = summary.overall.bands
    assert bands[5].max_abs == pytest.approx(0.05, abs=1e-6)
    assert all(b.max_abs == 0 for i, b in enumerate(bands) if i != 5)
    assert summary.overall.band_deltas[5].psnr > 0.1  # the engine lost quality in band B6 ...
    assert summary.overall.band_deltas[0].psnr == 0.0  # ... and nowhere else


def test_dataset_values_are_means_maxima_and_sums(samples):
    accumulator = ParityAccumulator()
    sample_results = []
    for i, s in enumerate(samples):
        engine = s.reference + np.float32(0.001 * (i + 1))
        if i == 2:
            engine[0, 0, 0] = np.nan
        sample_results.append(accumulator.add(engine, s.reference, sample_id=str(i), truth=s.truth))
    overall = accumulator.summary().overall
    mean_abs = [r.comparison.difference.mean_abs for r in sample_results]
    assert overall.difference.mean_abs == pytest.approx(np.mean(mean_abs))
    assert overall.difference.max_abs == np.inf
    assert overall.difference.non_finite == 1
    assert np.isnan(overall.quality.engine.sam)  # the NaN sample poisons the engine's mean
    assert overall.quality.reference.mae == pytest.approx(
        np.mean([r.comparison.quality.reference.mae for r in sample_results])
    )


def test_buckets_worst_samples_and_worst_arrays(summarise):
    summary = summarise(lambda i, s: s.reference + np.float32(0.01 * (3 - i) ** 2))
    assert [b.label for b in summary.buckets] == ["0-10%", "10-50%", "50-90%"]
    assert [b.n_samples for b in summary.buckets] == [1, 1, 2]
    assert [w.sample_id for w in summary.worst] == ["s0", "s1", "s2"]
    assert summary.worst_sample.sample_id == "s0"
    assert summary.worst_sample.abs_error.max() == pytest.approx(0.09, abs=1e-6)
    assert summary.worst_sample.cloudy_rgb.shape == (3, 16, 16)
    assert [s.sample_id for s in summary.samples] == ["s0", "s1", "s2", "s3"]


def test_large_worst_sample_is_shrunk_keeping_its_peak():
    accumulator = ParityAccumulator()
    reference = np.full((13, 1100, 20), 0.3, dtype=np.float32)
    engine = reference.copy()
    engine[7, 1001, 3] += 0.2
    accumulator.add(engine, reference, sample_id="big")
    worst = accumulator.summary().worst_sample
    assert worst.engine_rgb.shape == (3, 367, 7)
    assert worst.abs_error.max() == pytest.approx(0.2, abs=1e-6)


@pytest.mark.parametrize(
    "coverage, label", [(0.0, "0-10%"), (0.1, "10-50%"), (0.899, "50-90%"), (1.0, "90-100%"), (None, "unknown")]
)
def test_coverage_labels(coverage, label):
    assert coverage_label(coverage) == label
    assert label in COVERAGE_LABELS or label == "unknown"


def test_reference_with_nan_is_an_input_error(samples):
    reference = samples[0].reference.copy()
    reference[3, 2, 2] = np.nan
    with pytest.raises(InputError, match="sample x: the reference output has 1 inf/NaN"):
        SampleComparison.from_arrays(samples[0].reference, reference, sample_id="x")


def test_mismatched_shapes_are_shape_errors(samples):
    s = samples[0]
    with pytest.raises(ShapeError, match="ground truth shape"):
        SampleComparison.from_arrays(s.reference, s.reference, sample_id="x", truth=s.truth[:, :8])
    with pytest.raises(ShapeError, match=r"expected \(13, H, W\)"):
        ParityAccumulator().add(s.reference[:4], s.reference[:4], sample_id="x")


def test_coverage_outside_unit_interval_is_an_input_error(samples):
    s = samples[0]
    with pytest.raises(InputError, match="cloud coverage 1.5"):
        SampleComparison.from_arrays(s.reference, s.reference, sample_id="x", coverage=1.5)


def test_summary_without_samples_is_an_input_error():
    with pytest.raises(InputError, match="no samples"):
        ParityAccumulator().summary()
