"""`ibhfn-synth`: write synthetic SEN12MS-CR trees and whole scenes (see `ibhfn.data.synthetic`),
and compare a tree with real data (see `ibhfn.data.distribution`).

This module only parses arguments; the work is `write_tree`, `write_scene` and `distribution`.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from ibhfn.atomic import atomic_path
from ibhfn.cli_errors import report_errors
from ibhfn.cli_options import Command, OneOf, SeedOption, VersionOption, choices_metavar, new_app
from ibhfn.data import distribution
from ibhfn.data.landcover import SEASONS
from ibhfn.data.synthetic import write_scene, write_tree
from ibhfn.errors import InputError

app = new_app(help="Write synthetic Sentinel-1/2 data.")


def parse_size(value: str) -> tuple[int, int]:
    """Read `HxW` (for example 1000x777) as (height, width)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", value)
    if match is None or int(match[1]) < 1 or int(match[2]) < 1:
        raise InputError(f"--size {value!r} is not of the form HxW with positive sizes, for example 1000x777")
    return int(match[1]), int(match[2])


@app.callback()
def options(version: VersionOption = False) -> None:
    """Options that come before the command."""


@app.command(cls=Command)
@report_errors
def tree(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Root folder of the SEN12MS-CR-layout tree.")],
    seed: SeedOption = 0,
    train: Annotated[int, typer.Option(help="Train scenes.")] = 3,
    val: Annotated[int, typer.Option(help="Validation scenes.")] = 2,
    test: Annotated[int, typer.Option(help="Test scenes.")] = 2,
    patches: Annotated[int, typer.Option(help="Patches per scene.")] = 4,
    roi: Annotated[Optional[list[str]], typer.Option(help="ROI-season to draw scenes from (repeatable).")] = None,
    size: Annotated[int, typer.Option(help="Patch size in pixels.")] = 256,
) -> None:
    """Write a SEN12MS-CR-layout tree of synthetic patches (real scene ids from the splits)."""
    if min(train, val, test) < 0 or patches < 1 or size < 1:
        raise InputError("scene counts must be >= 0, --patches and --size >= 1")
    write_tree(
        out, seed=seed, scenes_per_split=(train, val, test), patches_per_scene=patches, rois=roi or None, size=size
    )
    typer.echo(f"wrote {train + val + test} scenes x {patches} patches under {out}")


@app.command(cls=Command)
@report_errors
def scene(
    out: Annotated[
        Path, typer.Argument(metavar="OUT", help="Folder for <name>_s1.tif, <name>_s2.tif, _target, _cloudmask.")
    ],
    size: Annotated[str, typer.Option(metavar="HxW", help="Scene size HxW in pixels.")] = "1024x1024",
    seed: SeedOption = 0,
    name: Annotated[str, typer.Option(help="Scene name.")] = "scene",
    s1_crs: Annotated[Optional[str], typer.Option(help="Put S1 on a grid in this CRS, e.g. EPSG:4326.")] = None,
    s1_resolution: Annotated[Optional[float], typer.Option(help="S1 pixel size in S1 CRS units.")] = None,
    nodata_border: Annotated[int, typer.Option(help="S2 nodata pixels along every edge.")] = 0,
    season: Annotated[
        str,
        typer.Option(
            metavar=choices_metavar(tuple(SEASONS)),
            callback=OneOf(tuple(SEASONS), "season"),
            help="Season of the scene.",
        ),
    ] = "summer",
    cloudiness: Annotated[Optional[float], typer.Option(help="Cloud amount in [0, 1]; random if not given.")] = None,
) -> None:
    """Write one whole synthetic scene for ibhfn-run, strip by strip."""
    height, width = parse_size(size)
    if cloudiness is not None and not 0.0 <= cloudiness <= 1.0:
        raise InputError(f"--cloudiness must be in [0, 1]; got {cloudiness}")
    paths = write_scene(
        out,
        name,
        height=height,
        width=width,
        seed=seed,
        s1_crs=s1_crs,
        s1_resolution=s1_resolution,
        nodata_border=nodata_border,
        season=season,
        cloudiness=cloudiness,
    )
    typer.echo(f"wrote {paths.s1}, {paths.s2}, {paths.target}, {paths.mask}")


@app.command(cls=Command)
@report_errors
def compare(
    synthetic: Annotated[
        Path, typer.Argument(metavar="SYNTHETIC", help="SEN12MS-CR-layout folder, e.g. written by `tree`.")
    ],
    real: Annotated[
        Path, typer.Argument(metavar="REAL", help="SEN12MS-CR-layout folder of real patches (S1 or cloudy may lack).")
    ],
    json_out: Annotated[
        Optional[Path], typer.Option("--json", help="Write both summaries and the distances here.")
    ] = None,
    pixels: Annotated[int, typer.Option(help="Random pixels drawn from each file.")] = distribution.DEFAULT_PIXELS,
    seed: SeedOption = 0,
) -> None:
    """Print how far SYNTHETIC is from REAL: band quantiles, correlation, cloud spectra and cover, S1."""
    for folder in (synthetic, real):
        distribution.patch_files(folder)  # a bad second folder stops before the first is read
    # The JSON's temporary file is made first, so a --json that cannot be written stops before the work.
    with atomic_path(json_out) if json_out is not None else contextlib.nullcontext() as tmp:
        a, b = (
            distribution.folder_statistics(folder, max_pixels_per_file=pixels, seed=seed)
            for folder in (synthetic, real)
        )
        comparison = distribution.compare(a, b)
        typer.echo(distribution.format_comparison(a, b, comparison, ("synthetic", "real")))
        if tmp is not None:
            report = {
                "synthetic": a.to_dict(),
                "real": b.to_dict(),
                "distance": comparison.to_dict(),
                "sampling": {"pixels_per_file": pixels, "seed": seed},
            }
            tmp.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    if json_out is not None:
        typer.echo(f"wrote {json_out}")


def main() -> None:
    """Entry point of `ibhfn-synth`."""
    app()
