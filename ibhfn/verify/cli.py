"""`ibhfn-verify`: does an engine still match its full-precision reference? Exit 0 pass, 1 fail, 2 error.

This module only parses arguments and reports; the work is `ibhfn.verify.runner`. Progress bars
go to stderr, the summary (in the manner of Polygraphy's accuracy comparison) to stdout.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import TaskID

from ibhfn.cli_errors import one_line_warnings, report_errors
from ibhfn.cli_options import (
    AtLeast,
    Command,
    EngineDeviceOption,
    OneOf,
    OverlapOption,
    QuietOption,
    S2OffsetOption,
    SceneTileOption,
    ThreadsOption,
    choices_metavar,
    new_app,
    progress_bar,
)
from ibhfn.cli_version import VersionOption
from ibhfn.engine_metadata import PRECISIONS
from ibhfn.errors import InputError, VerificationFailed
from ibhfn.runtime.run_options import RunOptions
from ibhfn.verify.engine_pair import open_engine_pair
from ibhfn.verify.report import write_report
from ibhfn.verify.report_figures import require_matplotlib
from ibhfn.verify.runner import DEFAULT_BATCH, WORST_COUNT, Verification, verify_dataset, verify_scenes
from ibhfn.verify.scenes import DEFAULT_WINDOW
from ibhfn.verify.thresholds import CHECK_LABELS, Thresholds, thresholds_for

app = new_app()


def parse_thresholds(precision: str, specs: list[str]) -> Thresholds:
    """The precision's default limits with `NAME=VALUE` overrides (VALUE 'none' switches a check off)."""
    overrides: dict[str, float | bool | None] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep:
            raise InputError(f"--threshold {spec!r} is not NAME=VALUE, for example max_abs=1e-3")
        name, value = name.strip(), value.strip().lower()
        if name in ("allow_non_finite", "strict_bands"):
            if value not in ("true", "false"):
                raise InputError(f"--threshold {name} takes true or false, not {value!r}")
            overrides[name] = value == "true"
            continue
        try:
            number = None if value == "none" else float(value)
        except ValueError:
            raise InputError(f"--threshold {name} takes a number or none, not {value!r}") from None
        if number is not None and not (math.isfinite(number) and number >= 0):
            raise InputError(f"--threshold {name} takes a finite number of at least 0 or none, not {value!r}")
        overrides[name] = number
    return thresholds_for(precision, **overrides)


class RichProgress:
    """One bar per stage (samples, or a scene run by one network) on stderr."""

    def __init__(self, console: Console, show: bool) -> None:
        self.bars = progress_bar(console=console, quiet=not show)
        self._task: TaskID | None = None

    def start(self, description: str, total: int) -> None:
        if self._task is not None:
            self.bars.remove_task(self._task)
        self._task = self.bars.add_task(description, total=total)

    def advance(self, count: int = 1) -> None:
        if self._task is not None:
            self.bars.advance(self._task, count)


def summary_lines(result: Verification, report: Path | None) -> list[str]:
    """The end-of-run summary: what was compared, the error metrics, each check, the verdict."""
    summary, verdict, meta = result.summary, result.verdict, result.meta
    engine, reference, data = meta["engine"], meta["reference"], meta["data"]
    d, overall = summary.overall.difference, summary.overall
    if data["mode"] == "samples":
        what = f"{summary.n_samples} samples of {data['split']} ({data['available']} available) in {data['root']}"
    else:
        what = f"{len(data['scenes'])} scenes ({summary.n_samples} windows) in {data['folder']}, tiled"
    lines = [
        f"[I] Accuracy Comparison | {Path(engine['path']).name} [{engine['backend']}, {engine['precision']}]"
        f" vs. {Path(reference['path']).name} [{reference['backend']}, {reference['precision']}]",
        f"[I]     Data: {what}",
        "[I]     Error Metrics: |engine - reference| (reflectance)",
        f"[I]         max abs={_g(d.max_abs)}, mean abs={_g(d.mean_abs)}, RMS={_g(d.rms)}, rel L2={_g(d.rel_l2)},"
        f" p99={_g(d.p99)}, p99.9={_g(d.p99_9)}",
        f"[I]         PSNR={_g(d.psnr)} dB, SSIM={_g(d.ssim)}, SAM={_g(overall.sam)} deg, inf/NaN={d.non_finite}",
    ]
    if overall.quality is not None:
        q = overall.quality
        lines.append(
            f"[I]     Against ground truth: PSNR engine {_g(q.engine.psnr)} dB, reference {_g(q.reference.psnr)} dB;"
            f" delta PSNR={_g(q.delta_psnr)} dB, SSIM={_g(q.delta_ssim)}, SAM={_g(q.delta_sam)} deg,"
            f" MAE={_g(q.delta_mae)} (engine worse > 0)"
        )
    worst = ", ".join(f"{s.sample_id} (RMS {_g(s.comparison.difference.rms)})" for s in summary.worst[:3])
    lines.append(f"[I]     Worst samples: {worst}")
    for check in verdict.checks:
        tag, word = ("[I]", "PASSED") if check.passed else ("[E]", "FAILED")
        relation = check.op if check.passed else f"not {check.op}"
        label = CHECK_LABELS[check.name]
        lines.append(f"{tag}         {word} | {label}: {_g(check.value)} {relation} {_g(check.limit)}")
    lines += [f"[W]     Not checked: {reason}" for reason in verdict.skipped]
    if verdict.failing_bands:
        tag = "[W]" if verdict.passed else "[E]"
        lines.append(f"{tag}     Bands beyond a limit: {', '.join(verdict.failing_bands)}")
    if report is not None:
        lines.append(f"[I]     Report: {report}")
    lines.append(f"[I] PASSED | {verdict.message}" if verdict.passed else f"[E] FAILED | {verdict.message}")
    return lines


def _g(value: float) -> str:
    """A number in four significant digits, inf / nan spelled out."""
    return f"{value:.4g}" if math.isfinite(value) else str(value)


@app.command(cls=Command)
@report_errors
@one_line_warnings
def verify(
    engine: Annotated[
        Path,
        typer.Option(
            "--engine", "-e", help="Engine under test: .onnx (FP32, FP16 or INT8 QDQ) or .plan/.engine (TensorRT)."
        ),
    ],
    reference: Annotated[
        Path,
        typer.Option(
            "--reference", "-r", help="Reference: the FP32 .onnx, or the PyTorch checkpoint (.pt, needs torch)."
        ),
    ],
    data: Annotated[Optional[Path], typer.Option(help="SEN12MS-CR root (sample mode).")] = None,
    split: Annotated[str, typer.Option(help="Split of --data to verify on.")] = "val",
    samples: Annotated[
        Optional[int], typer.Option(help="Patches to use, spread evenly over the split (default all).")
    ] = None,
    scenes: Annotated[
        Optional[Path],
        typer.Option(help="Folder of <name>_s1.tif + <name>_s2.tif scenes (scene mode, through the tiled runtime)."),
    ] = None,
    precision: Annotated[
        Optional[str],
        typer.Option(
            metavar=choices_metavar(PRECISIONS),
            callback=OneOf(PRECISIONS, "precision"),
            help="Thresholds of this precision (default: the engine's precision).",
        ),
    ] = None,
    threshold: Annotated[
        Optional[list[str]],
        typer.Option(
            help="Override a limit, NAME=VALUE (none switches it off): max_abs, min_psnr, max_delta_psnr, "
            "max_delta_sam, allow_non_finite, strict_bands. Repeatable."
        ),
    ] = None,
    report: Annotated[Optional[Path], typer.Option(help="Folder for verify_report.json and .html.")] = None,
    batch: Annotated[int, typer.Option(help="Samples (or tiles) per engine call.")] = DEFAULT_BATCH,
    tile: SceneTileOption = RunOptions.tile_size,
    overlap: OverlapOption = RunOptions.overlap,
    window: Annotated[int, typer.Option(help="Scene mode: px on a side of each compared window.")] = DEFAULT_WINDOW,
    s2_offset: S2OffsetOption = RunOptions.s2_offset,
    worst: Annotated[int, typer.Option(callback=AtLeast(0), help="Worst samples to list.")] = WORST_COUNT,
    device: EngineDeviceOption = "auto",
    threads: ThreadsOption = None,
    quiet: QuietOption = False,
    version: VersionOption = False,
) -> None:
    """Compare an engine's outputs with its reference's on the same inputs; pass or fail by thresholds.

    --tile, --overlap, --window and --s2-offset apply to scene mode (--scenes); --quiet prints only the verdict.
    """
    if (data is None) == (scenes is None):
        raise InputError("give either --data ROOT (sample mode) or --scenes IN (scene mode)")
    if scenes is not None and samples is not None:
        raise InputError("--samples applies to --data; scene mode compares every scene in --scenes")
    if window < 1:
        raise InputError(f"--window must be at least 1, got {window}")
    if report is not None:
        require_matplotlib()  # before the comparison, not after it
    console = Console(stderr=True)
    if engine.resolve() == reference.resolve():
        console.print(
            f"warning: {engine} is both the engine and the reference: the comparison cannot fail",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    with open_engine_pair(engine, reference, device=device, threads=threads) as pair:
        limits = parse_thresholds(precision or pair.engine.metadata.precision, threshold or [])
        progress = RichProgress(console, show=not quiet and console.is_terminal)
        with progress.bars:
            if data is not None:
                result = verify_dataset(
                    pair,
                    data,
                    split=split,
                    count=samples,
                    thresholds=limits,
                    batch_size=batch,
                    worst_count=worst,
                    progress=progress,
                )
            elif scenes is not None:  # one of the two, checked above
                options = RunOptions(tile_size=tile, overlap=overlap, batch_size=batch, s2_offset=s2_offset)
                result = verify_scenes(
                    pair,
                    scenes,
                    thresholds=limits,
                    options=options,
                    window=window,
                    worst_count=worst,
                    progress=progress,
                )
    paths = None if report is None else write_report(result.summary, result.verdict, report, meta=result.meta)
    lines = summary_lines(result, None if paths is None else paths.html)
    typer.echo("\n".join(lines[-1:] if quiet else lines))
    if not result.verdict.passed:
        raise VerificationFailed(f"{engine}: {result.verdict.message}")


def main() -> None:
    """Entry point of the `ibhfn-verify` console script."""
    app()


if __name__ == "__main__":
    main()
