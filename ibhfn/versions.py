"""The versions of ibhfn, Python and the libraries that decide its numbers, for `--version` and records.

A bug report or a scene record about an engine's accuracy or speed is only useful with these
versions beside it (which ONNX Runtime, which TensorRT, which GDAL). They are read from the
installed distributions, not by importing the packages (GDAL's from rasterio, which bundles it),
so asking never pulls torch into the runtime; they are read once per process.
"""

from __future__ import annotations

import functools
import platform
from importlib import metadata
from importlib.util import find_spec

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


UNIMPORTABLE = "present, but importing it fails"


def tensorrt_version() -> str | None:
    """TensorRT's version: JetPack installs it as a system module that pip's metadata may not list."""
    found = installed_version(LIBRARIES["tensorrt"])
    if found is not None or find_spec("tensorrt") is None:
        return found
    try:
        import tensorrt
    except Exception:  # a broken install (libnvinfer missing) must not fail a run that does not use it
        return UNIMPORTABLE
    return str(getattr(tensorrt, "__version__", UNIMPORTABLE))


def gdal_version() -> str | None:
    """The GDAL that rasterio reads and writes GeoTIFFs with."""
    if find_spec("rasterio") is None:
        return None
    import rasterio

    return str(rasterio.__gdal_version__)


@functools.cache
def versions() -> dict[str, str | None]:
    """ibhfn, Python, then each library (GDAL after rasterio), by name; None for what is not installed."""
    found: dict[str, str | None] = {"ibhfn": ibhfn.__version__, "python": platform.python_version()}
    for library, distributions in LIBRARIES.items():
        found[library] = tensorrt_version() if library == "tensorrt" else installed_version(distributions)
        if library == "rasterio":
            found["gdal"] = gdal_version()
    return found


def version_lines() -> list[str]:
    """`name version` lines (or `name not installed`), as `--version` prints them."""
    return [f"{name} {found or ABSENT}" for name, found in versions().items()]
