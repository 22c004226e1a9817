"""How much each tile's prediction counts at each of its pixels, so overlapping tiles leave no seams.

'hann' (default): 1 inside the tile and a raised-cosine ramp across the overlap band on each side;
the ramps of two neighbours sum to 1, so the blend is an exact partition of unity. 'gaussian':
sigma = tile / 8 around the centre (MONAI, nnU-Net). Both keep a small floor so that pixels at
the scene edge, covered by one tile's ramp only, still get a usable weight.
"""

from __future__ import annotations

import numpy as np

from ibhfn.errors import IbhfnError

BLEND_WINDOWS = ("hann", "gaussian")
WEIGHT_FLOOR = 1e-3


def _hann_profile(tile: int, overlap: int) -> np.ndarray:
    profile = np.ones(tile, np.float64)
    if overlap:
        ramp = 0.5 * (1.0 - np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap))
        profile[:overlap] = ramp
        profile[tile - overlap:] = np.minimum(profile[tile - overlap:], ramp[::-1])
    return profile


def _gaussian_profile(tile: int) -> np.ndarray:
    offset = np.arange(tile) - (tile - 1) / 2.0
    return np.exp(-0.5 * (offset / (tile / 8.0)) ** 2)


def blend_window(tile: int, overlap: int, kind: str = "hann", floor: float = WEIGHT_FLOOR) -> np.ndarray:
    """The (tile, tile) float32 weight of a tile's pixels: separable, symmetric, at least `floor`."""
    if kind == "hann":
        profile = _hann_profile(tile, overlap)
    elif kind == "gaussian":
        profile = _gaussian_profile(tile)
    else:
        raise IbhfnError(f"unknown blend window {kind!r}; choose one of {', '.join(BLEND_WINDOWS)}")
    return np.maximum(np.outer(profile, profile), floor).astype(np.float32)
