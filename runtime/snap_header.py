"""What SNAP says of the bands of a GeoTIFF it wrote: their names, units and nodata, which GDAL does not see.

SNAP's GeoTIFF writers keep a product's description as a BEAM-DIMAP XML document in the private
TIFF tag 65000 and give GDAL no band descriptions or nodata. Each band is a `Spectral_Band_Info`
element there, with `BAND_INDEX`, `BAND_NAME` (`Sigma0_VH`), `PHYSICAL_UNIT` (`intensity`,
`intensity_db`, `amplitude`) and `NO_DATA_VALUE_USED` / `NO_DATA_VALUE`. A file without the tag, or
with one that is not such a document, has no SNAP header; that is not an error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

SNAP_TAG = 65000  # BEAM_METADATA
TIFF_LAYOUTS = {42: ("I", "H", "HHII", 4), 43: ("Q", "Q", "HHQQ", 8)}  # classic, BigTIFF: offset, count, entry, inline


@dataclass(frozen=True)
class SnapBand:
    """One band as SNAP describes it."""

    name: str
    unit: str
    nodata: float | None


def snap_bands(path: Path) -> tuple[SnapBand, ...] | None:
    """The bands SNAP's header describes, in the file's order, or None when the file has no such header."""
    document = _tiff_tag(Path(path), SNAP_TAG)
    if document is None:
        return None
    try:
        root = ElementTree.fromstring(document.rstrip(b"\0"))
    except ElementTree.ParseError:
        return None
    bands = {}
    for info in root.iter("Spectral_Band_Info"):
        index, name = info.findtext("BAND_INDEX"), info.findtext("BAND_NAME")
        if index is None or name is None or not index.strip().isdigit():
            return None
        used = (info.findtext("NO_DATA_VALUE_USED") or "").strip().lower() == "true"
        bands[int(index)] = SnapBand(
            name.strip(),
            (info.findtext("PHYSICAL_UNIT") or "").strip(),
            _number(info.findtext("NO_DATA_VALUE")) if used else None,
        )
    if not bands or sorted(bands) != list(range(len(bands))):
        return None
    return tuple(bands[index] for index in range(len(bands)))


def _tiff_tag(path: Path, tag: int) -> bytes | None:
    """The raw value of `tag` in the first directory of the TIFF at `path` (classic or BigTIFF), or None."""
    with open(path, "rb") as tiff:
        head = tiff.read(16)
        order = {b"II": "<", b"MM": ">"}.get(head[:2])
        if order is None or len(head) < 16:
            return None
        layout = TIFF_LAYOUTS.get(struct.unpack(order + "H", head[2:4])[0])
        if layout is None:
            return None
        offset_format, count_format, entry_format, inline = layout
        start = 4 if inline == 4 else 8
        tiff.seek(struct.unpack(order + offset_format, head[start : start + struct.calcsize(offset_format)])[0])
        counted = tiff.read(struct.calcsize(count_format))
        if len(counted) < struct.calcsize(count_format):
            return None
        size = struct.calcsize(order + entry_format)
        entries = tiff.read(struct.unpack(order + count_format, counted)[0] * size)
        for at in range(0, len(entries) - size + 1, size):
            code, _, count, value = struct.unpack(order + entry_format, entries[at : at + size])
            if code == tag:
                if count <= inline:
                    return entries[at + size - inline : at + size][:count]
                tiff.seek(value)
                return tiff.read(count)
    return None


def _number(text: str | None) -> float | None:
    """`text` as a number, or None."""
    if text is None:
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None
