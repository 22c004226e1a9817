"""Cloud masks for cloudy Sentinel-2 patches: s2cloudless, or a threshold rule that needs nothing.

'threshold' is the rule-based score DSen2-CR uses (after Schmitt et al. 2019, "Aggregating
cloud-free Sentinel-2 images with Google Earth Engine"): bright in blue, aerosol and visible, not
snow (low NDSI), closed and smoothed over a small box. 's2cloudless' runs Sentinel Hub's pixel
classifier (it ships its own model); it is imported only when asked for.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from ibhfn.errors import DependencyError, InputError

CLOUD_MASKS = ("none", "threshold", "s2cloudless")


def _rescaled(values: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.clip((values - low) / (high - low), 0.0, 1.0)


def threshold_cloud_mask(dn: np.ndarray) -> np.ndarray:
    """Cloud score (H, W) float32 in [0, 1] for S2 DN (13, H, W); above 0.5 counts as cloud."""
    r = np.asarray(dn, np.float32) / 10000.0
    score = _rescaled(r[1], 0.1, 0.5)  # B2
    score = np.minimum(score, _rescaled(r[0], 0.1, 0.3))  # B1
    score = np.minimum(score, _rescaled(r[0] + r[10], 0.15, 0.2))  # B1 + B10 (cirrus)
    score = np.minimum(score, _rescaled(r[3] + r[2] + r[1], 0.2, 0.8))  # visible
    ndsi = (r[2] - r[11]) / np.maximum(r[2] + r[11], 1e-6)  # B3 vs B11: snow is not cloud
    score = np.minimum(score, _rescaled(ndsi, 0.8, 0.6))
    score = ndimage.grey_closing(score, size=(5, 5))
    score = ndimage.uniform_filter(score, size=7, mode="constant")
    return np.clip(score, 0.0, 1.0).astype(np.float32)


def s2cloudless_mask() -> Callable[[np.ndarray], np.ndarray]:
    """A function mapping S2 DN (13, H, W) to s2cloudless cloud probability (H, W) float32."""
    try:
        from s2cloudless import S2PixelCloudDetector
    except ImportError:
        raise DependencyError(
            "cloud_mask='s2cloudless' needs the s2cloudless package (pip install s2cloudless); "
            "use cloud_mask='threshold' to go without"
        ) from None
    detector = S2PixelCloudDetector(threshold=0.4, average_over=4, dilation_size=2, all_bands=True)

    def probability(dn: np.ndarray) -> np.ndarray:
        bands_last = np.moveaxis(np.asarray(dn, np.float32) / 10000.0, 0, -1)[None]
        return detector.get_cloud_probability_maps(bands_last)[0].astype(np.float32)

    return probability


def cloud_masker(method: str) -> Callable[[np.ndarray], np.ndarray] | None:
    """The cloud-mask function for a method name ('none' gives None)."""
    if method == "none":
        return None
    if method == "threshold":
        return threshold_cloud_mask
    if method == "s2cloudless":
        return s2cloudless_mask()
    raise InputError(f"unknown cloud mask {method!r}; choose one of {', '.join(CLOUD_MASKS)}")
