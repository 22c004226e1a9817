"""Whether a scene's values are in the units the network expects: S1 backscatter in dB, S2 DN.

The commonest mistakes with real products pass every check of bands, types and grids: S1 left in
linear power (SNAP's default output) and S2 written as reflectance in [0, 1]. Both would run and
give a plausible-looking but wrong restoration, so a small window from the scene's centre is
looked at when the scene is opened, and what looks wrong becomes a warning naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE = 64  # px on a side of the central window that is looked at: enough for units, cheap for small scenes
S1_DB_MEDIAN_MAX = 0.0  # dB backscatter of a whole window is well below 0 (VV about -10, VH about -17 over land)
S2_REFLECTANCE_MAX = 2.0  # S2 values no larger than this are reflectance, not DN (2 DN is reflectance 0.0002)


def sample_window(height: int, width: int) -> tuple[int, int, int, int]:
    """(row, col, height, width) of the central SAMPLE x SAMPLE window, or the whole scene if smaller."""
    rows, cols = min(SAMPLE, height), min(SAMPLE, width)
    return (height - rows) // 2, (width - cols) // 2, rows, cols


def unit_warnings(s1_path: Path, s1_db: np.ndarray, s2_path: Path, s2_dn: np.ndarray, valid: np.ndarray) -> list[str]:
    """What looks out of units in a window of S1 (2, h, w) and S2 (13, h, w), where S2 is `valid`."""
    warnings = []
    s1 = s1_db[:, valid]
    s1 = s1[np.isfinite(s1) & (s1 != 0)]
    if s1.size and np.median(s1) > S1_DB_MEDIAN_MAX:
        warnings.append(f"{s1_path}: backscatter has a median of {np.median(s1):.3g}, above 0 dB: it looks like "
                        "linear power, not dB (convert with 10 * log10)")
    s2 = s2_dn[:, valid]
    if s2.size and np.nanmax(s2) <= S2_REFLECTANCE_MAX:
        warnings.append(f"{s2_path}: values are at most {np.nanmax(s2):.3g}: they look like reflectance in [0, 1], "
                        "not DN = reflectance x 10000")
    return warnings
