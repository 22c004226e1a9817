"""`ibhfn-deploy`: a checkpoint to a verified deployment bundle in one command (the work is `export.bundle.deploy`).

ibhfn-deploy --checkpoint best.pt --precision fp16 --data SEN12MS-CR/ bundle/
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ibhfn.cli_errors import one_line_warnings, report_errors
from ibhfn.cli_options import AtLeast, Command, EngineDeviceOption, VersionOption, choices_metavar, new_app
from ibhfn.errors import VerificationFailed
from ibhfn.export.bundle import DEPLOY_PRECISIONS

app = new_app()


@app.command(cls=Command)
@report_errors
@one_line_warnings
def deploy_command(
    out: Annotated[
        Path, typer.Argument(metavar="OUT", help="Bundle folder to write (new, or empty).", show_default=False)
    ],
    precision: Annotated[str, typer.Option(metavar=choices_metavar(DEPLOY_PRECISIONS), help="Engine precision.")],
    data: Annotated[
        Path,
        typer.Option(
            help="SEN12MS-CR root (or a synthetic tree): INT8 calibrates on its train "
            "split; the engine is verified on its val split."
        ),
    ],
    checkpoint: Annotated[Optional[Path], typer.Option(help="Checkpoint (default: the bundled model).")] = None,
    samples: Annotated[int, typer.Option(callback=AtLeast(1), help="Val patches the engine is verified on.")] = 32,
    calibration_samples: Annotated[
        int, typer.Option(callback=AtLeast(1), help="Train patches INT8 is calibrated on.")
    ] = 128,
    tile: Annotated[
        int, typer.Option(callback=AtLeast(1), help="Tile side in px for calibration and the TensorRT profile.")
    ] = 256,
    device: EngineDeviceOption = "auto",
    version: VersionOption = False,
) -> None:
    """Export, calibrate (INT8), build a TensorRT plan where TensorRT exists, verify, and write one bundle."""
    from ibhfn.export.bundle import deploy

    bundle = deploy(
        checkpoint,
        precision,
        data,
        out,
        samples=samples,
        calibration_samples=calibration_samples,
        tile=tile,
        device=device,
    )
    typer.echo(f"[I] {bundle.plan_note}")
    typer.echo(f"[I] {bundle.engine.name} vs model.onnx: {bundle.verdict}")
    typer.echo(
        f"[I] wrote {bundle.folder}: {bundle.engine.name}, model.onnx, verify/, MODEL_CARD.md, bundle.json "
        f"in {bundle.seconds:.1f} s"
    )
    if not bundle.passed:
        raise VerificationFailed(f"{bundle.engine}: {bundle.verdict}")


def main() -> None:
    """Entry point of `ibhfn-deploy`."""
    app()
