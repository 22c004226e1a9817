"""Pairs whose cloud-free target shows snow where the cloudy input shows clear, snow-free ground.

A cloudy and a cloud-free acquisition of SEN12MS-CR can be weeks apart. Where snow fell between them, the
target holds a surface the input never saw, and no cloud remover should produce it. Such pairs are
flagged from the two images alone (never from a network's output), so a table can show them apart.
Snow is the Sentinel-2 rule (Sen2Cor's, simplified): NDSI of B3 and B11 above 0.42 and B8 above 0.11.
"""

from __future__ import annotations

import numpy as np

SNOW_NDSI = 0.42
SNOW_NIR = 0.11
CHANGED_SHARE = 0.25  # a pair is flagged when this share of its pixels is new snow over clear ground
SAME_SURFACE = "same surface"
SNOW_IN_TARGET = "snow in target only"


def snow_mask(reflectance: np.ndarray) -> np.ndarray:
    """Snow-covered pixels (H, W) bool of a (13, H, W) Sentinel-2 reflectance image."""
    green, nir, swir = reflectance[2], reflectance[7], reflectance[11]
    ndsi = (green - swir) / np.maximum(green + swir, 1e-6)
    return (ndsi > SNOW_NDSI) & (nir > SNOW_NIR)


def new_snow_share(cloudy: np.ndarray, target: np.ndarray, cloud_mask: np.ndarray | None) -> float:
    """Share of pixels that are snow in the target but clear, snow-free ground in the cloudy input."""
    clear_ground = ~snow_mask(cloudy)
    if cloud_mask is not None:
        clear_ground &= cloud_mask <= 0.5
    return float((snow_mask(target) & clear_ground).mean())


def surface_group(share: float) -> str:
    """SAME_SURFACE, or SNOW_IN_TARGET when `new_snow_share` reaches CHANGED_SHARE."""
    return SNOW_IN_TARGET if share >= CHANGED_SHARE else SAME_SURFACE
