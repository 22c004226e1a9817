"""`ibhfn-calibrate`: an FP32 ONNX to a calibrated, measured QDQ INT8 ONNX.

    ibhfn-calibrate --onnx model.onnx --data SEN12MSCR/ --out model.int8.onnx [--samples 512]
        [--method percentile|entropy|minmax] [--tile 256] [--seed 0] [--holdout 32]
        [--target-psnr 0.3 --target-sam 0.2] [--form tensorrt|cpu]

This module parses arguments, shows a progress bar over the calibration patches and prints a
summary table; the work is `ibhfn.calibration.calibrate.calibrate`. Exit 0 when the INT8 model
meets the targets and was written, 1 when it misses them (the report says which groups were
tried in float), 2 on bad input.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import onnxruntime
import typer
from rich.console import Console
from rich.table import Table

from ibhfn.calibration.accuracy import Targets
from ibhfn.calibration.calibrate import CalibrationResult, calibrate
from ibhfn.calibration.quantize import FORMS, METHODS
from ibhfn.cli_errors import one_line_warnings, report_errors
from ibhfn.cli_options import (
    Command,
    OneOf,
    QuietOption,
    SeedOption,
    VersionOption,
    choices_metavar,
    new_app,
    progress_bar,
)
from ibhfn.errors import InputError, VerificationFailed

app = new_app(help=__doc__.split("\n")[0])


def summary_table(result: CalibrationResult) -> Table:
    """INT8 against FP32 and ground truth, the targets, and the float nodes, as one table."""
    accuracy = result.accuracy.to_dict()
    versus, truth = accuracy["int8_vs_fp32"], accuracy["vs_truth"]
    extra = result.metadata.extra
    table = Table(
        title=f"INT8 calibration ({extra['calibration.method']}, {len(result.selection.patches)} patches, "
        f"{accuracy['samples']} held out)"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row("max |INT8 - FP32|", f"{versus['max_abs']:.4g}", "")
    table.add_row("mean |INT8 - FP32|", f"{versus['mean_abs']:.4g}", "")
    psnr = versus["psnr_db"]
    table.add_row("PSNR INT8 vs FP32 (dB)", f"{psnr:.2f}" if isinstance(psnr, float) else psnr, "")
    table.add_row("delta PSNR vs truth (dB)", f"{truth['delta_psnr_db']:+.3f}", f"<= {result.targets.delta_psnr:g}")
    table.add_row("delta SAM vs truth (deg)", f"{truth['delta_sam_deg']:+.3f}", f"<= {result.targets.delta_sam:g}")
    table.add_row("delta SSIM vs truth", f"{truth['delta_ssim']:+.4f}", "")
    table.add_row("delta MAE vs truth", f"{truth['delta_mae']:+.2e}", "")
    table.add_row("nodes kept in float", str(len(result.float_nodes)), "")
    if result.sensitivity is not None:
        ranking = ", ".join(g.group for g in result.sensitivity.ranking)
        table.add_row("most sensitive first", ranking, "")
        table.add_row("groups kept in float", ", ".join(result.sensitivity.excluded_groups) or "none", "")
    return table


def check_targets(target_psnr: float, target_sam: float) -> Targets:
    """The targets, refused now when NaN, zero or negative (no model meets them) rather than after the search."""
    for name, value in (("--target-psnr", target_psnr), ("--target-sam", target_sam)):
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"{name} must be a positive number; got {value}")
    return Targets(target_psnr, target_sam)


@app.command(cls=Command)
@report_errors
@one_line_warnings
def run(
    onnx: Annotated[Path, typer.Option("--onnx", help="FP32 ONNX from `ibhfn-export onnx`.")],
    data: Annotated[Path, typer.Option(help="SEN12MS-CR root (or a synthetic tree in its layout).")],
    out: Annotated[Path, typer.Option(help="INT8 ONNX to write; <out>.calibration.json, <out>.report.json beside.")],
    split: Annotated[str, typer.Option(help="Calibrate on train or val; test is refused.")] = "train",
    samples: Annotated[int, typer.Option(help="Calibration patches, stratified by ROI-season and cloud cover.")] = 512,
    method: Annotated[
        str,
        typer.Option(
            metavar=choices_metavar(tuple(METHODS)),
            callback=OneOf(tuple(METHODS), "calibration method"),
            help="How activation ranges are chosen (percentile: 99.999 %).",
        ),
    ] = "percentile",
    tile: Annotated[int, typer.Option(help="Tile side in pixels, cropped at the top-left of each patch.")] = 256,
    seed: SeedOption = 0,
    holdout: Annotated[int, typer.Option(help="Held-out val patches the INT8 model is measured on.")] = 32,
    target_psnr: Annotated[float, typer.Option(help="Most PSNR (dB) INT8 may lose against FP32 on truth.")] = 0.3,
    target_sam: Annotated[float, typer.Option(help="Most SAM (degrees) INT8 may add against FP32.")] = 0.2,
    form: Annotated[
        str,
        typer.Option(
            metavar=choices_metavar(tuple(FORMS)),
            callback=OneOf(tuple(FORMS), "INT8 form"),
            help="tensorrt: INT8 activations with zero point 0, as TensorRT builds them; cpu: UINT8 activations with "
            "zero points, which ONNX Runtime runs as integer convolutions on the CPU (not for TensorRT).",
        ),
    ] = "tensorrt",
    quiet: QuietOption = False,
    version: VersionOption = False,
) -> None:
    """Calibrate on stratified patches, quantize to QDQ INT8, measure on held-out patches."""
    onnxruntime.set_default_logger_severity(3)  # errors only: its graph warnings are nothing the user can act on
    targets = check_targets(target_psnr, target_sam)
    bar = progress_bar("calibrate", quiet=quiet)
    task = bar.add_task("calibrate", total=None)

    def progress(done: int, total: int) -> None:
        """Show the bar from the first patch on, so an error in the checks before it stays one line."""
        bar.start()
        bar.update(task, completed=done, total=total)

    try:
        result = calibrate(
            onnx,
            data,
            out,
            split=split,
            samples=samples,
            method=method,
            tile=tile,
            seed=seed,
            holdout=holdout,
            targets=targets,
            progress=progress,
            form=form,
        )
    finally:
        if bar.live.is_started:
            bar.stop()
    Console().print(summary_table(result))
    if not result.target_met:
        tried = ", ".join(result.sensitivity.excluded_groups) if result.sensitivity else "none"
        raise VerificationFailed(
            f"{out}: INT8 misses the targets (delta PSNR {result.accuracy.delta_psnr:.3f} dB, delta SAM "
            f"{result.accuracy.delta_sam:.3f} deg) even with {tried} in float; model not written, "
            f"see {result.report_path}"
        )
    typer.echo(
        f"wrote {result.path}, {result.selection_path.name} and {result.report_path.name} in {result.seconds:.1f} s"
    )


def main() -> None:
    """Entry point of `ibhfn-calibrate`."""
    app()


if __name__ == "__main__":
    main()
