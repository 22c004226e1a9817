"""The verification report as one self-contained HTML page: inline CSS, figures as data URIs.

No scripts and no external references, so the page can be mailed or archived as is. The Run
table shows each part of the run's description (engine, reference, data) as labelled fields.
"""

from __future__ import annotations

import html
import math

from ibhfn.verify.parity import Comparison, Difference, ParitySummary, Quality
from ibhfn.verify.report_figures import QUICKLOOK_PERCENTILES, Figures
from ibhfn.verify.thresholds import CHECK_LABELS, Verdict

SCHEMA = "ibhfn-verify-report/1"


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
table.fields { margin: 0; }
table.fields table.fields th { background: #fafafa; font-weight: normal; }
ul { margin: 0; padding-left: 1.2em; }
"""


def render_html(summary: ParitySummary, verdict: Verdict, document: dict) -> str:
    """The self-contained HTML page of a report (`document` is `report_dict`'s output)."""
    figures = Figures(summary, verdict)
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
        outcome = "; ".join(f"{CHECK_LABELS[c.name]}: {_fmt(c.value)}, not {c.op} {_fmt(c.limit)}" for c in failed)
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
    """What was compared: the precision, the sample count and the caller's meta, each part as fields."""
    return _fields({"precision": verdict.thresholds.precision, "samples": summary.n_samples, **meta})


def _fields(value: object) -> str:
    """A value as people read it: a mapping as a table of labelled fields, a list as a list, None as a dash."""
    if isinstance(value, dict):
        body = "".join(
            f'<tr><th class="text">{_e(str(key).replace("_", " "))}</th><td class="text">{_fields(item)}</td></tr>'
            for key, item in value.items()
        )
        return f'<table class="fields">{body}</table>'
    if isinstance(value, (list, tuple)):
        if not value:
            return "none"
        return "<ul>" + "".join(f"<li>{_fields(item)}</li>" for item in value) + "</ul>"
    if value is None:
        return "&ndash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _e(value)


def _checks_table(verdict: Verdict) -> str:
    """One row per check: what, measured value, limit, result."""
    rows = [
        [
            _e(CHECK_LABELS[c.name]),
            _fmt(c.value),
            f"{_e(c.op)} {_fmt(c.limit)}",
            '<span class="ok">pass</span>' if c.passed else '<span class="bad">FAIL</span>',
        ]
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
    return _table(
        ["", *_DIFF_HEAD, "SAM deg"], [["all bands", *_difference_cells(comparison.difference), _fmt(comparison.sam)]]
    )


def _quality_table(quality: Quality) -> str:
    """Engine and reference against ground truth, and the deltas (positive = engine worse)."""
    names = ("mae", "rmse", "psnr", "ssim", "sam")
    deltas = {
        "mae": quality.delta_mae,
        "psnr": quality.delta_psnr,
        "ssim": quality.delta_ssim,
        "sam": quality.delta_sam,
    }
    rows = [
        [label, *(_fmt(getattr(m, n)) for n in names)]
        for label, m in (("engine", quality.engine), ("reference", quality.reference))
    ]
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
    header = "".join(f"<th{_LABEL if i == 0 else ''}>{h}</th>" for i, h in enumerate(head))
    body = ""
    for r, row in enumerate(rows):
        css = ' class="bad"' if bad_rows and bad_rows[r] else ""
        cells = "".join(f"<td{_LABEL if i == 0 else ''}>{cell}</td>" for i, cell in enumerate(row))
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
