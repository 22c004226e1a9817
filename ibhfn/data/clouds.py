"""Synthetic clouds over clear Sentinel-2 reflectance: thick and thin clouds and their shadows.

Cloud opacity mixes real cloud shapes (s2cloudless probability maps of real Sentinel-2 dates,
`resources/real_cloud_probability.npz`, mirror-tiled and stretched over the scene) with fractal
noise. Thick clouds are opaque, bright and spectrally flat; thin clouds are semi-transparent, their
opacity strongest in the blue and falling with wavelength, and bright in the cirrus band B10.
Thick clouds cast shadows displaced along the sun direction. Some acquisitions also carry a light
residual haze that SEN12MS-CR's "cloud-free" images keep as well (`residual_haze`): it belongs to
the target, so a network learns to leave it. Spectra and levels are fitted to real Sentinel-2
data (docs/synthetic-data.md). Like the landscape, everything is a
function of pixel coordinates, so any window can be rendered alone and strips join seamlessly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np

from ibhfn.data.fields import fractal, smoothstep

# Central wavelengths (nm) of S2_BANDS, for the wavelength dependence of thin clouds.
WAVELENGTHS_NM = np.array([443, 490, 560, 665, 705, 740, 783, 842, 865, 945, 1375, 1610, 2190], np.float32)
# TOA reflectance of an opaque cloud top: flat over VIS, rising into NIR, lower in SWIR and in the
# cirrus band B10 (the mean of the opaque pixels of the real SEN12MS-CR-TS series).
CLOUD_SPECTRUM = np.array([0.63, 0.62, 0.58, 0.62, 0.63, 0.67, 0.69, 0.67, 0.70, 0.36, 0.066, 0.41, 0.32], np.float32)
CLOUD_BRIGHTNESS = (0.8, 1.15)  # range of an acquisition's cloud-top brightness, times CLOUD_SPECTRUM
HAZE_CHANCE = 0.4  # share of acquisitions with residual haze in the clear image
HAZE_MAX = 0.12  # its largest opacity at blue
# Per-band weight of thin-cloud opacity: 1 at blue (B2), falling as wavelength^-1.5.
THIN_WEIGHT = np.minimum((490.0 / WAVELENGTHS_NM) ** 1.5, 1.2).astype(np.float32)
# Fraction of the TOA reflectance a full shadow removes, per band: little in the blue, where path
# radiance and skylight stay, most in NIR and SWIR, none in B10 (its signal comes from above the
# clouds). The shape of the real SEN12MS-CR-TS shadows, deepened to a full shadow.
SHADOW_DARKENING = np.array([0.05, 0.25, 0.35, 0.45, 0.50, 0.55, 0.57, 0.60, 0.60, 0.60, 0.0, 0.65, 0.68], np.float32)
SHADOW_DISTANCE = (10.0, 90.0)  # px from a cloud to its shadow: low to high clouds, low to high sun


@functools.cache
def real_cloud_shapes() -> np.ndarray:
    """The partly cloudy real probability maps, float32 (N, 101, 100) in [0, 1]."""
    with (resources.files("ibhfn.data") / "resources" / "real_cloud_probability.npz").open("rb") as handle:
        maps = np.load(handle)["cloud_probability"].astype(np.float32) / 255.0
    cover = (maps > 0.5).mean(axis=(1, 2))
    return maps[(cover > 0.15) & (cover < 0.85)]


def _mirrored(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear sample of `image` at fractional positions, tiled by mirroring (so without seams)."""

    def fold(position: np.ndarray, size: int) -> np.ndarray:
        period = 2 * (size - 1)
        position = np.mod(position, period)
        return np.where(position > size - 1, period - position, position)

    r, c = fold(np.asarray(rows, np.float64), image.shape[0]), fold(np.asarray(cols, np.float64), image.shape[1])
    r0 = np.minimum(np.floor(r).astype(np.int64), image.shape[0] - 2)
    c0 = np.minimum(np.floor(c).astype(np.int64), image.shape[1] - 2)
    tr, tc = r - r0, c - c0
    top = image[r0, c0] * (1 - tc) + image[r0, c0 + 1] * tc
    bottom = image[r0 + 1, c0] * (1 - tc) + image[r0 + 1, c0 + 1] * tc
    return (top * (1 - tr) + bottom * tr).astype(np.float32)


def _draw_haze(rng: np.random.Generator) -> float:
    """Peak opacity of an acquisition's residual haze: none for most, up to HAZE_MAX for HAZE_CHANCE of them."""
    hazy, amount = rng.uniform(), rng.uniform(0, HAZE_MAX)
    return float(amount) if hazy < HAZE_CHANCE else 0.0


@dataclass(frozen=True)
class Opacity:
    """Cloud opacities at a set of pixels, each (H, W) float32 in [0, 1]."""

    thick: np.ndarray
    thin: np.ndarray
    shadow: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """The true cloud mask: how much cloud covers each pixel, thick or thin."""
        return np.maximum(self.thick, self.thin)


@dataclass(frozen=True)
class CloudField:
    """The clouds of one acquisition: shapes, amount and sun direction."""

    seed: int
    shape_index: int  # which real cloud map
    stretch: float  # scene pixels per real-map pixel
    offset: tuple[float, float]  # where the scene's origin falls in the (tiled) real map
    cloudiness: float  # 0 = clear sky, 1 = overcast
    thin_amount: float  # peak opacity of thin cloud
    shadow_offset: tuple[float, float]  # (rows, cols) from a cloud to its shadow
    brightness: float = 1.0  # cloud-top brightness, times CLOUD_SPECTRUM
    haze: float = 0.0  # peak opacity of the residual haze kept in the clear image

    @classmethod
    def draw(cls, rng: np.random.Generator, cloudiness: float | None = None) -> CloudField:
        """A random acquisition; `cloudiness` in [0, 1] fixes the amount of cloud."""
        angle = rng.uniform(0, 2 * np.pi)
        distance = rng.uniform(*SHADOW_DISTANCE)
        return cls(
            seed=int(rng.integers(0, 2**31)),
            shape_index=int(rng.integers(0, len(real_cloud_shapes()))),
            stretch=float(rng.uniform(1.5, 4.0)),
            offset=(float(rng.uniform(0, 200)), float(rng.uniform(0, 200))),
            cloudiness=float(rng.uniform(0, 1) if cloudiness is None else cloudiness),
            thin_amount=float(rng.uniform(0.25, 0.6)),
            shadow_offset=(float(distance * np.sin(angle)), float(distance * np.cos(angle))),
            brightness=float(rng.uniform(*CLOUD_BRIGHTNESS)),  # drawn last, so older draws keep their values
            haze=_draw_haze(rng),
        )

    def _thickness(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shape = real_cloud_shapes()[self.shape_index]
        real = _mirrored(shape, rows / self.stretch + self.offset[0], cols / self.stretch + self.offset[1])
        noise = fractal(self.seed, rows, cols, 96.0, 4)
        # Both sources in about [0, 1]; the cloudiness moves the level at which cloud begins.
        dense = 0.55 * real + 0.45 * (0.5 + 0.25 * noise)
        haze = 0.5 * real + 0.5 * (0.5 + 0.25 * fractal(self.seed + 1, rows, cols, 160.0, 3))
        level = 0.95 - 0.75 * self.cloudiness
        return smoothstep(dense, level, level + 0.12), smoothstep(haze, level - 0.2, level + 0.1)

    def opacity(self, rows: np.ndarray, cols: np.ndarray) -> Opacity:
        """Thick, thin and shadow opacity at broadcastable pixel rows and columns."""
        thick, haze = self._thickness(rows, cols)
        thin = np.float32(self.thin_amount) * haze * (1.0 - thick)
        cast, _ = self._thickness(rows - self.shadow_offset[0], cols - self.shadow_offset[1])
        shadow = cast * (1.0 - thick)
        return Opacity(thick, thin.astype(np.float32), shadow.astype(np.float32))

    def cover(self, reflectance: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, Opacity]:
        """Cloudy TOA reflectance (13, H, W) over clear reflectance at these pixels, and the opacities."""
        opacity = self.opacity(rows, cols)
        ground = reflectance * (1.0 - SHADOW_DARKENING[:, None, None] * opacity.shadow)
        alpha = np.clip(opacity.thick + opacity.thin * THIN_WEIGHT[:, None, None], 0.0, 1.0)
        texture = 1.0 + 0.06 * fractal(self.seed + 2, rows, cols, 12.0, 2)
        cloud = np.float32(self.brightness) * CLOUD_SPECTRUM[:, None, None] * texture
        return (ground * (1.0 - alpha) + cloud * alpha).astype(np.float32), opacity

    def residual_haze(self, reflectance: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Clear reflectance (13, H, W) under this acquisition's light haze, smooth over the scene."""
        if self.haze <= 0.0:
            return reflectance
        variation = np.clip(fractal(self.seed + 3, rows, cols, 200.0, 2), -1.0, 1.0)
        alpha = np.float32(self.haze) * (0.6 + 0.4 * variation) * THIN_WEIGHT[:, None, None]
        return (reflectance * (1.0 - alpha) + CLOUD_SPECTRUM[:, None, None] * alpha).astype(np.float32)
