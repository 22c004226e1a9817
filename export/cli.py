"""`ibhfn-export`: write the deploy ONNX (FP32 / FP16) and build TensorRT plans from it.

    ibhfn-export onnx --checkpoint run/best.pt --out model.onnx [--precision fp16] [--static-shape 1x256x256]
    ibhfn-export trt --onnx model_fp16.onnx --precision fp16 --out model.plan --tile 256 --batch 1:4:8

This module parses arguments and prints a short report in the Polygraphy manner; the work is
`export_onnx` and `build_engine`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ibhfn.cli_errors import report_errors
from ibhfn.cli_options import Command, VersionOption, choices_metavar, new_app
from ibhfn.console_scripts import Tool, import_tool_module
from ibhfn.engine_metadata import PRECISIONS
from ibhfn.errors import ShapeError
from ibhfn.export.onnx_opset import DEFAULT_OPSET, MIN_OPSET
from ibhfn.export.trt_profiles import DEFAULT_TILE, parse_batch

EXPORTER = Tool("ibhfn.export.onnx_export", "export", ("torch", "onnx", "onnxscript"))

if TYPE_CHECKING:  # the exporter imports torch; `trt --onnx` must run where torch is absent (a Jetson)
    from ibhfn.export.onnx_export import ExportReport

app = new_app(help=__doc__.split("\n")[0])
ONNX_PRECISIONS = tuple(p for p in PRECISIONS if p != "int8")  # the INT8 ONNX is ibhfn-calibrate's


def parse_static_shape(text: str | None) -> tuple[int, int, int] | None:
    """Read `--static-shape NxHxW`."""
    if text is None:
        return None
    try:
        batch, height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ShapeError(f"static shape {text!r} is not of the form NxHxW, for example 1x256x256") from None
    return batch, height, width


def export_lines(report: ExportReport) -> list[str]:
    """The export report as a few `[I]` lines."""
    meta = report.metadata
    shape = "x".join(map(str, report.static_shape)) if report.static_shape else "dynamic N x H x W"
    lines = [
        f"[I] {report.source} -> {report.path} ({meta.arch} {meta.preset}, {meta.precision}, opset {report.opset}, "
        f"{shape}, H and W multiples of {meta.size_multiple})",
        f"[I] onnx.checker (full) and shape inference: PASSED; onnxslim: {report.nodes_exported} -> "
        f"{report.nodes_simplified} nodes",
        f"[I] Parity vs PyTorch (max abs <= {report.parity_tolerance:g}):",
    ]
    lines += [
        f"        {c.batch} x {c.height} x {c.width}: max {c.max_abs:.3g}, mean {c.mean_abs:.3g}" for c in report.parity
    ]
    if report.float16 is not None:
        f16 = report.float16
        top = f16.largest_activation
        lines += [
            f"[I] FP16 vs FP32 (max abs <= {f16.tolerance:g}): max {f16.max_abs:.3g}, mean {f16.mean_abs:.3g}, "
            f"PSNR {f16.psnr_db:.1f} dB, inf/NaN {f16.nonfinite}; {len(meta.float32_nodes)} nodes kept FP32",
            f"[I] Largest FP32 activation: {top.node} ({top.op_type}) {top.max_abs:.3g}, "
            f"{top.fp16_headroom:.3g}x below the float16 limit",
        ]
    lines.append(f"[I] PASSED | wrote {report.path} and {report.sidecar.name} in {report.seconds:.1f} s")
    return lines


@app.callback()
def options(version: VersionOption = False) -> None:
    """Options that come before the command."""


@app.command("onnx", cls=Command)
@report_errors
def onnx_command(
    out: Annotated[Path, typer.Option("--out", help="ONNX file to write (its report goes to <out>.json)")],
    checkpoint: Annotated[
        Optional[Path], typer.Option("--checkpoint", help="checkpoint to export (default: the bundled model)")
    ] = None,
    opset: Annotated[
        int, typer.Option(help=f"ONNX opset, {MIN_OPSET} or later (up to what the installed onnx knows)")
    ] = DEFAULT_OPSET,
    static_shape: Annotated[
        Optional[str], typer.Option("--static-shape", help="fix N, H and W, as NxHxW (default: all dynamic)")
    ] = None,
    precision: Annotated[
        str, typer.Option(metavar=choices_metavar(ONNX_PRECISIONS), help="fp32, or fp16 with FP32 islands")
    ] = "fp32",
    with_gate: Annotated[bool, typer.Option("--with-gate", help="also output the clear-sky gate G")] = False,
    arch: Annotated[
        Optional[str], typer.Option(help="refuse a checkpoint that holds another architecture (ibhfn, dsen2cr)")
    ] = None,
) -> None:
    """Fold the network into its deploy form and write a checked ONNX with metadata and a report."""
    onnx_export = import_tool_module("ibhfn-export onnx", EXPORTER)
    report = onnx_export.export_onnx(
        checkpoint,
        out,
        opset=opset,
        static_shape=parse_static_shape(static_shape),
        precision=precision,
        with_gate=with_gate,
        arch=arch,
    )
    typer.echo("\n".join(export_lines(report)))


@app.command("trt", cls=Command)
@report_errors
def trt_command(
    out: Annotated[Path, typer.Option("--out", help="plan file to write (its sidecar goes to <out>.json)")],
    precision: Annotated[
        str, typer.Option(metavar=choices_metavar(PRECISIONS), help="int8 needs the QDQ ONNX from ibhfn-calibrate")
    ],
    onnx_path: Annotated[
        Optional[Path], typer.Option("--onnx", help="ONNX to build (default: export the bundled model first)")
    ] = None,
    tile: Annotated[int, typer.Option(help="square tile size in pixels")] = DEFAULT_TILE,
    batch: Annotated[str, typer.Option(metavar="MIN:OPT:MAX", help="batch sizes min:opt:max")] = "1:4:8",
    workspace_gb: Annotated[Optional[float], typer.Option("--workspace-gb", help="builder workspace limit")] = None,
    timing_cache: Annotated[
        Optional[Path], typer.Option("--timing-cache", help="timing cache file, read if present and updated")
    ] = None,
    hardware_compat: Annotated[
        bool, typer.Option("--hardware-compat", help="run on any Ampere or newer GPU (not on Jetson)")
    ] = False,
    version_compatible: Annotated[
        bool, typer.Option("--version-compatible", help="run on later TensorRT releases too")
    ] = False,
) -> None:
    """Build a TensorRT plan (and its sidecar) from an exported ONNX."""
    from ibhfn.export.trt_build import build_engine, check_build_request

    batch_range = parse_batch(batch)
    plan = build_engine(
        onnx_path,
        out,
        precision=precision,
        tile=tile,
        batch=batch_range,
        workspace_gb=workspace_gb,
        timing_cache=timing_cache,
        hardware_compat=hardware_compat,
        version_compatible=version_compatible,
        on_export=lambda report: typer.echo("\n".join(export_lines(report))),
    )
    onnx_path = onnx_path or out.with_suffix(".onnx")
    request = check_build_request(onnx_path, precision=precision, tile=tile, batch=batch_range)
    optical = next(p for p in request.profiles if p.name == "optical")
    typer.echo(
        f"[I] {onnx_path} -> {plan} ({request.precision}, tile {tile}, batch {':'.join(map(str, batch_range))}, "
        f"optical {optical.min} .. {optical.max})"
    )
    typer.echo(f"[I] PASSED | wrote {plan} and {plan.name}.json")


def main() -> None:
    """Console entry point of `ibhfn-export`."""
    app()
