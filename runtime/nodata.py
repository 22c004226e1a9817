"""Which Sentinel-2 pixels carry no data, and a neutral value for them inside a tile.

A pixel is nodata when every band equals the file's nodata value (0 when it declares none: the
value Sentinel-2 products use outside the swath) or when any band is NaN or infinite (+-inf in a
float S2 is no reflectance: it would reach the network clipped to 0 or to the brightest DN). Such
pixels stay nodata in the output. Inside a tile they are filled with the band means of that tile's
valid pixels, so the network does not see an artificial black edge next to real data.
"""

from __future__ import annotations

import numpy as np


def valid_pixels(dn: np.ndarray, nodata: float | None, *, finite: bool = False) -> np.ndarray:
    """(H, W) bool: True where the (bands, H, W) S2 values hold data; `finite`: they cannot be NaN or infinite
    (read from an integer file), so that is not checked."""
    fill = 0.0 if nodata is None or np.isnan(nodata) else nodata
    valid: np.ndarray = ~np.all(dn == fill, axis=0)
    if not finite:
        valid &= np.all(np.isfinite(dn), axis=0)
    return valid


def fill_invalid(optical: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace invalid pixels of (bands, H, W) network input by the band means of the valid ones."""
    if valid.all() or not valid.any():
        return optical
    means = optical[:, valid].mean(axis=1)
    return np.where(valid, optical, means[:, None, None]).astype(np.float32, copy=False)
