"""A Sentinel-2 Level-1C product as ESA distributes it (a `.SAFE` folder, or its `.zip`), read for `ibhfn-prepare`.

The network takes the 13 top-of-atmosphere bands of Level-1C, as SEN12MS-CR holds them. A product
keeps each band as its own JPEG 2000 file at 10, 20 or 60 m, under
`GRANULE/<granule>/IMG_DATA/<tile>_<time>_B01.jp2` (B8A for band 8A), and states its processing
baseline, quantification value and, since baseline 04.00, each band's RADIO_ADD_OFFSET in
`MTD_MSIL1C.xml` at the product's root (Sentinel-2 Products Specification Document). Level-2A
products have no cirrus band B10, so they cannot be stacked into the network's input. The metadata
file is read only up to METADATA_LIMIT bytes, whatever a zip's header declares of its size.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO
from xml.etree import ElementTree

from ibhfn.bands import S2_BANDS
from ibhfn.errors import InputError
from ibhfn.preprocessing import S2_DN_MAX
from ibhfn.runtime.s2_offset import FIRST_OFFSET_BASELINE, baseline_number, is_offset

METADATA = "MTD_MSIL1C.xml"
LEVEL_2A_METADATA = "MTD_MSIL2A.xml"
METADATA_LIMIT = 16 * 2**20  # bytes: ESA's MTD_MSIL1C.xml holds tens of kB; no product's comes near
READ_CHUNK = 2**20  # bytes read at a time from the metadata file
OLD_FORMAT_METADATA = "MTD_SAFL1C"  # in the metadata file's name before December 2016 (S2A_OPER_MTD_SAFL1C_...)
NAME = re.compile(r"MSIL1C_(?P<date>\d{8})T\d{6}_.*_(?P<tile>T\d{2}[A-Z]{3})_")  # in the product's name


@dataclass(frozen=True)
class L1CProduct:
    """Where a Level-1C product's 13 band files are (as paths GDAL opens) and what its metadata say."""

    name: str  # <tile>_<date>, for example T33UUP_20230412: names the stacked file
    band_files: dict[str, str]  # engine band name -> path or /vsizip/ path of its JPEG 2000 file
    baseline: str | None  # PROCESSING_BASELINE, for example "05.09"; None in products that lack it
    offset: int  # RADIO_ADD_OFFSET in DN, the same for every band: -1000 since baseline 04.00, else 0
    product_uri: str


@dataclass
class _Metadata:
    """What MTD_MSIL1C.xml says, as text."""

    product_uri: str | None = None
    baseline: str | None = None
    quantification: str | None = None
    offsets: dict[str | None, str] = field(default_factory=dict)  # band_id (0..12, B8A is 8) -> RADIO_ADD_OFFSET


def open_l1c(path: Path) -> L1CProduct:
    """Find the band files and read the metadata of the Level-1C product at `path` (.SAFE folder or .zip)."""
    path = Path(path)
    members, root = _listing(path)
    metadata_path = _metadata_member(path, members)
    metadata = _read_metadata(path, _read_member(path, metadata_path))
    product_dir = PurePosixPath(metadata_path).parent
    files = {band: f"{root}/{member}" for band, member in _band_members(path, members, product_dir).items()}
    uri = metadata.product_uri or product_dir.name or path.name
    return L1CProduct(_product_name(uri, path), files, metadata.baseline, _offset(path, metadata), uri)


def looks_like_product(path: Path) -> bool:
    """Whether `path` is named or laid out as a product (.SAFE, .zip, or holding MTD_MSIL1C.xml)."""
    path = Path(path)
    return path.suffix.lower() in (".safe", ".zip") or (path / METADATA).is_file()


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
    """One file of the product, from its folder or its zip, refused past METADATA_LIMIT bytes (a zip bomb)."""
    try:
        if path.is_dir():
            with (path / member).open("rb") as file:
                return _read_bounded(path, member, file, (path / member).stat().st_size)
        with zipfile.ZipFile(path) as archive, archive.open(member) as file:
            return _read_bounded(path, member, file, archive.getinfo(member).file_size)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise InputError(f"{path}: cannot read {member} ({exc}); fetch the product again") from None


def _read_bounded(path: Path, member: str, file: IO[bytes], declared: int) -> bytes:
    """All of `file` in chunks, or InputError once it declares or holds more than METADATA_LIMIT bytes."""
    chunks: list[bytes] = []
    size = 0
    while size <= METADATA_LIMIT and declared <= METADATA_LIMIT:
        chunk = file.read(READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    raise InputError(
        f"{path}: its {member} holds more than {METADATA_LIMIT // 2**20} MiB (declared: {declared} "
        "bytes), far beyond any product's metadata: a damaged download or no Sentinel-2 product; "
        "fetch it again"
    )


def _metadata_member(path: Path, members: list[str]) -> str:
    """The one MTD_MSIL1C.xml at the product's root (the zip may hold the .SAFE folder)."""
    at_root = [PurePosixPath(m) for m in members if len(PurePosixPath(m).parts) <= 2]
    found = [m.as_posix() for m in at_root if m.name == METADATA]
    if len(found) == 1:
        return found[0]
    if any(m.name == LEVEL_2A_METADATA for m in at_root):
        raise InputError(
            f"{path}: a Level-2A product, which has no cirrus band B10; the network takes the 13 "
            "bands of Level-1C, as SEN12MS-CR: use the Level-1C product of the same acquisition"
        )
    if any(OLD_FORMAT_METADATA in m.name for m in at_root):
        raise InputError(
            f"{path}: a product in the format used before December 2016 (several tiles, "
            f"{OLD_FORMAT_METADATA} metadata), which ibhfn-prepare does not read; use the same "
            "acquisition's reprocessed product (Collection-1, processing baseline 05.00 or later)"
        )
    if not found:
        raise InputError(f"{path}: not a Sentinel-2 Level-1C product (no {METADATA} at its root)")
    raise InputError(f"{path}: holds {len(found)} products ({', '.join(found)}); give one at a time")


def _read_metadata(path: Path, xml: bytes) -> _Metadata:
    """PRODUCT_URI, PROCESSING_BASELINE, QUANTIFICATION_VALUE and each band's RADIO_ADD_OFFSET."""
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise InputError(f"{path}: {METADATA} is not readable XML ({exc})") from None
    metadata = _Metadata()
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]  # ESA qualifies only the outer elements
        text = (element.text or "").strip()
        if tag == "PRODUCT_URI":
            metadata.product_uri = text
        elif tag == "PROCESSING_BASELINE":
            metadata.baseline = text
        elif tag == "QUANTIFICATION_VALUE":
            metadata.quantification = text
        elif tag == "RADIO_ADD_OFFSET":
            metadata.offsets[element.get("band_id")] = text
    return metadata


def _offset(path: Path, metadata: _Metadata) -> int:
    """The product's one RADIO_ADD_OFFSET in DN, checked: 13 equal values, or none before baseline 04.00."""
    if metadata.quantification is not None and _number(metadata.quantification) != S2_DN_MAX:
        raise InputError(
            f"{path}: QUANTIFICATION_VALUE is {metadata.quantification}, not {S2_DN_MAX:.0f}: the DN "
            "are not the reflectance x 10000 the network was trained on"
        )
    baseline = None if metadata.baseline is None else baseline_number(metadata.baseline)
    if metadata.baseline is not None and baseline is None:
        raise InputError(
            f"{path}: PROCESSING_BASELINE {metadata.baseline!r} in {METADATA} is not a baseline such as 05.09"
        )
    if not metadata.offsets:
        if baseline is not None and baseline >= FIRST_OFFSET_BASELINE:
            raise InputError(f"{path}: processing baseline {metadata.baseline} but no RADIO_ADD_OFFSET in {METADATA}")
        return 0
    values = {_number(metadata.offsets.get(str(band_id))) for band_id in range(len(S2_BANDS))}
    if len(values) != 1 or None in values:
        listed = ", ".join(f"{k}: {v}" for k, v in sorted(metadata.offsets.items(), key=str))
        raise InputError(
            f"{path}: RADIO_ADD_OFFSET differs between bands or is missing for some in {METADATA} "
            f"({listed}); one offset for all 13 bands is all ibhfn-run applies"
        )
    (offset,) = values
    assert offset is not None  # refused above
    if not is_offset(offset):
        raise InputError(
            f"{path}: RADIO_ADD_OFFSET {offset:g} in {METADATA} is not a Sentinel-2 offset "
            "(a whole number of DN between -9999 and 0)"
        )
    return int(offset)


def _number(text: str | None) -> float | None:
    """`text` as a number, or None when it is missing or not one."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _band_members(path: Path, members: list[str], product_dir: PurePosixPath) -> dict[str, str]:
    """Each band's JPEG 2000 file in the product's one granule, by engine band name."""
    granule_root = "GRANULE" if product_dir == PurePosixPath(".") else f"{product_dir}/GRANULE"
    images = [m for m in members if m.startswith(f"{granule_root}/") and "/IMG_DATA/" in m and m.endswith(".jp2")]
    granules = sorted({PurePosixPath(m).relative_to(granule_root).parts[0] for m in images})
    if not granules:
        raise InputError(
            f"{path}: no band image under GRANULE/*/IMG_DATA (an incomplete download?): fetch the product again"
        )
    if len(granules) > 1:
        raise InputError(
            f"{path}: holds {len(granules)} granules with images under GRANULE/ "
            f"({', '.join(granules)}); a product since December 2016 holds one"
        )
    found = {}
    for band in S2_BANDS:
        suffix = f"_B{band[1:]:0>2}.jp2"  # B1 -> _B01.jp2, B8A -> _B8A.jp2
        matches = [m for m in images if m.endswith(suffix)]
        if len(matches) != 1:
            count = f"no *{suffix} image" if not matches else f"{len(matches)} *{suffix} images"
            raise InputError(f"{path}: {count} for band {band} under GRANULE/{granules[0]}/IMG_DATA")
        found[band] = matches[0]
    return found


def _product_name(uri: str, path: Path) -> str:
    """<tile>_<date> from the product's name, else the name without .SAFE / .zip."""
    match = NAME.search(uri)
    if match:
        return f"{match['tile']}_{match['date']}"
    return re.sub(r"(\.SAFE)?(\.zip)?$", "", path.name, flags=re.IGNORECASE)
