"""Sentinel-2's radiometric add-offset as an S2 file declares it, so each scene of a folder gets its own.

Products of processing baseline 04.00 and later store DN = reflectance x 10000 - offset with
offset -1000; older ones and SEN12MS-CR have none. A folder spanning January 2022 mixes the two,
so one `--s2-offset` for a run is wrong for part of it. Where a file says which it is, the runtime
reads it, most explicit first:

1. GDAL band scale and offset (reflectance = DN x scale + offset): scale 0.0001 and offset -0.1
   declare -1000 DN, as cloud-optimised products and ibhfn's own uint16 outputs carry them;
2. `BOA_ADD_OFFSET` (Level-2A) or `RADIO_ADD_OFFSET` (Level-1C) in DN, as band or dataset
   metadata, the names of the product's own XML;
3. `PROCESSING_BASELINE` (dataset metadata, as GDAL's SENTINEL2 driver reports it): 04.00 or later
   declares -1000, earlier 0.

An offset given on the command line is used as given; where the file declares another, that is a
warning naming the file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import rasterio

from ibhfn.errors import InputError
from ibhfn.preprocessing import S2_BASELINE_04_OFFSET, S2_DN_MAX

REFLECTANCE_SCALE = 1 / S2_DN_MAX  # GDAL band scale of Sentinel-2 DN: reflectance = DN / 10000 (+ offset)
OFFSET_TAGS = ("BOA_ADD_OFFSET", "RADIO_ADD_OFFSET")
BASELINE_TAG = "PROCESSING_BASELINE"
FIRST_OFFSET_BASELINE = 4.0  # processing baseline 04.00 (25 January 2022) introduced the offset
BASELINE = re.compile(r"N?(\d{2})\.?(\d{2})")  # 05.10, or N0510 as product names write it
WHOLE_DN_TOLERANCE = 0.01  # float32 band scale and offset (0.0001, -0.1) give -1000.00004 DN
GIVE_OFFSET = "give the product's --s2-offset"  # how every unclear declaration ends
GIVEN = "--s2-offset"  # SceneOffset.origin of an offset the run was given
NOT_DECLARED = "not declared"  # SceneOffset.origin of 0 for a file that declares nothing


@dataclass(frozen=True)
class DeclaredOffset:
    """An add-offset in DN and where the file declares it."""

    dn: int
    source: str  # for messages: "band offsets", "BOA_ADD_OFFSET", "PROCESSING_BASELINE 05.10"


def is_offset(dn: float) -> bool:
    """Whether `dn` can be a Sentinel-2 add-offset: a whole number of DN in (-10000, 0]."""
    return math.isfinite(dn) and -S2_DN_MAX < dn <= 0 and dn == int(dn)


def declared_offset(path: Path, dataset: rasterio.DatasetReader) -> DeclaredOffset | None:
    """The add-offset `dataset` declares, or None when it declares none; InputError naming `path` when unclear."""
    for read in (_from_band_offsets, _from_offset_tags, _from_baseline):
        declared = read(path, dataset)
        if declared is not None:
            dn, source = declared
            if math.isfinite(dn) and abs(dn - round(dn)) < WHOLE_DN_TOLERANCE:
                dn = float(round(dn))
            if not is_offset(dn):
                raise InputError(
                    f"{path}: declares an add-offset of {dn:.6g} DN ({source}); a Sentinel-2 product's "
                    f"is a whole number between {1 - S2_DN_MAX:.0f} and 0; {GIVE_OFFSET}"
                )
            return DeclaredOffset(int(dn), source)
    return None


@dataclass(frozen=True)
class SceneOffset:
    """The add-offset one S2 file is read with, where it came from, and what to tell the user about it."""

    dn: int
    origin: str  # "--s2-offset", a DeclaredOffset's source, or NOT_DECLARED
    warnings: tuple[str, ...] = ()


def scene_offset(path: Path, dataset: rasterio.DatasetReader, given: int | None) -> SceneOffset:
    """The add-offset to read `dataset` with: `given`, else the file's declaration, else 0.

    `given` None means the run was given no `--s2-offset`; a declaration that cannot be read is then
    an InputError. A given offset is used as asked, with a warning where the file says otherwise.
    """
    if given is None:
        declared = declared_offset(path, dataset)
        return SceneOffset(declared.dn, declared.source) if declared else SceneOffset(0, NOT_DECLARED)
    try:
        declared = declared_offset(path, dataset)
    except InputError as unclear:
        return SceneOffset(given, GIVEN, (f"{_without_advice(unclear)}; restoring with --s2-offset {given} as asked",))
    if declared is None or declared.dn == given:
        return SceneOffset(given, GIVEN)
    return SceneOffset(
        given,
        GIVEN,
        (
            f"{path}: declares an add-offset of {declared.dn} DN ({declared.source}), but the run was given "
            f"--s2-offset {given}; restoring with {given} as asked (leave --s2-offset out to use each file's own)",
        ),
    )


def _without_advice(error: InputError) -> str:
    """An unclear declaration's message without its advice to give --s2-offset, which the run has done."""
    return str(error).removesuffix(f"; {GIVE_OFFSET}")


def _from_band_offsets(path: Path, dataset: rasterio.DatasetReader) -> tuple[float, str] | None:
    """The offset in DN that GDAL band scale 0.0001 and offset declare, the same for every band."""
    pairs = set(zip(dataset.scales, dataset.offsets))
    if pairs <= {(1.0, 0.0)}:
        return None
    if len(pairs) > 1:
        raise InputError(f"{path}: its bands declare different scales or offsets ({_listed(pairs)}); {GIVE_OFFSET}")
    ((scale, offset),) = pairs
    if not math.isclose(scale, REFLECTANCE_SCALE, rel_tol=1e-6):
        raise InputError(
            f"{path}: declares a band scale of {scale:g}, not Sentinel-2's {REFLECTANCE_SCALE:g} "
            f"(reflectance = DN / 10000); {GIVE_OFFSET}"
        )
    return round(offset / scale, 6), "band offsets"


def _from_offset_tags(path: Path, dataset: rasterio.DatasetReader) -> tuple[float, str] | None:
    """BOA_ADD_OFFSET or RADIO_ADD_OFFSET, one value wherever the file or its bands give either."""
    found = {}  # tag -> its one value, from the file's metadata and its bands'
    for tag in OFFSET_TAGS:
        texts = {tags[tag] for tags in (dataset.tags(), *map(dataset.tags, dataset.indexes)) if tag in tags}
        values = set()
        for text in texts:
            try:
                values.add(float(text))
            except ValueError:
                raise InputError(f"{path}: {tag} {text!r} is not a number; {GIVE_OFFSET}") from None
        if len(values) > 1:
            raise InputError(f"{path}: declares different {tag} values ({', '.join(sorted(texts))}); {GIVE_OFFSET}")
        if values:
            found[tag] = values.pop()
    if len(set(found.values())) > 1:
        raise InputError(
            f"{path}: declares {' and '.join(f'{tag} {value:g}' for tag, value in found.items())}; {GIVE_OFFSET}"
        )
    return next(((value, tag) for tag, value in found.items()), None)


def _from_baseline(path: Path, dataset: rasterio.DatasetReader) -> tuple[float, str] | None:
    """The offset a product of the PROCESSING_BASELINE the file names has."""
    text = dataset.tags().get(BASELINE_TAG)
    if text is None:
        return None
    baseline = baseline_number(text)
    if baseline is None:
        raise InputError(f"{path}: {BASELINE_TAG} {text!r} is not a baseline such as 05.10; {GIVE_OFFSET}")
    dn = S2_BASELINE_04_OFFSET if baseline >= FIRST_OFFSET_BASELINE else 0
    return dn, f"{BASELINE_TAG} {text}"


def baseline_number(text: str) -> float | None:
    """A processing baseline as a number (05.10 and N0510 are 5.1), or None when `text` is not one."""
    match = BASELINE.fullmatch(text.strip())
    return None if match is None else int(match[1]) + int(match[2]) / 100


def _listed(pairs: set[tuple[float, float]]) -> str:
    """Band scales and offsets, for a message."""
    return ", ".join(f"scale {scale:g} offset {offset:g}" for scale, offset in sorted(pairs))
