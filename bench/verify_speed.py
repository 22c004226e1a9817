"""`ibhfn-verify --scenes` against `ibhfn-run` on the same scene: wall times and their ratio.

Each command runs in a fresh process: `ibhfn-run` with the engine, `ibhfn-run` with the reference
(together the floor of a verification, which runs both), then `ibhfn-verify --scenes` of the
engine against the reference. The target is a verification within 2.5 x the engine's run.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from child_peak import ChildRun, run_child
from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class VerifyFigures:
    """The three runs over one scene folder."""

    engine_run: ChildRun
    reference_run: ChildRun
    verify: ChildRun

    @property
    def ratio(self) -> float:
        """Verification time over the engine's ibhfn-run time."""
        return self.verify.seconds / self.engine_run.seconds

    @property
    def floor(self) -> float:
        """Both runs over the engine's run: what a verification costs at the least."""
        return (self.engine_run.seconds + self.reference_run.seconds) / self.engine_run.seconds


def measure_verify(engine: Path, reference: Path, scene_dir: Path, work: Path) -> VerifyFigures:
    """The engine's and the reference's ibhfn-run, then ibhfn-verify --scenes, each in a fresh process."""
    runs = []
    for name, model in (("engine", engine), ("reference", reference)):
        out = work / f"verify-bench-{name}"
        runs.append(run_child("ibhfn.runtime.cli", "--engine", str(model), "-q", str(scene_dir), str(out)))
        shutil.rmtree(out)
    verify = run_child(
        "ibhfn.verify.cli",
        "--engine",
        str(engine),
        "--reference",
        str(reference),
        "--scenes",
        str(scene_dir),
        "--quiet",
    )
    return VerifyFigures(*runs, verify)


def print_verify(console: Console, names: tuple[str, str], figures: VerifyFigures) -> None:
    """The table of the three runs and the ratio."""
    table = Table(title=f"ibhfn-verify --scenes {names[0]} against {names[1]} (the scene above, fresh processes)")
    for column in ("command", "s", "peak RSS (MB)"):
        table.add_column(column, justify="left" if column == "command" else "right")
    for label, run in (
        (f"ibhfn-run {names[0]}", figures.engine_run),
        (f"ibhfn-run {names[1]}", figures.reference_run),
        ("ibhfn-verify --scenes", figures.verify),
    ):
        table.add_row(label, f"{run.seconds:.2f}", f"{run.peak_rss_mb:.0f}")
    table.caption = (
        f"verify / ibhfn-run {names[0]}: {figures.ratio:.2f} x (both runs, the floor: {figures.floor:.2f} x)"
    )
    console.print(table)
