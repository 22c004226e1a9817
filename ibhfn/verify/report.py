"""The verification report: a versioned JSON document for machines and one HTML page for people.

The JSON follows `report_schema.json` (schema "ibhfn-verify-report/1"); numbers that are not
finite (a PSNR of identical outputs is inf) are written as the strings "inf", "-inf", "nan" so the
file stays strict JSON. The HTML page is self-contained: inline CSS, figures embedded as base64
PNG data URIs, no scripts and no external references, so it can be mailed or archived as is.
matplotlib (the `verify` extra) is imported only when the page is drawn, and only its Agg canvas
is used: no pyplot, no global backend change.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import json
import math
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ibhfn import __version__
from ibhfn.atomic import atomic_path
from ibhfn.errors import DependencyError
from ibhfn.verify.parity import (
    COVERAGE_BUCKETS,
    COVERAGE_LABELS,
    Comparison,
    Difference,
    ParitySummary,
    Quality,
    SampleComparison,
    WorstSample,
)
from ibhfn.verify.thresholds import CHECK_LABELS, Verdict
from ibhfn.versions import versions

SCHEMA = "ibhfn-verify-report/1"
JSON_NAME = "verify_report.json"
HTML_NAME = "verify_report.html"
QUICKLOOK_PERCENTILES = (2.0, 98.0)  # per-channel stretch of the true-colour quicklooks


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


# --- JSON -----------------------------------------------------------------------------------------


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
                {"name": c.name, "label": CHECK_LABELS[c.name], "value": _real(c.value), "op": c.op,
                 "limit": _real(c.limit), "passed": c.passed}
                for c in verdict.checks
            ],
            "failing_bands": list(verdict.failing_bands),
            "skipped": list(verdict.skipped),
        },
        "bands": list(bands),
        "n_samples": summary.n_samples,
        "overall": _comparison_dict(summary.overall, bands),
        "buckets": [
            {"label": b.label, "range": list(ranges[b.label]) if b.label in ranges else None,
             "n_samples": b.n_samples, "comparison": _comparison_dict(b.comparison, bands)}
            for b in summary.buckets
        ],
        "worst": [
            {"id": s.sample_id, "coverage": s.coverage, "bucket": s.bucket,
             "comparison": _comparison_dict(s.comparison, bands)}
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
        "quality": None if quality is None else {
            "engine": _reals(quality.engine.to_dict()),
            "reference": _reals(quality.reference.to_dict()),
            "delta": _delta_dict(comparison),
        },
        "band_deltas": None if comparison.band_deltas is None else [
            {"band": name, **_reals(asdict(d))} for name, d in zip(bands, comparison.band_deltas)
        ],
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


# --- HTML -----------------------------------------------------------------------------------------

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.banner { padding: 0.8em 1.2em; border-radius: 6px; font-size: 1.15em; margin: 1em 0; }
.pass { background: #e3f4e6; border: 2px solid #2e8b3d; }
.fail { background: #fbe4e4; border: 2px solid #c62828; }
.banner b { font-size: 1.3em; margin-right: 0.6em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; }
td.text, th.text { text-align: left; }
span.ok { color: #2e8b3d; font-weight: bold; }
span.bad, tr.bad td.text { color: #c62828; font-weight: bold; }
img { max-width: 100%; display: block; margin: 0.6em 0; }
.note { color: #555; font-size: 0.92em; }
"""


def render_html(summary: ParitySummary, verdict: Verdict, document: dict) -> str:
    """The self-contained HTML page of a report (`document` is `report_dict`'s output)."""
    figures = _Figures(summary, verdict)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>ibhfn-verify: {'PASS' if verdict.passed else 'FAIL'}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>ibhfn-verify report</h1>",
        f'<p class="note">{_e(document["created"])} &middot; ibhfn {_e(document["ibhfn_version"])} '
        f"&middot; schema {_e(SCHEMA)}<br>{_e(_installed(document['versions']))}</p>",
        _banner(verdict),
        "<h2>Run</h2>",
        _run_table(summary, verdict, document["meta"]),
        "<h2>Checks</h2>",
        _checks_table(verdict),
        "<h2>Engine against reference</h2>",
        _difference_table(summary.overall),
    ]
    if summary.overall.quality is not None:
        parts += ["<h2>Against ground truth</h2>", _quality_table(summary.overall.quality)]
    parts += [
        "<h2>Per band</h2>",
        _img(figures.per_band(), "per-band errors"),
        _band_table(summary, verdict),
        '<p class="note">Percentiles come from a log-spaced histogram (100 bins per decade): each is '
        "the upper edge of its bin, at most 2.3% above the exact value. Bands in red break a limit "
        "on their own.</p>",
        "<h2>Distribution of |engine &minus; reference|</h2>",
        _img(figures.histogram(), "histogram of absolute differences"),
        f"<h2>Worst sample: {_e(summary.worst_sample.sample_id)}</h2>",
        '<p class="note">True colour (B4/B3/B2), all panels with the reference\'s '
        f"{QUICKLOOK_PERCENTILES[0]:g}-{QUICKLOOK_PERCENTILES[1]:g} percentile stretch; "
        "the difference panel is stretched on its own, to the scale in its title.</p>",
        _img(figures.quicklooks(), "true-colour quicklooks of the worst sample"),
        _img(figures.heat_map(), "heat map of the worst sample's absolute error"),
        "<h2>By cloud coverage</h2>",
        _bucket_table(summary),
        f"<h2>Worst {len(summary.worst)} samples (largest RMS difference)</h2>",
        _worst_table(summary),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _banner(verdict: Verdict) -> str:
    """The PASS / FAIL banner: what failed, the bands beyond a limit, the checks not made."""
    word, css = ("PASS", "pass") if verdict.passed else ("FAIL", "fail")
    failed = [c for c in verdict.checks if not c.passed]
    if failed:
        outcome = "; ".join(
            f"{CHECK_LABELS[c.name]}: {_fmt(c.value)}, not {c.op} {_fmt(c.limit)}" for c in failed
        )
    elif verdict.passed:
        outcome = f"all {len(verdict.checks)} checks passed ({verdict.thresholds.precision} thresholds)"
    else:
        outcome = "bands beyond a limit fail the run (strict_bands)"
    lines = [f'<div class="banner {css}"><b>{word}</b>{_e(outcome)}']
    if verdict.failing_bands:
        prefix = "Warning: bands" if verdict.passed else "Bands"
        lines.append(f"<br>{prefix} beyond a limit on their own: {_e(', '.join(verdict.failing_bands))}")
    lines += [f"<br>Not checked: {_e(reason)}" for reason in verdict.skipped]
    return "".join(lines) + "</div>"


def _run_table(summary: ParitySummary, verdict: Verdict, meta: dict) -> str:
    """What was compared: the precision, the sample count and the caller's meta."""
    rows = [("precision", verdict.thresholds.precision), ("samples", summary.n_samples)]
    rows += [(k, v if isinstance(v, (str, int, float)) else json.dumps(v)) for k, v in meta.items()]
    body = "".join(f'<tr><th class="text">{_e(k)}</th><td class="text">{_e(v)}</td></tr>' for k, v in rows)
    return f"<table>{body}</table>"


def _checks_table(verdict: Verdict) -> str:
    """One row per check: what, measured value, limit, result."""
    rows = [
        [_e(CHECK_LABELS[c.name]), _fmt(c.value), f"{_e(c.op)} {_fmt(c.limit)}",
         '<span class="ok">pass</span>' if c.passed else '<span class="bad">FAIL</span>']
        for c in verdict.checks
    ]
    return _table(["check", "value", "limit", "result"], rows)


_DIFF_HEAD = ["max abs", "mean abs", "RMS", "rel. L2", "p99", "p99.9", "PSNR dB", "SSIM", "inf/NaN"]


def _difference_cells(d: Difference) -> list[str]:
    """The cells of one Difference, in _DIFF_HEAD order."""
    values = (d.max_abs, d.mean_abs, d.rms, d.rel_l2, d.p99, d.p99_9, d.psnr, d.ssim)
    return [_fmt(v) for v in values] + [str(d.non_finite)]


def _difference_table(comparison: Comparison) -> str:
    """The dataset-level difference statistics, with SAM."""
    return _table(["", *_DIFF_HEAD, "SAM deg"],
                  [["all bands", *_difference_cells(comparison.difference), _fmt(comparison.sam)]])


def _quality_table(quality: Quality) -> str:
    """Engine and reference against ground truth, and the deltas (positive = engine worse)."""
    names = ("mae", "rmse", "psnr", "ssim", "sam")
    deltas = {"mae": quality.delta_mae, "psnr": quality.delta_psnr, "ssim": quality.delta_ssim,
              "sam": quality.delta_sam}
    rows = [[label, *(_fmt(getattr(m, n)) for n in names)]
            for label, m in (("engine", quality.engine), ("reference", quality.reference))]
    rows.append(["delta (engine worse &gt; 0)", *(_fmt(deltas[n]) if n in deltas else "" for n in names)])
    return _table(["", "MAE", "RMSE", "PSNR dB", "SSIM", "SAM deg"], rows)


def _band_table(summary: ParitySummary, verdict: Verdict) -> str:
    """Per-band difference statistics, with the truth deltas when there is ground truth."""
    deltas = summary.overall.band_deltas
    head = ["band", *_DIFF_HEAD]
    if deltas is not None:
        head += ["&Delta;PSNR dB", "&Delta;SSIM", "&Delta;MAE"]
    rows, bad = [], []
    for b, (name, d) in enumerate(zip(summary.band_names, summary.overall.bands)):
        row = [_e(name), *_difference_cells(d)]
        if deltas is not None:
            row += [_fmt(deltas[b].psnr), _fmt(deltas[b].ssim), _fmt(deltas[b].mae)]
        rows.append(row)
        bad.append(name in verdict.failing_bands)
    return _table(head, rows, bad)


def _bucket_table(summary: ParitySummary) -> str:
    """One row per cloud-coverage bucket that holds samples."""
    with_truth = summary.overall.quality is not None
    head = ["cloud cover", "samples", "max abs", "mean abs", "p99.9", "PSNR dB", "SAM deg"]
    if with_truth:
        head += ["&Delta;PSNR dB", "&Delta;SSIM", "&Delta;SAM deg", "&Delta;MAE"]
    rows = []
    for bucket in summary.buckets:
        c, d = bucket.comparison, bucket.comparison.difference
        row = [_e(bucket.label), str(bucket.n_samples)]
        row += [_fmt(v) for v in (d.max_abs, d.mean_abs, d.p99_9, d.psnr, c.sam)]
        if with_truth:
            q = c.quality
            deltas = () if q is None else (q.delta_psnr, q.delta_ssim, q.delta_sam, q.delta_mae)
            row += [_fmt(v) for v in deltas] if deltas else [""] * 4
        rows.append(row)
    return _table(head, rows)


def _worst_table(summary: ParitySummary) -> str:
    """The worst samples, largest RMS difference first."""
    with_truth = summary.overall.quality is not None
    head = ["sample", "cloud cover", "max abs", "RMS", "p99.9", "PSNR dB", "SAM deg", "inf/NaN"]
    if with_truth:
        head += ["&Delta;PSNR dB", "&Delta;SAM deg"]
    rows = []
    for s in summary.worst:
        c, d = s.comparison, s.comparison.difference
        cover = "" if s.coverage is None else f"{100 * s.coverage:.0f}%"
        row = [_e(s.sample_id), cover, *(_fmt(v) for v in (d.max_abs, d.rms, d.p99_9, d.psnr, c.sam))]
        row.append(str(d.non_finite))
        if with_truth:
            row += ["", ""] if c.quality is None else [_fmt(c.quality.delta_psnr), _fmt(c.quality.delta_sam)]
        rows.append(row)
    return _table(head, rows)


_LABEL = ' class="text"'


def _table(head: list[str], rows: list[list[str]], bad_rows: list[bool] | None = None) -> str:
    """An HTML table of ready-made (escaped) cells; the first column is a left-aligned label."""
    header = "".join(f'<th{_LABEL if i == 0 else ""}>{h}</th>' for i, h in enumerate(head))
    body = ""
    for r, row in enumerate(rows):
        css = ' class="bad"' if bad_rows and bad_rows[r] else ""
        cells = "".join(f'<td{_LABEL if i == 0 else ""}>{cell}</td>' for i, cell in enumerate(row))
        body += f"<tr{css}>{cells}</tr>"
    return f"<table><tr>{header}</tr>{body}</table>"


def _img(data_uri: str, alt: str) -> str:
    """An <img> of an embedded PNG."""
    return f'<img src="{data_uri}" alt="{_e(alt)}">'


def _e(value: object) -> str:
    """HTML-escaped text."""
    return html.escape(str(value))


def _installed(versions: dict[str, str | None]) -> str:
    """The libraries beside ibhfn that are installed, with their versions, on one line."""
    return ", ".join(f"{name} {found}" for name, found in versions.items() if found and name != "ibhfn")


def _fmt(value: float) -> str:
    """A number for a table cell: four significant digits, inf / nan spelled out."""
    value = float(value)
    return f"{value:.4g}" if math.isfinite(value) else str(value)


# --- Figures --------------------------------------------------------------------------------------


class _Figures:
    """The report's matplotlib figures, each returned as a PNG data URI."""

    def __init__(self, summary: ParitySummary, verdict: Verdict) -> None:
        try:
            from matplotlib import colormaps
            from matplotlib.figure import Figure
        except ImportError:
            raise DependencyError("the HTML report needs matplotlib: pip install 'ibhfn[verify]'") from None
        self._figure = Figure
        self._colormaps = colormaps
        self.summary = summary
        self.verdict = verdict

    def per_band(self) -> str:
        """Absolute differences per band (top) and delta PSNR or PSNR per band (bottom)."""
        fig = self._figure(figsize=(11, 6.4))
        top, bottom = fig.subplots(2, 1)
        self._band_errors(top)
        self._band_psnr(bottom)
        x = np.arange(len(self.summary.band_names))
        for ax in (top, bottom):
            ax.set_xticks(x, self.summary.band_names)
            for tick in ax.get_xticklabels():
                if tick.get_text() in self.verdict.failing_bands:
                    tick.set_color("#c62828")
                    tick.set_fontweight("bold")
            ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        return _png(fig)

    def _band_errors(self, ax) -> None:
        """Bars of max, p99.9 and mean absolute difference per band, log scale, with the limit."""
        bands = self.summary.overall.bands
        limit = self.verdict.thresholds.max_abs
        series = [("max abs", "#c62828", _finite([b.max_abs for b in bands])),
                  ("p99.9", "#ef8a17", _finite([b.p99_9 for b in bands])),
                  ("mean abs", "#1f77b4", _finite([b.mean_abs for b in bands]))]
        highest = max(np.nanmax(values, initial=0.0) for _, _, values in series)
        ax.set_title("Absolute difference per band")
        ax.set_ylabel("|engine - reference|")
        if highest == 0:
            ax.text(0.5, 0.5, "engine and reference are identical in every band", ha="center",
                    va="center", transform=ax.transAxes)
            return
        x = np.arange(len(bands))
        for i, (label, colour, values) in enumerate(series):
            ax.bar(x + (i - 1) * 0.27, values, 0.27, label=label, color=colour)
        ax.set_yscale("log")
        if limit is not None:
            ax.axhline(limit, color="black", ls="--", lw=1, label=f"max abs limit {limit:g}")
        ax.set_ylim(top=10 * max(highest, limit or 0.0))  # room for the legend
        ax.legend(fontsize=8, ncols=4, loc="upper left")

    def _band_psnr(self, ax) -> None:
        """Delta PSNR against ground truth per band if there is truth, else PSNR against reference."""
        t = self.verdict.thresholds
        deltas = self.summary.overall.band_deltas
        if deltas is not None:
            values, limit = _finite([d.psnr for d in deltas]), t.max_delta_psnr
            ax.set_title("Delta PSNR against ground truth per band")
            ax.set_ylabel("delta PSNR dB (engine worse > 0)")
        else:
            values, limit = _finite([b.psnr for b in self.summary.overall.bands]), t.min_psnr
            ax.set_title("PSNR of engine against reference per band (inf = identical, not drawn)")
            ax.set_ylabel("PSNR vs reference, dB")
        ax.bar(np.arange(len(values)), values, 0.6, color="#6a51a3")
        if limit is not None:
            ax.axhline(limit, color="black", ls="--", lw=1, label=f"limit {limit:g}")
            ax.legend(fontsize=8, loc="upper left")
        highest = max(np.nanmax(values, initial=0.0), limit or 0.0)
        if highest > 0:
            ax.set_ylim(top=1.3 * highest)

    def histogram(self) -> str:
        """Histogram of |engine - reference| over all bands on log-spaced bins."""
        h = self.summary.histogram
        counts = h.counts
        total = counts.sum()
        fig = self._figure(figsize=(9, 3.6))
        ax = fig.subplots()
        # counts[0]: exact zeros; counts[1]: (0, 1e-9]; counts[-1]: above the last finite edge.
        positive = counts[2:-1]
        if positive.any():
            used = np.flatnonzero(positive)  # draw only the decades that hold values
            lo, hi = max(used[0] - 5, 0), min(used[-1] + 6, len(positive))
            ax.stairs(positive[lo:hi] / total, h.edges[1 + lo:2 + hi], fill=True, color="#1f77b4")
            ax.set_xscale("log")
            ax.set_yscale("log")
            overall = self.summary.overall.difference
            for value, label, style in ((overall.p99, "p99", ":"), (overall.p99_9, "p99.9", "-.")):
                if 0 < value < math.inf:
                    ax.axvline(value, color="#ef8a17", ls=style, lw=1.2, label=f"{label} = {value:.3g}")
            limit = self.verdict.thresholds.max_abs
            if limit is not None:
                ax.axvline(limit, color="black", ls="--", lw=1, label=f"max abs limit {limit:g}")
            ax.legend(fontsize=8)
        else:
            text = "every difference is exactly zero" if counts[0] == total else "no finite difference > 1e-9"
            ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("|engine - reference| (reflectance)")
        ax.set_ylabel("fraction of values")
        ax.set_title(
            f"{total:,} values; exactly zero: {counts[0] / total:.1%}; "
            f"in (0, 1e-9]: {counts[1] / total:.1%}; above 10 or inf/NaN: {counts[-1]:,}"
        )
        ax.grid(alpha=0.3)
        fig.tight_layout()
        return _png(fig)

    def quicklooks(self) -> str:
        """True-colour panels of the worst sample: cloudy input, reference, engine, truth, difference."""
        w: WorstSample = self.summary.worst_sample
        low, high = _stretch_limits(w.reference_rgb)
        panels = [(title, _stretch(rgb, low, high)) for title, rgb in (
            ("cloudy input", w.cloudy_rgb), ("reference", w.reference_rgb),
            ("engine", w.engine_rgb), ("ground truth", w.truth_rgb)) if rgb is not None]
        diff = np.abs(w.engine_rgb.astype(np.float64) - w.reference_rgb)
        diff[~np.isfinite(diff)] = 0.0
        scale = float(np.percentile(diff, 99.5)) or float(diff.max()) or 1.0
        panels.append((f"|engine - reference|, 0 to {scale:.2g}", _stretch(diff, 0.0, scale)))
        fig = self._figure(figsize=(2.6 * len(panels), 2.9))
        for ax, (title, image) in zip(np.atleast_1d(fig.subplots(1, len(panels))), panels):
            ax.imshow(image, interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.set_axis_off()
        fig.tight_layout()
        return _png(fig)

    def heat_map(self) -> str:
        """The worst sample's largest absolute error over the bands, per pixel (inf/NaN in cyan)."""
        w = self.summary.worst_sample
        error = np.ma.masked_invalid(w.abs_error)
        highest = float(error.max()) if error.count() else 0.0
        fig = self._figure(figsize=(6.2, 5))
        ax = fig.subplots()
        cmap = self._colormaps["magma"].with_extremes(bad="cyan")
        image = ax.imshow(error, cmap=cmap, interpolation="nearest", vmin=0, vmax=highest or 1.0)
        fig.colorbar(image, ax=ax, label="max over bands of |engine - reference|")
        bad = error.size - error.count()
        note = f" ({bad} inf/NaN pixels in cyan)" if bad else ""
        ax.set_title(f"{w.sample_id}: absolute error{note}", fontsize=10)
        ax.set_axis_off()
        fig.tight_layout()
        return _png(fig)


def _finite(values: list[float]) -> np.ndarray:
    """Values with inf/NaN replaced by NaN, so bar charts leave them out."""
    array = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(array), array, np.nan)


def _stretch_limits(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel percentile limits of a (3, H, W) image, ignoring inf/NaN."""
    flat = np.where(np.isfinite(rgb), rgb, np.nan).reshape(3, -1)
    low, high = np.nanpercentile(flat, QUICKLOOK_PERCENTILES, axis=1)
    return low[:, None, None], np.maximum(high, low + 1e-6)[:, None, None]


def _stretch(rgb: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(3, H, W) reflectance stretched to an (H, W, 3) image in [0, 1]."""
    return np.nan_to_num(np.clip((rgb - low) / (high - low), 0.0, 1.0), nan=0.0).transpose(1, 2, 0)


def _png(fig) -> str:
    """A figure as a base64 PNG data URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
