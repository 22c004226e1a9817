"""`ibhfn-verify --scenes` against `ibhfn-run` on the same scene: wall times and their ratio.

Each command runs in a fresh process: `ibhfn-run` with the engine, `ibhfn-run` with the reference
(together the floor of a verification, which runs both), then `ibhfn-verify --scenes` of the
engine against the reference. The target is a verification within 2.5 x the engine's run. A
shared machine's speed drifts, so the three run in turn for ROUNDS rounds and the round with the
median ratio is the one reported.
"""

from __future__ import annotations

import resource
import shutil
from dataclasses import dataclass
from pathlib import Path

from child_peak import run_child
from rich.console import Console
from rich.table import Table

ROUNDS = 3  # engine run, reference run, verification, in turn


@dataclass(frozen=True)
class Command:
    """What one command cost: wall time, CPU time (user and system, all its threads), its peak RSS."""

    seconds: float
    cpu_seconds: float
    peak_rss_mb: float


def timed_child(module: str, *args: str) -> Command:
    """`child_peak.run_child`, with the CPU time the child used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = run_child(module, *args)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Command(run.seconds, cpu, run.peak_rss_mb)


@dataclass(frozen=True)
class VerifyFigures:
    """The three runs over one scene folder."""

    engine_run: Command
    reference_run: Command
    verify: Command

    @property
    def ratio(self) -> float:
        """Verification time over the engine's ibhfn-run time."""
        return self.verify.seconds / self.engine_run.seconds

    @property
    def cpu_ratio(self) -> float:
        """The same in CPU time, which other jobs on the machine disturb less."""
        return self.verify.cpu_seconds / self.engine_run.cpu_seconds

    @property
    def floor(self) -> float:
        """Both runs over the engine's run: what a verification costs at the least."""
        return (self.engine_run.seconds + self.reference_run.seconds) / self.engine_run.seconds


@dataclass(frozen=True)
class VerifyRounds:
    """Every round's figures; the round with the median ratio stands for them."""

    rounds: tuple[VerifyFigures, ...]

    @property
    def median(self) -> VerifyFigures:
        """The round whose ratio is the median (the lower middle one of an even count)."""
        ranked = sorted(self.rounds, key=lambda figures: figures.ratio)
        return ranked[(len(ranked) - 1) // 2]


def measure_verify(engine: Path, reference: Path, scene_dir: Path, work: Path, rounds: int = ROUNDS) -> VerifyRounds:
    """`rounds` rounds of `measure_round`."""
    return VerifyRounds(tuple(measure_round(engine, reference, scene_dir, work) for _ in range(rounds)))


def measure_round(engine: Path, reference: Path, scene_dir: Path, work: Path) -> VerifyFigures:
    """The engine's and the reference's ibhfn-run, then ibhfn-verify --scenes, each in a fresh process."""
    runs = []
    for name, model in (("engine", engine), ("reference", reference)):
        out = work / f"verify-bench-{name}"
        runs.append(timed_child("ibhfn.runtime.cli", "--engine", str(model), "-q", str(scene_dir), str(out)))
        shutil.rmtree(out)
    verify = timed_child(
        "ibhfn.verify.cli",
        "--engine",
        str(engine),
        "--reference",
        str(reference),
        "--scenes",
        str(scene_dir),
        "--quiet",
    )
    engine_run, reference_run = runs
    return VerifyFigures(engine_run, reference_run, verify)


def print_verify(console: Console, names: tuple[str, str], measured: VerifyRounds) -> None:
    """The table of the three runs of the median round, and the ratio of each round."""
    figures = measured.median
    table = Table(title=f"ibhfn-verify --scenes {names[0]} against {names[1]} (the scene above, fresh processes)")
    for column in ("command", "s", "CPU s", "peak RSS (MB)"):
        table.add_column(column, justify="left" if column == "command" else "right")
    for label, run in (
        (f"ibhfn-run {names[0]}", figures.engine_run),
        (f"ibhfn-run {names[1]}", figures.reference_run),
        ("ibhfn-verify --scenes", figures.verify),
    ):
        table.add_row(label, f"{run.seconds:.2f}", f"{run.cpu_seconds:.2f}", f"{run.peak_rss_mb:.0f}")
    rounds = measured.rounds
    table.caption = (
        f"verify / ibhfn-run {names[0]}: {figures.ratio:.2f} x (both runs, the floor: {figures.floor:.2f} x; "
        f"in CPU time {figures.cpu_ratio:.2f} x); the median of {len(rounds)} rounds in turn: "
        f"ratios {', '.join(f'{r.ratio:.2f}' for r in rounds)}; floors {', '.join(f'{r.floor:.2f}' for r in rounds)}; "
        f"CPU-time ratios {', '.join(f'{r.cpu_ratio:.2f}' for r in rounds)}"
    )
    console.print(table)
