"""`ibhfn-eval`: score a checkpoint (IB-HFN or DSen2-CR) on a SEN12MS-CR split; print the table, write JSON.

This module only parses arguments and reports; the work is `ibhfn.evaluate.evaluation.evaluate`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import torch
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ibhfn.atomic import atomic_path
from ibhfn.cli_errors import report_errors
from ibhfn.cli_version import VersionOption
from ibhfn.data import SEN12MSCR
from ibhfn.evaluate.evaluation import EvaluationReport, evaluate
from ibhfn.model import load_checkpoint, read_checkpoint

app = typer.Typer(add_completion=False, no_args_is_help=True)


def write_report(report: EvaluationReport, path: Path) -> Path:
    """Write the report's JSON atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path


@app.command()
@report_errors
def run(
    data: Annotated[Path, typer.Option(help="SEN12MS-CR root.")],
    checkpoint: Annotated[Path, typer.Option(help="An ibhfn or dsen2cr checkpoint (best.pt of ibhfn-train).")],
    split: Annotated[str, typer.Option(help="train, val, test or all.")] = "test",
    out: Annotated[Optional[Path], typer.Option(help="Write the results as JSON here.")] = None,
    samples: Annotated[Optional[int], typer.Option(help="Score only the first N samples.")] = None,
    batch_size: Annotated[int, typer.Option(help="Tiles per forward pass.")] = 4,
    cloud_mask: Annotated[str, typer.Option(help="Coverage from: threshold, s2cloudless or none.")] = "threshold",
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cuda" if torch.cuda.is_available() else "cpu",
    threads: Annotated[Optional[int], typer.Option(
        help="torch CPU threads (1 is fastest on a busy 2-core machine).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    version: VersionOption = False,
) -> None:
    """Print MAE, RMSE, PSNR, SSIM and SAM overall, per ROI-season and per cloud coverage, with the identity."""
    if threads is not None:
        torch.set_num_threads(threads)
    preprocessing = read_checkpoint(checkpoint)["preprocessing"]
    model = load_checkpoint(checkpoint)
    reader = SEN12MSCR(data, split, preprocessing=preprocessing, cloud_mask=cloud_mask)
    console = Console(stderr=True)
    bar = Progress(TextColumn("evaluate"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=True, disable=quiet)
    task = bar.add_task("evaluate", total=len(reader) if samples is None else min(samples, len(reader)))
    with bar:
        report = evaluate(model, reader, samples=samples, batch_size=batch_size, device=device,
                          preprocessing=preprocessing, progress=lambda done, _: bar.update(task, completed=done))
    report.source = {"data": str(data), "checkpoint": str(checkpoint)}
    typer.echo(report.table())
    if out is not None:
        typer.echo(f"wrote {write_report(report, out)}")


def main() -> None:
    """Entry point of `ibhfn-eval`."""
    app()


if __name__ == "__main__":
    main()
