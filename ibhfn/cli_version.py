"""`--version` for every CLI: ibhfn's version and those of the libraries that decide its numbers.

A bug report about an engine's accuracy or speed is only useful with these versions beside it
(which ONNX Runtime, which TensorRT, which GDAL). They are read from the installed distributions,
not by importing the packages (GDAL's from rasterio, which bundles it), so asking never pulls torch
into the runtime.
"""

from __future__ import annotations

import platform
from importlib import metadata
from importlib.util import find_spec
from typing import Annotated

import typer

import ibhfn

# Each library under the distribution names it is published as (the first one installed is shown).
LIBRARIES = {
    "numpy": ("numpy",),
    "rasterio": ("rasterio",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    "tensorrt": ("tensorrt", "tensorrt-cu13", "tensorrt-cu12"),
    "cuda-python": ("cuda-python", "cuda-bindings"),
    "pycuda": ("pycuda",),
    "torch": ("torch",),
}
ABSENT = "not installed"


def installed_version(distributions: tuple[str, ...]) -> str | None:
    """The version of the first of `distributions` that is installed, or None."""
    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def tensorrt_version() -> str | None:
    """TensorRT's version: JetPack installs it as a system module that pip's metadata does not list."""
    found = installed_version(LIBRARIES["tensorrt"])
    if found is not None or find_spec("tensorrt") is None:
        return found
    import tensorrt

    return str(tensorrt.__version__)


def gdal_version() -> str | None:
    """The GDAL that rasterio reads and writes GeoTIFFs with."""
    if find_spec("rasterio") is None:
        return None
    import rasterio

    return str(rasterio.__gdal_version__)


def version_lines() -> list[str]:
    """`name version` lines: ibhfn, Python, then each library (or `not installed`)."""
    lines = [f"ibhfn {ibhfn.__version__}", f"python {platform.python_version()}"]
    for library, distributions in LIBRARIES.items():
        found = tensorrt_version() if library == "tensorrt" else installed_version(distributions)
        lines.append(f"{library} {found or ABSENT}")
        if library == "rasterio":
            lines.append(f"gdal {gdal_version() or ABSENT}")
    return lines


def _print_versions(value: bool) -> None:
    if value:
        typer.echo("\n".join(version_lines()))
        raise typer.Exit()


VersionOption = Annotated[bool, typer.Option(
    "--version", callback=_print_versions, is_eager=True,
    help="Print the versions of ibhfn, Python and the libraries it runs on, and exit.")]
