"""Band order of the two sensors, as SEN12MS-CR distributes them and as every engine expects them."""

from __future__ import annotations

S2_BANDS: tuple[str, ...] = (
    "B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12",
)
S1_BANDS: tuple[str, ...] = ("VV", "VH")

# Indices of B4, B3, B2 in S2_BANDS: the true-colour composite used for quicklooks.
TRUE_COLOUR: tuple[int, int, int] = (3, 2, 1)
