"""`ibhfn-train`: train IB-HFN (or the DSen2-CR baseline) on SEN12MS-CR or a synthetic tree.

This module only parses arguments and shows progress; the work is `ibhfn.train.loop.train`.
Under torchrun every process runs this; only rank 0 prints and writes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional

import torch
import typer
from rich.console import Console

from ibhfn.cli_errors import one_line_warnings, report_errors
from ibhfn.cli_options import (
    Command,
    OneOf,
    QuietOption,
    SeedOption,
    ThreadsOption,
    TorchDeviceOption,
    VersionOption,
    choices_metavar,
    new_app,
    progress_bar,
)
from ibhfn.losses import LossSchedule
from ibhfn.model import ARCHITECTURES
from ibhfn.train.config import TrainConfig
from ibhfn.train.loop import TrainResult, train

app = new_app()


class RichTrainProgress:
    """A step bar with the latest loss on stderr; one line per epoch with the validation numbers."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar = progress_bar(console=console, remaining=True)
        self.task: Any = None

    def __call__(self, record: dict[str, Any]) -> None:
        event = record["event"]
        if event == "start":
            self.task = self.bar.add_task("train", total=record["total_steps"], completed=record["step"])
        elif event == "step" and self.task is not None:
            self.bar.update(
                self.task, completed=record["step"], description=f"epoch {record['epoch']} loss {record['loss']:.4f}"
            )
        elif event == "epoch":
            self.console.print(
                f"epoch {record['epoch']} step {record['step']}: val_loss {record['val_loss']:.4f} "
                f"MAE {record['val_mae']:.4f} PSNR {record['val_psnr']:.2f} SSIM {record['val_ssim']:.4f} "
                f"SAM {record['val_sam']:.2f}",
                highlight=False,
            )


def summary_line(result: TrainResult) -> str:
    """One line: steps, best epoch, speed, where the checkpoints are."""
    return (
        f"{result.steps}/{result.total_steps} steps, {result.epochs} epochs in {result.seconds:.1f} s "
        f"({result.seconds_per_step:.2f} s/step); best val_loss {result.best_val_loss:.4f} at epoch "
        f"{result.best_epoch}; checkpoints in {result.out}"
    )


@app.command(cls=Command)
@report_errors
@one_line_warnings
def run(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (checkpoints, log.jsonl, config.json).")],
    data: Annotated[Optional[Path], typer.Option(help="SEN12MS-CR root (train and val splits are used).")] = None,
    synthetic: Annotated[
        bool, typer.Option("--synthetic", help="Without --data: generate a synthetic SEN12MS-CR tree in OUT/synthetic.")
    ] = False,
    synthetic_patches: Annotated[
        int, typer.Option(help="Patches per scene of the synthetic tree.")
    ] = TrainConfig.synthetic_patches,
    arch: Annotated[
        str,
        typer.Option(
            metavar=choices_metavar(ARCHITECTURES),
            callback=OneOf(ARCHITECTURES, "architecture"),
            help="Network: IB-HFN, or the DSen2-CR baseline.",
        ),
    ] = TrainConfig.arch,
    preset: Annotated[
        Optional[str], typer.Option(help="Network preset (default: edge for ibhfn, small for dsen2cr).")
    ] = None,
    epochs: Annotated[int, typer.Option(help="Epochs over the train split.")] = 10,
    max_steps: Annotated[Optional[int], typer.Option(help="Stop after this many optimiser steps.")] = None,
    batch_size: Annotated[int, typer.Option(help="Samples per step and process.")] = 8,
    lr: Annotated[float, typer.Option(help="Peak learning rate of AdamW.")] = 1e-3,
    weight_decay: Annotated[float, typer.Option(help="AdamW weight decay.")] = 1e-4,
    warmup_steps: Annotated[int, typer.Option(help="Linear learning-rate warm-up steps.")] = 100,
    grad_clip: Annotated[float, typer.Option(help="Max gradient norm (0: off).")] = 1.0,
    crop: Annotated[int, typer.Option(help="Random training crop in px (0: whole tiles).")] = 128,
    clear_input: Annotated[
        float,
        typer.Option(
            help="Share of training samples given their clear image as input, to learn to pass clear sky through."
        ),
    ] = 0.0,
    real_pairs: Annotated[
        Optional[Path], typer.Option(help="Also train on real cloudy / clear pairs in this SEN12MS-CR-layout folder.")
    ] = None,
    real_scene: Annotated[
        Optional[list[str]],
        typer.Option(
            help="A scene of --real-pairs to train on, e.g. ROIs1970_fall/136 (repeatable; the rest stay unseen)."
        ),
    ] = None,
    real_s1: Annotated[
        str, typer.Option(help="S1 of the real pairs: constant (VV -12 dB, VH -19 dB, for pairs without S1) or files.")
    ] = "constant",
    real_repeat: Annotated[int, typer.Option(help="Times each real pair is seen per epoch.")] = 1,
    real_clear: Annotated[
        Optional[Path],
        typer.Option(
            help="Also train on the real cloud-free patches of this folder as pass-through samples (input = target)."
        ),
    ] = None,
    real_clear_repeat: Annotated[int, typer.Option(help="Times each real clear patch is seen per epoch.")] = 1,
    s1_dropout: Annotated[
        float,
        typer.Option(
            help="Share of training samples given the constant S1 of pairs without SAR, to restore from optics alone."
        ),
    ] = TrainConfig.s1_dropout,
    sar_skips: Annotated[
        bool,
        typer.Option(
            "--sar-skips", help="IB-HFN: every SAR level reaches the decoder through a bottleneck of its own."
        ),
    ] = False,
    workers: Annotated[int, typer.Option(help="Data-loading worker processes.")] = 0,
    seed: SeedOption = TrainConfig.seed,
    val_samples: Annotated[
        Optional[int], typer.Option(help="Validate on N val samples spread evenly over the split.")
    ] = None,
    l1_warmup_steps: Annotated[int, typer.Option(help="Loss schedule: steps of L1 alone.")] = 100,
    ramp_steps: Annotated[int, typer.Option(help="Loss schedule: steps over which SSIM/SAM/contrastive rise.")] = 200,
    kl_warmup_steps: Annotated[int, typer.Option(help="Loss schedule: KL annealing steps.")] = 500,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in OUT exactly where it stopped.")] = False,
    device: TorchDeviceOption = TrainConfig.device,
    threads: ThreadsOption = None,
    quiet: QuietOption = False,
    version: VersionOption = False,
) -> None:
    """Train a network; writes OUT/last.pt, OUT/best.pt, OUT/last.state.pt and OUT/log.jsonl."""
    config = TrainConfig(
        out=out,
        data=data,
        synthetic=synthetic,
        synthetic_patches=synthetic_patches,
        arch=arch,
        preset=preset,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        warmup_steps=warmup_steps,
        grad_clip=grad_clip,
        crop=None if crop == 0 else crop,
        clear_input=clear_input,
        real_pairs=real_pairs,
        real_scenes=tuple(real_scene or ()),
        real_s1=real_s1,
        real_repeat=real_repeat,
        real_clear=real_clear,
        real_clear_repeat=real_clear_repeat,
        s1_dropout=s1_dropout,
        model_overrides={"sar_skips": True} if sar_skips else {},
        workers=workers,
        seed=seed,
        val_samples=val_samples,
        resume=resume,
        device=device,
        loss_schedule=LossSchedule(
            l1_warmup_steps=l1_warmup_steps, ramp_steps=ramp_steps, kl_warmup_steps=kl_warmup_steps
        ),
    )
    if threads is not None:
        torch.set_num_threads(threads)
    main_rank = int(os.environ.get("RANK", "0")) == 0
    console = Console(stderr=True)
    progress = RichTrainProgress(console) if main_rank and not quiet else None
    if progress is None:
        result = train(config)
    else:
        with progress.bar:
            result = train(config, progress=progress)
    if main_rank:
        typer.echo(summary_line(result))


def main() -> None:
    """Entry point of `ibhfn-train`."""
    app()


if __name__ == "__main__":
    main()
