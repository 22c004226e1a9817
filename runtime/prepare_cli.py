"""`ibhfn-prepare`: turn Sentinel products into the inputs of `ibhfn-run`.

`s2` stacks Level-1C products as ESA distributes them; `s1` brings processed backscatter onto an
S2 scene's grid. This module only parses arguments and reports; the work is `prepare_products`
and `prepare_s1`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ibhfn.cli_errors import one_line_warnings, print_error, report_errors
from ibhfn.cli_options import Command, CompressOption, OneOf, VersionOption, choices_metavar, new_app
from ibhfn.errors import InputError
from ibhfn.runtime.l1c_batch import PreparedProduct, prepare_products
from ibhfn.runtime.raster_source import FULL_COVER
from ibhfn.runtime.run_options import RunOptions
from ibhfn.runtime.s1_backscatter import UNITS, prepare_s1
from ibhfn.runtime.s2_stack import RESAMPLINGS

app = new_app(help="Prepare Sentinel products as the inputs ibhfn-run takes.")
EXIT_FAILED = 2


@app.callback()
def options(version: VersionOption = False) -> None:
    """Options that come before the command."""


@app.command(cls=Command)
@report_errors
@one_line_warnings
def s2(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PRODUCT... OUT",
            help="Level-1C products (.SAFE folders or their .zip), then the output folder, "
            "which receives <tile>_<date>_s2.tif for each.",
            show_default=False,
        ),
    ],
    name: Annotated[
        Optional[str],
        typer.Option(
            help="Scene name of the one product given (default: <tile>_<date>, for example T33UUP_20230412); the "
            "file is <name>_s2.tif, to pair with <name>_s1.tif."
        ),
    ] = None,
    resampling: Annotated[
        str,
        typer.Option(
            metavar=choices_metavar(tuple(RESAMPLINGS)),
            callback=OneOf(tuple(RESAMPLINGS), "resampling"),
            help="How the 20 and 60 m bands are brought onto the 10 m grid (nearest, as Earth Engine, which "
            "SEN12MS-CR was made with, resamples unless told otherwise).",
        ),
    ] = "nearest",
    compress: CompressOption = RunOptions.compress,
) -> None:
    """Stack each product's 13 bands onto its 10 m grid as <name>_s2.tif; the exit code is 2 when any failed."""
    if len(paths) < 2:
        raise InputError("give one or more products, then the output folder")
    *products, out_dir = paths
    outcomes = prepare_products(
        products, out_dir, name=name, resampling=resampling, compress=compress, done=report_product
    )
    if any(outcome.error is not None for outcome in outcomes):
        raise typer.Exit(EXIT_FAILED)


def report_product(outcome: PreparedProduct) -> None:
    """One line per product: its stacked file (stdout) or why there is none (stderr)."""
    if outcome.error is not None or outcome.product is None:
        print_error(outcome.error)
        return
    product = outcome.product
    baseline = f"baseline {product.baseline}, " if product.baseline else ""
    typer.echo(
        f"{outcome.output}: {product.product_uri} ({baseline}RADIO_ADD_OFFSET {product.offset}) in "
        f"{outcome.seconds:.1f} s"
    )


@app.command(cls=Command)
@report_errors
@one_line_warnings
def s1(
    path: Annotated[
        Path,
        typer.Argument(
            metavar="S1",
            help="Sentinel-1 GeoTIFF: terrain-corrected GRD sigma0 VV and VH, in dB or linear power (as "
            "SNAP writes it), on any grid.",
            show_default=False,
        ),
    ],
    like: Annotated[
        Path,
        typer.Option(
            help="The <name>_s2.tif it pairs with: the output is <name>_s1.tif beside it, on its grid.",
            show_default=False,
        ),
    ],
    bands: Annotated[
        Optional[str],
        typer.Option(
            help="The input's bands in order, VH,VV or VV,VH, where neither its band descriptions nor SNAP's header "
            "name them."
        ),
    ] = None,
    units: Annotated[
        str,
        typer.Option(
            metavar=choices_metavar(UNITS),
            callback=OneOf(UNITS, "units"),
            help="The input's units (auto: by the band descriptions and the values, which a choice must not "
            "contradict).",
        ),
    ] = "auto",
) -> None:
    """Bring an S1 file onto its S2 scene's grid as VV, VH in dB: the <name>_s1.tif that ibhfn-run pairs."""
    started = time.perf_counter()
    order = tuple(band.strip() for band in bands.split(",")) if bands else None
    prepared = prepare_s1(path, like, order=order, units=units)
    converted = "linear power converted to dB" if prepared.linear else "in dB"
    cover = "" if prepared.valid >= FULL_COVER else f", backscatter in {prepared.valid:.1%} of the scene"
    typer.echo(f"{prepared.output}: {path.name} ({converted}{cover}) in {time.perf_counter() - started:.1f} s")


def main() -> None:
    """Entry point of `ibhfn-prepare`."""
    app()


if __name__ == "__main__":
    main()
