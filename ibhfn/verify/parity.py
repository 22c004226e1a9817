"""How far an engine's output is from the reference's: per sample, then over a whole dataset.

Every array is (C, H, W) reflectance in [0, 1] (C = 13 bands, `ibhfn.bands.S2_BANDS` order).
Differences are |engine - reference|; PSNR, SSIM and SAM score the engine output against the
reference output as if the reference were ground truth. Where ground truth exists, engine and
reference are each scored against it, and the deltas say what the engine loses: positive means
the engine is worse (delta PSNR = reference PSNR - engine PSNR, delta SSIM = reference SSIM -
engine SSIM, delta SAM = engine SAM - reference SAM, delta MAE = engine MAE - reference MAE).

Dataset figures are per sample, then averaged over samples (maxima: the largest; non-finite
counts: the sum), except the 99th / 99.9th percentiles, which come from a fixed-bin histogram
(`AbsDiffHistogram`) so that memory does not grow with the dataset.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from ibhfn import metrics
from ibhfn.bands import S2_BANDS, TRUE_COLOUR
from ibhfn.errors import InputError, ShapeError
from ibhfn.metrics import MetricSet
from ibhfn.verify.histogram import AbsDiffHistogram
from ibhfn.verify.similarity import scene_ssim

# Cloud-cover buckets, [low, high), the last one including 1.0.
COVERAGE_BUCKETS: tuple[tuple[float, float], ...] = ((0.0, 0.1), (0.1, 0.5), (0.5, 0.9), (0.9, 1.0))
COVERAGE_LABELS: tuple[str, ...] = ("0-10%", "10-50%", "50-90%", "90-100%")
UNKNOWN_COVERAGE = "unknown"
QUICKLOOK_MAX_SIDE = 512  # the worst sample is kept at most this many pixels on a side


def coverage_label(coverage: float | None) -> str:
    """The label of the cloud-cover bucket a fraction in [0, 1] falls in ('unknown' for None)."""
    if coverage is None:
        return UNKNOWN_COVERAGE
    for (low, high), label in zip(COVERAGE_BUCKETS, COVERAGE_LABELS):
        if low <= coverage < high:
            return label
    return COVERAGE_LABELS[-1]


@dataclass(frozen=True)
class Difference:
    """Engine output against reference output, over all bands of a sample or over one band."""

    max_abs: float
    mean_abs: float
    rms: float
    rel_l2: float  # ||engine - reference|| / ||reference||
    p99: float  # 99th percentile of the absolute difference
    p99_9: float  # 99.9th percentile
    psnr: float  # dB, engine against reference
    ssim: float
    non_finite: int  # inf / NaN values in the engine output


@dataclass(frozen=True)
class Quality:
    """Engine and reference each scored against ground truth."""

    engine: MetricSet
    reference: MetricSet

    @property
    def delta_psnr(self) -> float:
        """PSNR the engine loses, dB (positive = engine worse)."""
        return self.reference.psnr - self.engine.psnr

    @property
    def delta_ssim(self) -> float:
        """SSIM the engine loses (positive = engine worse)."""
        return self.reference.ssim - self.engine.ssim

    @property
    def delta_sam(self) -> float:
        """Spectral angle the engine adds, degrees (positive = engine worse)."""
        return self.engine.sam - self.reference.sam

    @property
    def delta_mae(self) -> float:
        """Absolute error the engine adds (positive = engine worse)."""
        return self.engine.mae - self.reference.mae


@dataclass(frozen=True)
class BandDelta:
    """What the engine loses against ground truth in one band (positive = engine worse)."""

    psnr: float
    ssim: float
    mae: float


@dataclass(frozen=True)
class Comparison:
    """Engine against reference, and both against ground truth where it exists."""

    difference: Difference
    sam: float  # degrees, engine against reference
    bands: tuple[Difference, ...]
    quality: Quality | None = None
    band_deltas: tuple[BandDelta, ...] | None = None


@dataclass(frozen=True)
class SampleComparison:
    """The comparison of one sample, with what identifies it."""

    sample_id: str
    coverage: float | None  # cloud-cover fraction of the cloudy input, if known
    comparison: Comparison

    @property
    def bucket(self) -> str:
        """The cloud-cover bucket label."""
        return coverage_label(self.coverage)

    @classmethod
    def from_arrays(
        cls,
        engine_out: np.ndarray,
        reference_out: np.ndarray,
        *,
        sample_id: str,
        truth: np.ndarray | None = None,
        coverage: float | None = None,
    ) -> SampleComparison:
        """Compare one sample's engine and reference outputs, (C, H, W), and score both on truth."""
        return _compare(engine_out, reference_out, sample_id, truth, coverage)[0]


@dataclass(frozen=True)
class BucketSummary:
    """The samples of one cloud-cover bucket, aggregated."""

    label: str
    n_samples: int
    comparison: Comparison


@dataclass(frozen=True)
class WorstSample:
    """What the report shows of the sample with the largest RMS difference (shrunk if large)."""

    sample_id: str
    abs_error: np.ndarray  # (h, w): largest |engine - reference| over the bands (inf where non-finite)
    engine_rgb: np.ndarray  # (3, h, w) true colour, B4/B3/B2
    reference_rgb: np.ndarray
    cloudy_rgb: np.ndarray | None = None
    truth_rgb: np.ndarray | None = None


@dataclass(frozen=True)
class ParitySummary:
    """Everything the verdict and the report need about a verification run."""

    band_names: tuple[str, ...]
    n_samples: int
    overall: Comparison
    buckets: tuple[BucketSummary, ...]  # only the buckets that hold samples, in bucket order
    worst: tuple[SampleComparison, ...]  # largest RMS difference first
    samples: tuple[SampleComparison, ...]  # in the order they were added
    histogram: AbsDiffHistogram
    worst_sample: WorstSample


class ParityAccumulator:
    """Adds samples one at a time and summarises them; memory grows only by a small summary each."""

    def __init__(self, band_names: Sequence[str] = S2_BANDS, worst_count: int = 10) -> None:
        self.band_names = tuple(band_names)
        self.worst_count = worst_count
        self._samples: list[SampleComparison] = []
        self._histograms: dict[str | None, AbsDiffHistogram] = {}  # all samples (None), each bucket
        self._worst: WorstSample | None = None
        self._worst_rms = -math.inf

    def add(
        self,
        engine_out: np.ndarray,
        reference_out: np.ndarray,
        *,
        sample_id: str,
        truth: np.ndarray | None = None,
        cloudy: np.ndarray | None = None,
        coverage: float | None = None,
    ) -> SampleComparison:
        """Compare one sample, arrays (C, H, W) in reflectance; `cloudy` (the input) is for quicklooks."""
        if np.shape(engine_out)[:1] != (len(self.band_names),):
            raise ShapeError(
                f"sample {sample_id}: engine output has shape {np.shape(engine_out)}, "
                f"expected ({len(self.band_names)}, H, W)"
            )
        if cloudy is not None and np.shape(cloudy) != np.shape(engine_out):
            raise ShapeError(
                f"sample {sample_id}: cloudy input shape {np.shape(cloudy)} differs from "
                f"engine output shape {np.shape(engine_out)}"
            )
        sample, diff = _compare(engine_out, reference_out, sample_id, truth, coverage)
        counted = AbsDiffHistogram(len(self.band_names))
        counted.add(diff)
        for key in (None, sample.bucket):
            self._histograms.setdefault(key, AbsDiffHistogram(len(self.band_names))).merge(counted)
        if sample.comparison.difference.rms > self._worst_rms:
            self._worst_rms = sample.comparison.difference.rms
            self._worst = _worst_sample(sample.sample_id, diff, engine_out, reference_out, cloudy, truth)
        self._samples.append(sample)
        return sample

    def summary(self) -> ParitySummary:
        """Aggregate the samples added so far."""
        if not self._samples or self._worst is None:
            raise InputError("no samples were compared: the data selection is empty")
        buckets = []
        for label in (*COVERAGE_LABELS, UNKNOWN_COVERAGE):
            members = [s.comparison for s in self._samples if s.bucket == label]
            if members:
                aggregate = _aggregate(members, self._histograms[label])
                buckets.append(BucketSummary(label, len(members), aggregate))
        ranked = sorted(self._samples, key=lambda s: s.comparison.difference.rms, reverse=True)
        return ParitySummary(
            band_names=self.band_names,
            n_samples=len(self._samples),
            overall=_aggregate([s.comparison for s in self._samples], self._histograms[None]),
            buckets=tuple(buckets),
            worst=tuple(ranked[: self.worst_count]),
            samples=tuple(self._samples),
            histogram=copy.deepcopy(self._histograms[None]),  # later adds must not change it
            worst_sample=self._worst,
        )


def _compare(
    engine_out: np.ndarray,
    reference_out: np.ndarray,
    sample_id: str,
    truth: np.ndarray | None,
    coverage: float | None,
) -> tuple[SampleComparison, np.ndarray]:
    """One sample's comparison and its |engine - reference| (`abs_difference`), each array in float64 once."""
    _check_sample(engine_out, reference_out, truth, sample_id, coverage)
    engine = np.asarray(engine_out, dtype=np.float64)
    reference = np.asarray(reference_out, dtype=np.float64)
    diff = abs_difference(engine, reference)
    non_finite = (~np.isfinite(engine)).reshape(len(engine), -1).sum(axis=1)
    band_ssim, truth_ssim = scene_ssim(engine_out, reference_out, truth)
    with np.errstate(invalid="ignore", over="ignore"):  # an engine's inf/NaN give NaN scores
        sam = metrics.sam(engine, reference)
        quality, band_deltas = (
            (None, None)
            if truth is None or truth_ssim is None
            else _quality(engine, reference, np.asarray(truth, dtype=np.float64), truth_ssim)
        )
    bands = tuple(
        _difference(diff[b], reference[b], float(band_ssim[b]), int(non_finite[b])) for b in range(len(engine))
    )
    overall = _difference(diff, reference, float(band_ssim.mean()), int(non_finite.sum()))
    comparison = Comparison(overall, sam, bands, quality, band_deltas)
    return SampleComparison(str(sample_id), None if coverage is None else float(coverage), comparison), diff


def abs_difference(engine_out: np.ndarray, reference_out: np.ndarray) -> np.ndarray:
    """|engine - reference| in float64, with every non-finite difference set to +inf."""
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(np.asarray(engine_out, np.float64) - np.asarray(reference_out, np.float64))
    diff[~np.isfinite(diff)] = np.inf
    return diff


def _check_sample(engine_out, reference_out, truth, sample_id: str, coverage: float | None) -> None:
    """Raise an error naming the sample if its arrays or coverage cannot be compared."""
    shape = np.shape(reference_out)
    if len(shape) != 3:
        raise ShapeError(f"sample {sample_id}: outputs must be (C, H, W), got shape {shape}")
    for name, array in (("engine output", engine_out), ("ground truth", truth)):
        if array is not None and np.shape(array) != shape:
            raise ShapeError(
                f"sample {sample_id}: {name} shape {np.shape(array)} differs from reference output shape {shape}"
            )
    bad = int(np.size(reference_out) - np.count_nonzero(np.isfinite(reference_out)))
    if bad:
        raise InputError(f"sample {sample_id}: the reference output has {bad} inf/NaN values")
    if coverage is not None and not 0.0 <= coverage <= 1.0:
        raise InputError(f"sample {sample_id}: cloud coverage {coverage} is outside [0, 1]")


def _difference(diff: np.ndarray, reference: np.ndarray, ssim: float, non_finite: int) -> Difference:
    """Difference statistics of one band or a whole sample from its |engine - reference| values."""
    sum_sq = float(np.square(diff).sum())
    rms = math.sqrt(sum_sq / diff.size)
    p99, p99_9 = np.percentile(diff, [99.0, 99.9], method="inverted_cdf")
    return Difference(
        max_abs=float(diff.max()),
        mean_abs=float(diff.mean()),
        rms=rms,
        rel_l2=_ratio(math.sqrt(sum_sq), math.sqrt(float(np.square(reference).sum()))),
        p99=float(p99),
        p99_9=float(p99_9),
        psnr=float(metrics.psnr_from_rmse(rms)),
        ssim=ssim,
        non_finite=non_finite,
    )


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, with 0 / 0 = 0 and x / 0 = inf."""
    if denominator == 0.0:
        return 0.0 if numerator == 0.0 else math.inf
    return numerator / denominator


def _quality(
    engine: np.ndarray, reference: np.ndarray, truth: np.ndarray, band_ssim: tuple[np.ndarray, np.ndarray]
) -> tuple[Quality, tuple[BandDelta, ...]]:
    """Score engine and reference against ground truth, overall and per band (their band SSIM given)."""
    engine_set, engine_bands = _scores(engine, truth, band_ssim[0])
    reference_set, reference_bands = _scores(reference, truth, band_ssim[1])
    deltas = tuple(
        BandDelta(psnr=float(rp - ep), ssim=float(rs - es), mae=float(em - rm))
        for (em, ep, es), (rm, rp, rs) in zip(engine_bands, reference_bands)
    )
    return Quality(engine_set, reference_set), deltas


def _scores(
    out: np.ndarray, truth: np.ndarray, band_ssim: np.ndarray
) -> tuple[MetricSet, list[tuple[float, float, float]]]:
    """One image against truth: its MetricSet and (MAE, PSNR, SSIM) per band.

    Every band has the same number of pixels, so the overall MAE and SSIM are the band means and
    the overall MSE the mean of the band MSEs.
    """
    band_mae = np.asarray(metrics.mae(out, truth, per_band=True))
    band_rmse = np.asarray(metrics.rmse(out, truth, per_band=True))
    rmse = math.sqrt(float(np.mean(np.square(band_rmse))))
    overall = MetricSet(
        mae=float(band_mae.mean()),
        rmse=rmse,
        psnr=float(metrics.psnr_from_rmse(rmse)),
        ssim=float(band_ssim.mean()),
        sam=metrics.sam(out, truth),
    )
    band_psnr = np.asarray(metrics.psnr_from_rmse(band_rmse))
    return overall, [(float(m), float(p), float(s)) for m, p, s in zip(band_mae, band_psnr, band_ssim)]


def _aggregate(comparisons: list[Comparison], histogram: AbsDiffHistogram) -> Comparison:
    """Average per-sample comparisons; percentiles come from the histogram of the same samples."""
    n_bands = len(comparisons[0].bands)
    qualities = [c.quality for c in comparisons if c.quality is not None]
    deltas = [c.band_deltas for c in comparisons if c.band_deltas is not None]  # the same samples
    quality, band_deltas = None, None
    if qualities:
        quality = Quality(
            engine=_mean_metric_set([q.engine for q in qualities]),
            reference=_mean_metric_set([q.reference for q in qualities]),
        )
        band_deltas = tuple(
            BandDelta(
                psnr=_mean([d[b].psnr for d in deltas]),
                ssim=_mean([d[b].ssim for d in deltas]),
                mae=_mean([d[b].mae for d in deltas]),
            )
            for b in range(n_bands)
        )
    return Comparison(
        difference=_aggregate_differences([c.difference for c in comparisons], histogram, None),
        sam=_mean([c.sam for c in comparisons]),
        bands=tuple(_aggregate_differences([c.bands[b] for c in comparisons], histogram, b) for b in range(n_bands)),
        quality=quality,
        band_deltas=band_deltas,
    )


def _aggregate_differences(items: list[Difference], histogram: AbsDiffHistogram, band: int | None) -> Difference:
    """Per-sample differences of one band (or all bands) combined over samples."""
    return Difference(
        max_abs=max(d.max_abs for d in items),
        mean_abs=_mean([d.mean_abs for d in items]),
        rms=_mean([d.rms for d in items]),
        rel_l2=_mean([d.rel_l2 for d in items]),
        p99=histogram.percentile(99.0, band),
        p99_9=histogram.percentile(99.9, band),
        psnr=_mean([d.psnr for d in items]),
        ssim=_mean([d.ssim for d in items]),
        non_finite=sum(d.non_finite for d in items),
    )


def _mean_metric_set(items: list[MetricSet]) -> MetricSet:
    """Field-wise mean of metric sets."""
    names = [f.name for f in fields(MetricSet)]
    return MetricSet(**{name: _mean([getattr(m, name) for m in items]) for name in names})


def _mean(values: list[float]) -> float:
    """Mean that tolerates inf (a perfect PSNR) without a warning; inf and -inf together give NaN."""
    with np.errstate(invalid="ignore"):
        return float(np.mean(values))


def _worst_sample(sample_id, diff, engine_out, reference_out, cloudy, truth) -> WorstSample:
    """Keep what the report shows of a sample, shrunk to at most QUICKLOOK_MAX_SIDE on a side."""
    step = max(1, math.ceil(max(diff.shape[1:]) / QUICKLOOK_MAX_SIDE))

    def rgb(array: np.ndarray) -> np.ndarray:
        return np.array(np.asarray(array)[list(TRUE_COLOUR), ::step, ::step], dtype=np.float32)

    return WorstSample(
        sample_id=sample_id,
        abs_error=_block_max(diff.max(axis=0), step).astype(np.float32),
        engine_rgb=rgb(engine_out),
        reference_rgb=rgb(reference_out),
        cloudy_rgb=None if cloudy is None else rgb(cloudy),
        truth_rgb=None if truth is None else rgb(truth),
    )


def _block_max(image: np.ndarray, step: int) -> np.ndarray:
    """Shrink (H, W) by `step`, keeping each block's maximum so that no error peak is lost."""
    if step == 1:
        return image
    h, w = image.shape
    padded = np.pad(image, ((0, -h % step), (0, -w % step)))
    return padded.reshape(padded.shape[0] // step, step, padded.shape[1] // step, step).max(axis=(1, 3))
