"""How much each tile's prediction counts at each of its pixels, so overlapping tiles leave no seams.

'hann' (default): 1 inside the tile and a raised-cosine ramp across the overlap band on each side;
the ramps of two neighbours sum to 1, so the blend is an exact partition of unity. 'gaussian':
sigma = tile / 8 around the centre (MONAI, nnU-Net). A tile's border pixels are the least
reliable (the network pads with zeros there), so they get the least weight, except on a side that
lies on the scene edge: no tile lies beyond it, so that side keeps full weight. This matters for
the last tile of a row, shifted inward: its neighbour's border then falls on its full-weight part.
A small floor on each axis keeps every weight positive.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ibhfn.errors import IbhfnError

BLEND_WINDOWS = ("hann", "gaussian")
WEIGHT_FLOOR = 1e-3


def _hann_profile(tile: int, overlap: int) -> np.ndarray:
    profile = np.ones(tile, np.float64)
    if overlap:
        ramp = 0.5 * (1.0 - np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap))
        profile[:overlap] = ramp
        profile[tile - overlap :] = np.minimum(profile[tile - overlap :], ramp[::-1])
    return profile


def _gaussian_profile(tile: int) -> np.ndarray:
    offset = np.arange(tile) - (tile - 1) / 2.0
    profile: np.ndarray = np.exp(-0.5 * (offset / (tile / 8.0)) ** 2)
    return profile


def _profile(tile: int, overlap: int, kind: str, first_on_edge: bool, last_on_edge: bool) -> np.ndarray:
    if kind == "hann":
        profile = _hann_profile(tile, overlap)
    elif kind == "gaussian":
        profile = _gaussian_profile(tile)
    else:
        raise IbhfnError(f"unknown blend window {kind!r}; choose one of {', '.join(BLEND_WINDOWS)}")
    if first_on_edge:
        profile[: tile // 2] = 1.0
    if last_on_edge:
        profile[tile // 2 :] = 1.0
    return profile


@lru_cache(maxsize=64)
def blend_window(
    tile: int,
    overlap: int,
    kind: str = "hann",
    *,
    scene_edges: tuple[bool, bool, bool, bool] = (False, False, False, False),
    floor: float = WEIGHT_FLOOR,
) -> np.ndarray:
    """The (tile, tile) float32 weight of a tile's pixels, read-only.

    `scene_edges` says which of the tile's top, bottom, left and right sides lie on the scene edge.
    """
    top, bottom, left, right = scene_edges
    rows = np.maximum(_profile(tile, overlap, kind, top, bottom), floor)
    cols = np.maximum(_profile(tile, overlap, kind, left, right), floor)
    window = np.outer(rows, cols).astype(np.float32)
    window.flags.writeable = False
    return window
