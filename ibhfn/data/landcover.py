"""A synthetic landscape: land-cover classes with spatial structure, their Sentinel-2 spectra and
their Sentinel-1 backscatter, all driven by the same smooth fields so SAR tells the classes apart.

Classes come from three fields: terrain height (low ground floods to water, high ground carries
snow and ice, lower in winter), settlement density (urban) and soil moisture (vegetation where
moist, bare soil where dry). Within a class, a vigour/roughness field and a fine brightness field
vary the values, so the scene has texture at every scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from ibhfn.data.fields import fractal


class LandCover(IntEnum):
    """Land-cover classes of the synthetic landscape (values of `SyntheticPatch.land_cover`)."""

    WATER = 0
    VEGETATION = 1
    BARE_SOIL = 2
    URBAN = 3
    SNOW_ICE = 4


# Top-of-atmosphere reflectance per class in S2_BANDS order (B1 B2 B3 B4 B5 B6 B7 B8 B8A B9 B10 B11 B12).
# Shapes follow typical L1C spectra: water dark beyond red; vegetation with the red edge (B5-B7) and
# the NIR plateau (B8, B8A); soil rising into SWIR; snow bright in the visible and dark in SWIR.
# B9 (water vapour) and B10 (cirrus) are absorption bands and stay low over clear ground; B1 and B2
# carry the path radiance of top-of-atmosphere data. Levels fitted to real clear SEN12MS-CR(-TS)
# patches, and water's backscatter and the speckle to real S1 (docs/synthetic-data.md).
SPECTRA = np.array(
    [
        [0.125, 0.095, 0.072, 0.045, 0.038, 0.030, 0.028, 0.024, 0.021, 0.009, 0.0012, 0.010, 0.007],
        [0.135, 0.100, 0.085, 0.060, 0.105, 0.230, 0.285, 0.300, 0.320, 0.090, 0.0030, 0.175, 0.090],
        [0.150, 0.130, 0.135, 0.150, 0.170, 0.195, 0.215, 0.235, 0.250, 0.070, 0.0040, 0.310, 0.250],
        [0.160, 0.140, 0.135, 0.140, 0.150, 0.165, 0.178, 0.188, 0.195, 0.055, 0.0040, 0.210, 0.180],
        [0.620, 0.600, 0.580, 0.560, 0.550, 0.520, 0.500, 0.480, 0.450, 0.150, 0.0050, 0.080, 0.050],
    ],
    dtype=np.float32,
)
# What full vigour adds to the vegetation spectrum: greener, darker red, stronger red edge and NIR.
VIGOUR = np.array(
    [-0.005, -0.010, 0.010, -0.020, 0.010, 0.060, 0.080, 0.090, 0.090, 0.030, 0.0, -0.030, -0.030],
    dtype=np.float32,
)
# Mean Sentinel-1 backscatter per class, dB (VV, VH), and how far the class field moves it.
BACKSCATTER_DB = np.array([[-24.0, -27.0], [-10.0, -16.5], [-13.0, -21.0], [-4.5, -11.0], [-15.0, -22.0]], np.float32)
BACKSCATTER_SPREAD_DB = np.array([3.0, 1.5, 2.5, 2.0, 2.0], np.float32)
LOOKS = 5.5  # equivalent number of looks of the multiplicative Gamma speckle

# Snow line (terrain height in sigma) and vegetation vigour per season.
SEASONS: dict[str, tuple[float, float]] = {
    "spring": (1.25, 0.6),
    "summer": (1.6, 1.0),
    "fall": (1.35, 0.4),
    "winter": (0.55, -0.3),
}


@dataclass(frozen=True)
class Surface:
    """Clear-sky ground at a set of pixels: classes (H, W) uint8 and reflectance (13, H, W) float32."""

    land_cover: np.ndarray
    reflectance: np.ndarray
    class_field: np.ndarray  # within-class variation in [-1, 1], shared by S1 and S2


@dataclass(frozen=True)
class Landscape:
    """The ground of one synthetic scene: its seed, season and class proportions."""

    seed: int
    season: str = "summer"
    water_level: float = -0.9  # terrain height (sigma) below which there is water
    urban_level: float = 1.1  # settlement density (sigma) above which there is town
    dryness: float = 0.0  # moisture (sigma) below which vegetation gives way to bare soil
    scale: float = 1.0  # multiplies every field's feature size

    @classmethod
    def draw(cls, rng: np.random.Generator, season: str = "summer") -> Landscape:
        """A landscape with random seed and class proportions."""
        if season not in SEASONS:
            raise ValueError(f"unknown season {season!r}; choose one of {', '.join(SEASONS)}")
        return cls(
            seed=int(rng.integers(0, 2**31)),
            season=season,
            water_level=float(rng.uniform(-1.6, -0.5)),
            urban_level=float(rng.uniform(0.7, 1.6)),
            dryness=float(rng.uniform(-0.8, 0.6)),
            scale=float(rng.uniform(0.7, 1.4)),
        )

    def surface(self, rows: np.ndarray, cols: np.ndarray) -> Surface:
        """Classes and clear TOA reflectance at broadcastable pixel rows and columns."""
        s, k = self.seed, self.scale
        height = fractal(s + 1, rows, cols, 160 * k, 5)
        towns = fractal(s + 2, rows, cols, 48 * k, 3)
        moisture = fractal(s + 3, rows, cols, 64 * k, 4)
        variation = np.clip(fractal(s + 4, rows, cols, 24 * k, 3) / 2.0, -1.0, 1.0)
        snow_line, vigour = SEASONS[self.season]

        land = np.full(np.broadcast_shapes(height.shape, moisture.shape), LandCover.BARE_SOIL, np.uint8)
        land[moisture > self.dryness] = LandCover.VEGETATION
        land[towns > self.urban_level] = LandCover.URBAN
        land[height > snow_line] = LandCover.SNOW_ICE
        land[height < self.water_level] = LandCover.WATER

        reflectance = np.moveaxis(SPECTRA[land], -1, 0)
        is_vegetation = land == LandCover.VEGETATION
        reflectance += VIGOUR[:, None, None] * (np.float32(vigour) + 0.5 * variation) * is_vegetation
        brightness = 1.0 + 0.08 * variation + 0.05 * fractal(s + 5, rows, cols, 6 * k, 2)
        reflectance *= brightness
        return Surface(land, np.clip(reflectance, 0.0005, 1.5).astype(np.float32), variation)

    def backscatter_db(self, surface: Surface, rng: np.random.Generator) -> np.ndarray:
        """Sentinel-1 VV, VH in dB (2, H, W) for a surface, with multiplicative Gamma speckle."""
        land = surface.land_cover
        mean_db = np.moveaxis(BACKSCATTER_DB[land], -1, 0) + BACKSCATTER_SPREAD_DB[land] * surface.class_field
        speckle = rng.gamma(LOOKS, 1.0 / LOOKS, size=mean_db.shape).astype(np.float32)
        return (mean_db + 10.0 * np.log10(speckle)).astype(np.float32)
