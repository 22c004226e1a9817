"""`ibhfn-prepare`: turn Sentinel products into the inputs of `ibhfn-run`.

`s2` stacks Level-1C products as ESA distributes them; `s1` brings processed backscatter onto an
S2 scene's grid. This module only parses arguments and reports; the work is `open_l1c`,
`stack_l1c` and `prepare_s1`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ibhfn.cli_errors import one_line_warnings, report_errors
from ibhfn.cli_version import VersionOption
from ibhfn.errors import IbhfnError, InputError
from ibhfn.output_folder import check_output_folder
from ibhfn.runtime.l1c_product import looks_like_product, open_l1c
from ibhfn.runtime.pairing import plain_name
from ibhfn.runtime.raster_source import FULL_COVER
from ibhfn.runtime.s1_backscatter import UNITS, prepare_s1
from ibhfn.runtime.s2_stack import RESAMPLINGS, check_resampling, stack_l1c
from ibhfn.runtime.writer import COMPRESSIONS

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Prepare Sentinel products as the inputs ibhfn-run takes.")
EXIT_FAILED = 2


@app.callback()
def options(version: VersionOption = False) -> None:
    """Options that come before the command."""


@app.command()
@report_errors
@one_line_warnings
def s2(
    paths: Annotated[list[Path], typer.Argument(
        help="PRODUCT... OUT: Level-1C products (.SAFE folders or their .zip), then the output folder, which "
             "receives <tile>_<date>_s2.tif for each.", show_default=False)],
    name: Annotated[Optional[str], typer.Option(
        help="Scene name of the one product given (default: <tile>_<date>, for example T33UUP_20230412); the "
             "file is <name>_s2.tif, to pair with <name>_s1.tif.")] = None,
    resampling: Annotated[str, typer.Option(
        help=f"How the 20 and 60 m bands are brought onto the 10 m grid: {', '.join(RESAMPLINGS)} (nearest, as "
             "Earth Engine, which SEN12MS-CR was made with, resamples unless told otherwise).")] = "nearest",
    compress: Annotated[str, typer.Option(help=f"Output compression: {', '.join(COMPRESSIONS)}.")] = "deflate",
) -> None:
    """Stack each product's 13 bands onto its 10 m grid as <name>_s2.tif; the exit code is 2 when any failed."""
    if len(paths) < 2:
        raise InputError("give one or more products, then the output folder")
    *products, out_dir = paths
    if name is not None and len(products) > 1:
        raise InputError(f"--name names one scene; {len(products)} products were given")
    if name is not None and not plain_name(name):
        raise InputError(f"--name {name!r}: a scene name is a file name, without folders")
    if compress not in COMPRESSIONS:
        raise InputError(f"unknown compression {compress!r}; choose one of {', '.join(COMPRESSIONS)}")
    check_resampling(resampling)
    if looks_like_product(out_dir):
        raise InputError(f"{out_dir}: a product, not the output folder, which comes last")
    check_output_folder(out_dir)
    failed, written = 0, {}
    for path in products:
        started = time.perf_counter()
        try:
            product = open_l1c(path)
            output = out_dir / f"{name or product.name}_s2.tif"
            if output in written:
                raise InputError(f"{path}: would be written to {output.name}, as {written[output]} was; "
                                 "prepare it on its own with --name")
            stack_l1c(product, output, resampling=resampling, compress=compress)
            written[output] = path
        except IbhfnError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        baseline = f"baseline {product.baseline}, " if product.baseline else ""
        typer.echo(f"{output}: {product.product_uri} ({baseline}RADIO_ADD_OFFSET {product.offset}) in "
                   f"{time.perf_counter() - started:.1f} s")
    if failed:
        raise typer.Exit(EXIT_FAILED)


@app.command()
@report_errors
@one_line_warnings
def s1(
    path: Annotated[Path, typer.Argument(help="Sentinel-1 GeoTIFF: terrain-corrected GRD sigma0 VV and VH, in dB "
                                              "or linear power (as SNAP writes it), on any grid.", show_default=False)],
    like: Annotated[Path, typer.Option(help="The <name>_s2.tif it pairs with: the output is <name>_s1.tif beside it, "
                                            "on its grid.", show_default=False)],
    bands: Annotated[Optional[str], typer.Option(
        help="The input's bands in order, VH,VV or VV,VH, where neither its band descriptions nor SNAP's header "
             "name them.")] = None,
    units: Annotated[str, typer.Option(help=f"The input's units: {', '.join(UNITS)} (auto: by the band "
                                            "descriptions and the values, which a choice must not contradict)."
                                       )] = "auto",
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
