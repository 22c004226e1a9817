"""`ibhfn-eval`: score a checkpoint (IB-HFN or DSen2-CR) or an engine on a SEN12MS-CR split; print the table.

This module only parses arguments and reports; the work is `ibhfn.evaluate.evaluation.evaluate_checkpoint`.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated, Optional

import torch
import typer

from ibhfn.atomic import atomic_path, refuse_overwriting
from ibhfn.cli_errors import one_line_warnings, report_errors
from ibhfn.cli_options import (
    Command,
    OneOf,
    QuietOption,
    ThreadsOption,
    TorchDeviceOption,
    choices_metavar,
    new_app,
    progress_bar,
)
from ibhfn.cli_version import VersionOption
from ibhfn.data.cloud_mask import CLOUD_MASKS
from ibhfn.data.sen12mscr import OPTICAL_INPUTS, S1_SOURCES
from ibhfn.data.splits import SPLITS
from ibhfn.evaluate.evaluation import evaluate_checkpoint
from ibhfn.torch_device import torch_device

app = new_app()
EVAL_SPLITS = (*SPLITS, "all")


@app.command(cls=Command)
@report_errors
@one_line_warnings
def run(
    data: Annotated[Path, typer.Option(help="SEN12MS-CR root.")],
    checkpoint: Annotated[
        Path,
        typer.Option(
            "--checkpoint",
            "--engine",
            help="An ibhfn or dsen2cr checkpoint (best.pt of ibhfn-train), or an engine "
            "(.onnx of ibhfn-export or ibhfn-calibrate, .plan), scored alike.",
        ),
    ],
    split: Annotated[
        str,
        typer.Option(
            metavar=choices_metavar(EVAL_SPLITS),
            callback=OneOf(EVAL_SPLITS, "split"),
            help="Split to score (all: every split).",
        ),
    ] = "test",
    out: Annotated[Optional[Path], typer.Option(help="Write the results as JSON here.")] = None,
    samples: Annotated[Optional[int], typer.Option(help="Score only the first N samples.")] = None,
    batch_size: Annotated[int, typer.Option(help="Tiles per forward pass.")] = 4,
    cloud_mask: Annotated[
        str,
        typer.Option(
            metavar=choices_metavar(CLOUD_MASKS),
            callback=OneOf(CLOUD_MASKS, "cloud mask"),
            help="Where the cloud coverage of each image comes from.",
        ),
    ] = "threshold",
    s1: Annotated[
        str,
        typer.Option(
            metavar=choices_metavar(S1_SOURCES),
            callback=OneOf(S1_SOURCES, "S1 source"),
            help="files, or constant: no S1 needed, every pixel VV -12 dB, VH -19 dB (real pairs without S1).",
        ),
    ] = "files",
    input: Annotated[
        str,
        typer.Option(
            "--input",
            metavar=choices_metavar(OPTICAL_INPUTS),
            callback=OneOf(OPTICAL_INPUTS, "optical input"),
            help="cloudy, or clear: the clear image is the input (pass-through check).",
        ),
    ] = "cloudy",
    scene: Annotated[
        Optional[list[str]], typer.Option(help="Score only this scene, e.g. ROIs1158_spring/106 (repeatable).")
    ] = None,
    device: TorchDeviceOption = "auto",
    threads: ThreadsOption = None,
    quiet: QuietOption = False,
    version: VersionOption = False,
) -> None:
    """Print MAE, RMSE, PSNR, SSIM and SAM overall, per ROI-season and per cloud coverage, with the identity."""
    device = str(torch_device(device))
    if out is not None:
        refuse_overwriting(out, checkpoint, data)
    if threads is not None:
        torch.set_num_threads(threads)
    bar = progress_bar("evaluate", quiet=quiet)
    task = bar.add_task("evaluate", total=None)
    # The JSON's temporary file is made first, so an --out that cannot be written stops before the work.
    with atomic_path(out) if out is not None else contextlib.nullcontext() as tmp:
        with bar:
            report = evaluate_checkpoint(
                checkpoint,
                data,
                split,
                samples=samples,
                batch_size=batch_size,
                cloud_mask=cloud_mask,
                s1=s1,
                optical=input,
                scenes=scene,
                device=device,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        typer.echo(report.table())
        if tmp is not None:
            tmp.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    if out is not None:
        typer.echo(f"wrote {out}")


def main() -> None:
    """Entry point of `ibhfn-eval`."""
    app()


if __name__ == "__main__":
    main()
