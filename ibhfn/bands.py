"""Band order of the two sensors, as SEN12MS-CR distributes them and as every engine expects them."""

from __future__ import annotations

import re

S2_BANDS: tuple[str, ...] = (
    "B1",
    "B2",
    "B3",
    "B4",
    "B5",
    "B6",
    "B7",
    "B8",
    "B8A",
    "B9",
    "B10",
    "B11",
    "B12",
)
S1_BANDS: tuple[str, ...] = ("VV", "VH")

# Indices of B4, B3, B2 in S2_BANDS: the true-colour composite used for quicklooks.
TRUE_COLOUR: tuple[int, int, int] = (3, 2, 1)


def described_order(descriptions: tuple[str | None, ...], expected: tuple[str, ...]) -> tuple[str, ...] | None:
    """The band names a file's descriptions give, when they name every one of `expected` once; else None.

    Names are read as GDAL's Sentinel-2 driver, SNAP and users write them: "B8A", "B08", "b8";
    "VV", "Sigma0_VH_db". A file that describes its bands otherwise (or not at all) gives None.
    """
    names = [_band_name(text or "", expected) for text in descriptions]
    known = [name for name in names if name is not None]
    return tuple(known) if len(known) == len(names) and sorted(known) == sorted(expected) else None


def description_words(text: str | None) -> list[str]:
    """A band description's words, upper case, split at all but letters and digits (`Sigma0_VV_db`: SIGMA0, VV, DB)."""
    return [word for word in re.split(r"[^0-9A-Z]+", (text or "").upper()) if word]


def _band_name(text: str, expected: tuple[str, ...]) -> str | None:
    """The one name of `expected` that `text` spells, ignoring case, leading zeros and separators."""
    tokens = {re.sub(r"^B0+(?=\d)", "B", token) for token in description_words(text)}
    found = [name for name in expected if name.upper() in tokens]
    return found[0] if len(found) == 1 else None
