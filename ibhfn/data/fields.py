"""Smooth random fields defined at every point of an unbounded pixel grid.

Any window of a synthetic scene can therefore be generated on its own, and strips written one after
the other join without seams. The fields are value noise: pseudo-random values on a square lattice
(a hash of seed, lattice row and lattice column) blended with a smoothstep, summed over octaves of
halving cell size (fractal noise). Coordinates are pixel rows and columns as floats, so a field can
also be sampled on another grid (for example Sentinel-1 pixels mapped into the Sentinel-2 grid).
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_ROW = np.uint64(0xC2B2AE3D27D4EB4F)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
# Standard deviation of `fractal` for the default persistence (measured over 10^6 points, cell 64); used to
# scale fields to roughly unit variance so class thresholds read as multiples of sigma.
_FRACTAL_STD = {1: 0.218, 2: 0.162, 3: 0.142, 4: 0.133, 5: 0.129}


def _hash_uniform(seed: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) values, a fixed function of (seed, row, col) (splitmix64 finaliser)."""
    with np.errstate(over="ignore"):
        h = rows.astype(np.int64).view(np.uint64) * _ROW
        h = h ^ (cols.astype(np.int64).view(np.uint64) * _GOLDEN)
        h = h ^ np.uint64((seed * 0x165667B1 + 0x27D4EB2F) & 0xFFFFFFFFFFFFFFFF)
        h = (h ^ (h >> np.uint64(30))) * _MUL1
        h = (h ^ (h >> np.uint64(27))) * _MUL2
        h = h ^ (h >> np.uint64(31))
    return (h >> np.uint64(11)).astype(np.float64) * (2.0**-53)


def value_noise(seed: int, rows: np.ndarray, cols: np.ndarray, cell: float) -> np.ndarray:
    """Value noise in [0, 1] with lattice spacing `cell` pixels, at broadcastable row/col arrays."""
    fy, fx = np.asarray(rows, np.float64) / cell, np.asarray(cols, np.float64) / cell
    iy, ix = np.floor(fy).astype(np.int64), np.floor(fx).astype(np.int64)
    ty, tx = fy - iy, fx - ix
    sy, sx = ty * ty * (3.0 - 2.0 * ty), tx * tx * (3.0 - 2.0 * tx)
    y0, x0 = int(iy.min()), int(ix.min())
    lattice = _hash_uniform(seed, np.arange(y0, int(iy.max()) + 2)[:, None], np.arange(x0, int(ix.max()) + 2)[None, :])
    ry, rx = iy - y0, ix - x0
    top = lattice[ry, rx] * (1.0 - sx) + lattice[ry, rx + 1] * sx
    bottom = lattice[ry + 1, rx] * (1.0 - sx) + lattice[ry + 1, rx + 1] * sx
    return top * (1.0 - sy) + bottom * sy


def fractal(seed: int, rows: np.ndarray, cols: np.ndarray, cell: float, octaves: int = 4) -> np.ndarray:
    """Fractal value noise scaled to mean 0 and about unit standard deviation, as float32."""
    total = np.zeros(np.broadcast_shapes(rows.shape, cols.shape))
    weight, norm = 1.0, 0.0
    for octave in range(octaves):
        total = total + weight * value_noise(seed * 131 + octave, rows, cols, cell / 2**octave)
        norm += weight
        weight *= 0.5
    return ((total / norm - 0.5) / _FRACTAL_STD[octaves]).astype(np.float32)


def smoothstep(value: np.ndarray, edge0: float, edge1: float) -> np.ndarray:
    """0 below edge0, 1 above edge1, a smooth cubic ramp between."""
    t = np.clip((value - edge0) / (edge1 - edge0), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)
