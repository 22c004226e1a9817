"""The verification report: a versioned JSON document for machines and one HTML page for people.

This module writes both and builds the JSON; `report_html` renders the page and `report_figures`
draws its figures. The JSON follows `report_schema.json` (schema "ibhfn-verify-report/1");
numbers that are not finite (a PSNR of identical outputs is inf) are written as the strings
"inf", "-inf", "nan" so the file stays strict JSON.
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from ibhfn import __version__
from ibhfn.atomic import atomic_path
from ibhfn.verify.parity import COVERAGE_BUCKETS, COVERAGE_LABELS, Comparison, ParitySummary, SampleComparison
from ibhfn.verify.report_html import SCHEMA, render_html
from ibhfn.verify.thresholds import CHECK_LABELS, Verdict
from ibhfn.versions import versions

JSON_NAME = "verify_report.json"
HTML_NAME = "verify_report.html"


@dataclass(frozen=True)
class ReportPaths:
    """Where the report was written."""

    json: Path
    html: Path


def write_report(summary: ParitySummary, verdict: Verdict, out_dir: str | Path, *, meta: dict) -> ReportPaths:
    """Write verify_report.json and verify_report.html into `out_dir`; `meta` describes the run."""
    out_dir = Path(out_dir)
    paths = ReportPaths(out_dir / JSON_NAME, out_dir / HTML_NAME)
    document = report_dict(summary, verdict, meta=meta)
    page = render_html(summary, verdict, document)
    with atomic_path(paths.json) as tmp:
        tmp.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    with atomic_path(paths.html) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return paths


def load_schema() -> dict:
    """The JSON Schema the report document follows."""
    return json.loads(resources.files("ibhfn.verify").joinpath("report_schema.json").read_text("utf-8"))


def report_dict(summary: ParitySummary, verdict: Verdict, *, meta: dict) -> dict:
    """The report as a JSON-ready dictionary (what verify_report.json holds)."""
    bands = summary.band_names
    ranges = dict(zip(COVERAGE_LABELS, COVERAGE_BUCKETS))
    return {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "ibhfn_version": __version__,
        "versions": versions(),
        "meta": json.loads(json.dumps(meta, default=str)),
        "verdict": {
            "passed": verdict.passed,
            "message": verdict.message,
            "thresholds": _reals(verdict.thresholds.to_dict()),
            "checks": [
                {
                    "name": c.name,
                    "label": CHECK_LABELS[c.name],
                    "value": _real(c.value),
                    "op": c.op,
                    "limit": _real(c.limit),
                    "passed": c.passed,
                }
                for c in verdict.checks
            ],
            "failing_bands": list(verdict.failing_bands),
            "skipped": list(verdict.skipped),
        },
        "bands": list(bands),
        "n_samples": summary.n_samples,
        "overall": _comparison_dict(summary.overall, bands),
        "buckets": [
            {
                "label": b.label,
                "range": list(ranges[b.label]) if b.label in ranges else None,
                "n_samples": b.n_samples,
                "comparison": _comparison_dict(b.comparison, bands),
            }
            for b in summary.buckets
        ],
        "worst": [
            {
                "id": s.sample_id,
                "coverage": s.coverage,
                "bucket": s.bucket,
                "comparison": _comparison_dict(s.comparison, bands),
            }
            for s in summary.worst
        ],
        "samples": [_sample_dict(s) for s in summary.samples],
        "histogram": {
            "edges": [_real(e) for e in summary.histogram.edges],
            "counts": summary.histogram.counts.tolist(),
            "band_counts": summary.histogram.band_counts.tolist(),
        },
    }


def _comparison_dict(comparison: Comparison, bands: tuple[str, ...]) -> dict:
    """A Comparison with band names attached to the per-band entries."""
    quality = comparison.quality
    return {
        "difference": _reals(asdict(comparison.difference)),
        "sam": _real(comparison.sam),
        "bands": [{"band": name, **_reals(asdict(d))} for name, d in zip(bands, comparison.bands)],
        "quality": None
        if quality is None
        else {
            "engine": _reals(quality.engine.to_dict()),
            "reference": _reals(quality.reference.to_dict()),
            "delta": _delta_dict(comparison),
        },
        "band_deltas": None
        if comparison.band_deltas is None
        else [{"band": name, **_reals(asdict(d))} for name, d in zip(bands, comparison.band_deltas)],
    }


def _sample_dict(sample: SampleComparison) -> dict:
    """One sample without its per-band detail (every sample is listed, so this stays short)."""
    c = sample.comparison
    return {
        "id": sample.sample_id,
        "coverage": sample.coverage,
        "bucket": sample.bucket,
        "difference": _reals(asdict(c.difference)),
        "sam": _real(c.sam),
        "delta": _delta_dict(c),
    }


def _delta_dict(comparison: Comparison) -> dict | None:
    """The four deltas against ground truth (positive = engine worse), or None without truth."""
    q = comparison.quality
    if q is None:
        return None
    return _reals({"psnr": q.delta_psnr, "ssim": q.delta_ssim, "sam": q.delta_sam, "mae": q.delta_mae})


def _reals(values: dict) -> dict:
    """`_real` applied to every float of a flat dictionary."""
    return {k: _real(v) if isinstance(v, float) else v for k, v in values.items()}


def _real(value: float) -> float | str:
    """A float for strict JSON: finite as is, otherwise "inf", "-inf" or "nan"."""
    value = float(value)
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
