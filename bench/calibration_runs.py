"""`ibhfn-calibrate` at several calibration-set sizes: its time and peak RSS, each in a fresh process.

Peak RSS should not grow with the number of patches: the calibrator is fed a few patches at a
time. The tree is generated with enough train patches for the largest count.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from child_peak import run_child
from rich.console import Console
from rich.table import Table

from ibhfn.data.synthetic import write_tree

PATCHES_PER_SCENE = 16
HOLDOUT = 12  # as the demo holds out


@dataclass(frozen=True)
class CalibrationFigures:
    """One calibration run."""

    patches: int
    seconds: float
    peak_rss_mb: float
    delta_psnr_db: float
    delta_sam_deg: float


def calibration_tree(folder: Path, patches: int) -> Path:
    """A generated SEN12MS-CR tree with at least `patches` train patches and two val scenes."""
    scenes = math.ceil(patches / PATCHES_PER_SCENE)
    return write_tree(folder, seed=6, scenes_per_split=(scenes, 2, 0), patches_per_scene=PATCHES_PER_SCENE)


def measure_calibration(fp32: Path, tree: Path, counts: tuple[int, ...], out: Path) -> list[CalibrationFigures]:
    """`ibhfn-calibrate` (percentile, the default) with each count of patches, in turn."""
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    for count in counts:
        model = out / f"calibrated_{count}.onnx"
        run = run_child(
            "ibhfn.calibration.cli",
            "--onnx",
            str(fp32),
            "--data",
            str(tree),
            "--out",
            str(model),
            "--samples",
            str(count),
            "--holdout",
            str(HOLDOUT),
            "--quiet",
        )
        report = json.loads(model.with_name(model.name + ".report.json").read_text())
        truth = report["accuracy"]["vs_truth"]
        figures.append(
            CalibrationFigures(count, run.seconds, run.peak_rss_mb, truth["delta_psnr_db"], truth["delta_sam_deg"])
        )
    return figures


def print_calibration(console: Console, figures: list[CalibrationFigures]) -> None:
    """The table: time, peak RSS (and its ratio to the smallest set's) and INT8 accuracy by set size."""
    table = Table(title=f"ibhfn-calibrate (percentile, {HOLDOUT} held out, fresh process per run)")
    for column in ("patches", "s", "peak RSS (MB)", "/ the first", "delta PSNR (dB)", "delta SAM (deg)"):
        table.add_column(column, justify="right")
    first = figures[0].peak_rss_mb
    for row in figures:
        table.add_row(
            str(row.patches),
            f"{row.seconds:.0f}",
            f"{row.peak_rss_mb:.0f}",
            f"{row.peak_rss_mb / first:.2f}",
            f"{row.delta_psnr_db:+.3f}",
            f"{row.delta_sam_deg:+.3f}",
        )
    console.print(table)
