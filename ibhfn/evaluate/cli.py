"""`ibhfn-eval`: score a checkpoint (IB-HFN or DSen2-CR) on a SEN12MS-CR split; print the table, write JSON.

This module only parses arguments and reports; the work is `ibhfn.evaluate.evaluation.evaluate`.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated, Optional

import torch
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ibhfn.atomic import atomic_path, refuse_overwriting
from ibhfn.cli_errors import check_threads, one_line_warnings, report_errors
from ibhfn.cli_version import VersionOption
from ibhfn.data import SEN12MSCR
from ibhfn.evaluate.evaluation import evaluate
from ibhfn.model import load_checkpoint, read_checkpoint
from ibhfn.torch_device import torch_device

app = typer.Typer(add_completion=False, no_args_is_help=True)


@app.command()
@report_errors
@one_line_warnings
def run(
    data: Annotated[Path, typer.Option(help="SEN12MS-CR root.")],
    checkpoint: Annotated[Path, typer.Option(help="An ibhfn or dsen2cr checkpoint (best.pt of ibhfn-train).")],
    split: Annotated[str, typer.Option(help="train, val, test or all.")] = "test",
    out: Annotated[Optional[Path], typer.Option(help="Write the results as JSON here.")] = None,
    samples: Annotated[Optional[int], typer.Option(help="Score only the first N samples.")] = None,
    batch_size: Annotated[int, typer.Option(help="Tiles per forward pass.")] = 4,
    cloud_mask: Annotated[str, typer.Option(help="Coverage from: threshold, s2cloudless or none.")] = "threshold",
    s1: Annotated[str, typer.Option(
        help="files, or constant: no S1 needed, every pixel VV -12 dB, VH -19 dB (real pairs without S1).")] = "files",
    input: Annotated[str, typer.Option(
        "--input", help="cloudy, or clear: the clear image is the input (pass-through check).")] = "cloudy",
    scene: Annotated[Optional[list[str]], typer.Option(
        help="Score only this scene, e.g. ROIs1158_spring/106 (repeatable).")] = None,
    device: Annotated[str, typer.Option(help="auto (CUDA when torch has it), cpu, cuda or cuda:N.")] = "auto",
    threads: Annotated[Optional[int], typer.Option(
        help="torch CPU threads (1 is fastest on a busy 2-core machine).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    version: VersionOption = False,
) -> None:
    """Print MAE, RMSE, PSNR, SSIM and SAM overall, per ROI-season and per cloud coverage, with the identity."""
    device = str(torch_device(device))
    check_threads(threads)
    if out is not None:
        refuse_overwriting(out, checkpoint, data)
    if threads is not None:
        torch.set_num_threads(threads)
    preprocessing = read_checkpoint(checkpoint)["preprocessing"]
    model = load_checkpoint(checkpoint)
    reader = SEN12MSCR(data, split, preprocessing=preprocessing, cloud_mask=cloud_mask, s1=s1,
                       optical=input, scenes=scene)
    console = Console(stderr=True)
    bar = Progress(TextColumn("evaluate"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=True, disable=quiet)
    task = bar.add_task("evaluate", total=len(reader) if samples is None else min(samples, len(reader)))
    # The JSON's temporary file is made first, so an --out that cannot be written stops before the work.
    with atomic_path(out) if out is not None else contextlib.nullcontext() as tmp:
        with bar:
            report = evaluate(model, reader, samples=samples, batch_size=batch_size, device=device,
                              preprocessing=preprocessing, progress=lambda done, _: bar.update(task, completed=done))
        report.source = {"data": str(data), "checkpoint": str(checkpoint), "s1": s1, "input": input}
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
