"""The SEN12MS-CR literature table: one row per method and group, MAE RMSE PSNR SSIM SAM.

    group              n  method          MAE ↓   RMSE ↓  PSNR ↑  SSIM ↑  SAM ↓
    all               16  cloudy input    0.1352  0.1701   15.84  0.5120  12.31
                          ibhfn edge      0.0301  0.0410   28.10  0.8712   6.02
    ROIs1158_spring    8  ...
    coverage 0-10%     4  ...
    same surface       3  ...   (these two groups only where a target shows new snow)
    snow in target only 1 ...

MAE and RMSE in reflectance, PSNR in dB (data range 1), SAM in degrees.
"""

from __future__ import annotations

import math

from ibhfn.evaluate.evaluation import IDENTITY, EvaluationReport, GroupResult
from ibhfn.metrics import MetricSet

INF_NOTE = "PSNR inf: the group holds images equal to their target (a cloud-free input scores RMSE 0)"
COLUMNS = (
    ("mae", "MAE ↓", "{:.4f}"),
    ("rmse", "RMSE ↓", "{:.4f}"),
    ("psnr", "PSNR ↑", "{:.2f}"),
    ("ssim", "SSIM ↑", "{:.4f}"),
    ("sam", "SAM ↓", "{:.2f}"),
)


def format_table(report: EvaluationReport) -> str:
    """The report as an aligned text table: the whole split, each ROI-season, each coverage bucket."""
    groups: list[tuple[str, GroupResult]] = [("all", report.overall())]
    groups += list(report.by_roi_season().items())
    groups += [(f"coverage {bucket}", result) for bucket, result in report.by_coverage().items()]
    groups += list(report.by_surface().items())
    rows = [("group", "n", "method", *(title for _, title, _ in COLUMNS))]
    for label, result in groups:
        rows.append((label, str(result.count), IDENTITY, *_cells(result.identity)))
        rows.append(("", "", report.model_name, *_cells(result.model)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    left = {0, 2}  # text columns; numbers are right-aligned
    lines = [
        "  ".join(cell.ljust(w) if i in left else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        for row in rows
    ]
    title = f"SEN12MS-CR {report.split} split, {report.overall().count} images (PSNR dB, SAM degrees)"
    notes = [INF_NOTE] if any(math.isinf(s.identity.psnr) or math.isinf(s.model.psnr) for s in report.scores) else []
    return "\n".join([title, *(line.rstrip() for line in lines), *notes])


def _cells(metrics: MetricSet) -> list[str]:
    """The formatted metric values of one row."""
    return [fmt.format(getattr(metrics, name)) for name, _, fmt in COLUMNS]
