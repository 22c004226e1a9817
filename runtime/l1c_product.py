"""A Sentinel-2 Level-1C product as ESA distributes it (a `.SAFE` folder, or its `.zip`), read for `ibhfn-prepare`.

The network takes the 13 top-of-atmosphere bands of Level-1C, as SEN12MS-CR holds them. A product
keeps each band as its own JPEG 2000 file at 10, 20 or 60 m, under
`GRANULE/<granule>/IMG_DATA/<tile>_<time>_B01.jp2` (B8A for band 8A), and states its processing
baseline, quantification value and, since baseline 04.00, each band's RADIO_ADD_OFFSET in
`MTD_MSIL1C.xml` at the product's root (Sentinel-2 Products Specification Document). Level-2A
products have no cirrus band B10, so they cannot be stacked into the network's input.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

from ibhfn.bands import S2_BANDS
from ibhfn.errors import InputError
from ibhfn.preprocessing import S2_DN_MAX
from ibhfn.runtime.s2_offset import is_offset

METADATA = "MTD_MSIL1C.xml"
LEVEL_2A_METADATA = "MTD_MSIL2A.xml"
# ESA's band_id of each band in the product metadata, in the engine's order (B8A is 8, B9 is 9).
BAND_IDS = {name: index for index, name in enumerate(S2_BANDS)}
NAME = re.compile(r"MSIL1C_(?P<date>\d{8})T\d{6}_.*_(?P<tile>T\d{2}[A-Z]{3})_")  # in the product's name


@dataclass(frozen=True)
class L1CProduct:
    """Where a Level-1C product's 13 band files are (as paths GDAL opens) and what its metadata say."""

    path: Path
    name: str  # <tile>_<date>, for example T33UUP_20230412: names the stacked file
    band_files: dict[str, str]  # engine band name -> path or /vsizip/ path of its JPEG 2000 file
    baseline: str | None  # PROCESSING_BASELINE, for example "05.09"; None in products that lack it
    offset: int  # RADIO_ADD_OFFSET in DN, the same for every band: -1000 since baseline 04.00, else 0
    product_uri: str


def open_l1c(path: Path) -> L1CProduct:
    """Find the band files and read the metadata of the Level-1C product at `path` (.SAFE folder or .zip)."""
    path = Path(path)
    members, root = _listing(path)
    metadata = _metadata_member(path, members)
    facts = _read_metadata(path, _read_member(path, metadata))
    product_dir = PurePosixPath(metadata).parent
    files = {band: f"{root}/{member}" for band, member in _band_members(path, members, product_dir).items()}
    uri = facts.get("PRODUCT_URI") or (product_dir.name or path.name)
    return L1CProduct(path, _product_name(uri, path), files, facts.get("PROCESSING_BASELINE"),
                      _offset(path, facts), uri)


def _listing(path: Path) -> tuple[list[str], str]:
    """The product's files, relative to `path`, and the prefix that makes them paths GDAL opens."""
    if path.is_dir():
        return [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()], path.as_posix()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return archive.namelist(), f"/vsizip/{path.resolve().as_posix()}"
    if path.exists():
        raise InputError(f"{path}: not a Sentinel-2 product (give its .SAFE folder or its .zip)")
    raise InputError(f"{path}: no such file or folder")


def _read_member(path: Path, member: str) -> bytes:
    """One file of the product, from its folder or its zip."""
    if path.is_dir():
        return (path / member).read_bytes()
    with zipfile.ZipFile(path) as archive:
        return archive.read(member)


def _metadata_member(path: Path, members: list[str]) -> str:
    """The one MTD_MSIL1C.xml at the product's root (the zip may hold the .SAFE folder)."""
    found = [m for m in members if PurePosixPath(m).name == METADATA and len(PurePosixPath(m).parts) <= 2]
    if len(found) == 1:
        return found[0]
    if any(PurePosixPath(m).name == LEVEL_2A_METADATA for m in members):
        raise InputError(f"{path}: a Level-2A product, which has no cirrus band B10; the network takes the 13 "
                         "bands of Level-1C, as SEN12MS-CR: use the Level-1C product of the same acquisition")
    if not found:
        raise InputError(f"{path}: not a Sentinel-2 Level-1C product (no {METADATA} at its root)")
    raise InputError(f"{path}: holds {len(found)} products ({', '.join(found)}); give one at a time")


def _read_metadata(path: Path, xml: bytes) -> dict:
    """PRODUCT_URI, PROCESSING_BASELINE, QUANTIFICATION_VALUE and {band_id: RADIO_ADD_OFFSET}, as text."""
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise InputError(f"{path}: {METADATA} is not readable XML ({exc})") from None
    facts: dict = {"offsets": {}}
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]  # ESA qualifies only the outer elements
        text = (element.text or "").strip()
        if tag in ("PRODUCT_URI", "PROCESSING_BASELINE", "QUANTIFICATION_VALUE"):
            facts[tag] = text
        elif tag == "RADIO_ADD_OFFSET":
            facts["offsets"][element.get("band_id")] = text
    return facts


def _offset(path: Path, facts: dict) -> int:
    """The product's one RADIO_ADD_OFFSET in DN, checked: 13 equal values, or none before baseline 04.00."""
    quantification = facts.get("QUANTIFICATION_VALUE")
    if quantification is not None and _number(quantification) != S2_DN_MAX:
        raise InputError(f"{path}: QUANTIFICATION_VALUE is {quantification}, not {S2_DN_MAX:.0f}: the DN are not "
                         "the reflectance x 10000 the network was trained on")
    offsets = facts["offsets"]
    if not offsets:
        baseline = facts.get("PROCESSING_BASELINE")
        if baseline is not None and (_number(baseline) or 0.0) >= 4.0:
            raise InputError(f"{path}: processing baseline {baseline} but no RADIO_ADD_OFFSET in {METADATA}")
        return 0
    values = {_number(offsets.get(str(band_id))) for band_id in BAND_IDS.values()}
    if len(values) != 1 or None in values:
        raise InputError(f"{path}: RADIO_ADD_OFFSET is not one number for all 13 bands in {METADATA} "
                         f"({', '.join(f'{k}: {v}' for k, v in sorted(offsets.items()))})")
    (offset,) = values
    if not is_offset(offset):
        raise InputError(f"{path}: RADIO_ADD_OFFSET {offset:g} in {METADATA} is not a Sentinel-2 offset "
                         "(a whole number of DN between -9999 and 0)")
    return int(offset)


def _number(text: str | None) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _band_members(path: Path, members: list[str], product_dir: PurePosixPath) -> dict[str, str]:
    """Each band's JPEG 2000 file in the product's one granule, by engine band name."""
    granule_root = "GRANULE" if product_dir == PurePosixPath(".") else f"{product_dir}/GRANULE"
    images = [m for m in members if m.startswith(f"{granule_root}/") and "/IMG_DATA/" in m and m.endswith(".jp2")]
    granules = sorted({PurePosixPath(m).relative_to(granule_root).parts[0] for m in images})
    if len(granules) != 1:
        raise InputError(f"{path}: holds {len(granules)} granules with images under GRANULE/; one is expected "
                         "(products since December 2016 hold one tile each)")
    found = {}
    for band in S2_BANDS:
        suffix = f"_B{band[1:]:0>2}.jp2"  # B1 -> _B01.jp2, B8A -> _B8A.jp2
        matches = [m for m in images if m.endswith(suffix)]
        if len(matches) != 1:
            raise InputError(f"{path}: {'no' if not matches else len(matches)} *{suffix} image for band {band} "
                             f"under GRANULE/{granules[0]}/IMG_DATA")
        found[band] = matches[0]
    return found


def _product_name(uri: str, path: Path) -> str:
    """<tile>_<date> from the product's name, else the name without .SAFE / .zip."""
    match = NAME.search(uri)
    if match:
        return f"{match['tile']}_{match['date']}"
    return re.sub(r"(\.SAFE)?(\.zip)?$", "", path.name, flags=re.IGNORECASE)
