"""Whether a scene's values are in the units the network expects: S1 backscatter in dB, S2 DN.

The commonest mistakes with real products pass every check of bands, types and grids: S1 left in
linear power (SNAP's default output), S2 written as reflectance in [0, 1], and S2 of processing
baseline 04.00 or later (DN = reflectance x 10000 + 1000) read without its offset (given by
`--s2-offset` or declared by the file, `s2_offset.py`), or older S2 read with it. All would run and
give a plausible-looking but wrong restoration, so a small window from the scene's centre is looked
at when the scene is opened, and what looks wrong becomes a warning naming the file.

The offset shows in the darkest values: the cirrus band B10 is near 0 under anything but high
cloud (medians of 13 and 45 DN in the real SEN12MS-CR patch in ../shared, clear and cloudy), so a
window whose darkest value sits just above 1000 DN is almost surely offset (one far above it is
under thick cloud, and is not judged), and one where many values fall below the offset is not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ibhfn.preprocessing import S2_BASELINE_04_OFFSET
from ibhfn.runtime.s2_offset import GIVEN, NOT_DECLARED

SAMPLE = 64  # px on a side of the central window that is looked at: enough for units, cheap for small scenes
S1_DB_MEDIAN_MAX = 0.0  # dB backscatter of a whole window is well below 0 (VV about -10, VH about -17 over land)
S2_REFLECTANCE_MAX = 2.0  # S2 values no larger than this are reflectance, not DN (2 DN is reflectance 0.0002)
OFFSET_MARGIN_DN = 300  # an offset product's darkest values (clear-sky B10) sit this close above the offset
NEGATIVE_DN = 100  # DN below the offset by more than this are reflectance below -0.01, rare even in dark bands
NEGATIVE_SHARE_MAX = 0.01  # more such values than this share of the window: the offset given is not the product's


def sample_window(height: int, width: int) -> tuple[int, int, int, int]:
    """(row, col, height, width) of the central SAMPLE x SAMPLE window, or the whole scene if smaller."""
    rows, cols = min(SAMPLE, height), min(SAMPLE, width)
    return (height - rows) // 2, (width - cols) // 2, rows, cols


def unit_warnings(
    s1_path: Path,
    s1_db: np.ndarray,
    s2_path: Path,
    s2_dn: np.ndarray,
    valid: np.ndarray,
    *,
    s2_offset: int = 0,
    s2_offset_origin: str = NOT_DECLARED,
) -> list[str]:
    """What looks out of units in a window of S1 (2, h, w) and S2 (13, h, w), where S2 is `valid`.

    `s2_offset` is the product's RADIO_ADD_OFFSET the scene is read with, and `s2_offset_origin`
    where it came from (`SceneOffset.origin`), which the advice depends on.
    """
    warnings = []
    s1 = s1_db[:, valid]
    s1 = s1[np.isfinite(s1) & (s1 != 0)]
    if s1.size and np.median(s1) > S1_DB_MEDIAN_MAX:
        warnings.append(
            f"{s1_path}: backscatter has a median of {np.median(s1):.3g}, above 0 dB: it looks like "
            "linear power, not dB (convert with 10 * log10)"
        )
    s2 = s2_dn[:, valid]
    s2 = s2[np.isfinite(s2)]
    if not s2.size:
        return warnings
    if s2.max() <= S2_REFLECTANCE_MAX:
        warnings.append(
            f"{s2_path}: values are at most {s2.max():.3g}: they look like reflectance in [0, 1], "
            "not DN = reflectance x 10000"
        )
    else:
        warnings += _offset_warnings(s2_path, s2, s2_offset, s2_offset_origin)
    return warnings


def _offset_warnings(s2_path: Path, s2_dn: np.ndarray, s2_offset: int, origin: str) -> list[str]:
    """Whether S2's darkest DN (valid ones, flattened) contradict the offset the scene is read with."""
    offset = -S2_BASELINE_04_OFFSET
    if s2_offset == 0 and offset <= s2_dn.min() < offset + OFFSET_MARGIN_DN:  # far above: a window under thick cloud
        return [
            f"{s2_path}: no value is below {offset} DN, not even in the cirrus band, and the darkest sit just "
            f"above it: it looks like a product of processing baseline 04.00 or later (DN = reflectance x 10000 + "
            f"{offset}), read without an offset ({_said_by(origin)}); if it is, "
            f"{_advice(origin, S2_BASELINE_04_OFFSET)}"
        ]
    negative = float(np.mean(s2_dn < -s2_offset - NEGATIVE_DN)) if s2_offset < 0 else 0.0
    if negative > NEGATIVE_SHARE_MAX:
        return [
            f"{s2_path}: {negative:.0%} of values are below {-s2_offset - NEGATIVE_DN} DN, reflectance below "
            f"-0.01 with an add-offset of {s2_offset} DN ({_said_by(origin)}): it looks like a product without "
            f"that offset (before processing baseline 04.00, or SEN12MS-CR); if it is, {_advice(origin, 0)}"
        ]
    return []


def _said_by(origin: str) -> str:
    """Who chose the offset the scene is read with, for a message."""
    if origin == GIVEN:
        return "as --s2-offset says"
    return "the file declares none" if origin == NOT_DECLARED else f"as the file declares: {origin}"


def _advice(origin: str, offset: int) -> str:
    """How to read the scene with `offset`: a declared offset is the file's to correct; any can be overridden."""
    run = f"run it with --s2-offset {offset}"
    return run if origin in (GIVEN, NOT_DECLARED) else f"correct the file's metadata or {run}"
