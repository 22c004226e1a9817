"""Synthetic Sentinel-1 / Sentinel-2 data in the real formats, deterministic by seed.

Two products, both built from `render` (one window of a landscape under one cloud field):

* `write_tree`: a SEN12MS-CR-layout tree (`<root>/<roi>_<season>_s1/s1_<scene>/..._p<patch>.tif`,
  `_s2`, `_s2_cloudy`) of 256 x 256 patches, using real scene ids from the packaged splits so the
  split filters of `ibhfn.data.SEN12MSCR` work on it. S1 float32 dB (2 bands), S2 uint16 DN
  (13 bands), UTM CRS, 10 m pixels, striped (untiled) GeoTIFFs, as the dataset is distributed.
* `write_scene`: one whole scene for the runtime, any size, written strip by strip so an
  8192 x 8192 scene never sits in memory. In `out_dir`:
  `<name>_s1.tif` (S1 dB) and `<name>_s2.tif` (cloudy S2 DN), the pair `ibhfn-run` finds by its
  naming rule (`runtime/pairing.py`), and `<name>_target.tif` (cloud-free S2 DN) and
  `<name>_cloudmask.tif` (true cloud opacity, float32 [0, 1]), which that rule ignores.

The land cover drives S1 and S2 alike (`ibhfn.data.landcover`), so the cloud-free ground under a
cloud is partly recoverable from SAR, as with real data; the clouds are `ibhfn.data.clouds`.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.errors import CRSError, RasterioError
from rasterio.io import DatasetWriter
from rasterio.warp import transform, transform_bounds
from rasterio.windows import Window

from ibhfn.atomic import PARTIAL, atomic_path
from ibhfn.data.clouds import CloudField
from ibhfn.data.landcover import SEASONS, Landscape
from ibhfn.data.sen12mscr import patch_paths
from ibhfn.data.splits import ROI_SEASONS, load_splits
from ibhfn.errors import InputError
from ibhfn.preprocessing import S2_DN_MAX

PIXEL_M = 10.0
PATCH = 256
PIXELS_PER_STRIP = 2**18  # rows per strip = this / width: bounds write_scene's working memory
PATCH_GRID_COLUMNS = 32  # patch p of a scene lies at grid cell (p // 32, p % 32) of its landscape
PATCH_IDS = range(1, 1000)  # the patch numbers a tree's scene draws from, as SEN12MS-CR's
DEFAULT_CRS = "EPSG:32631"


@dataclass(frozen=True)
class SyntheticPatch:
    """One rendered window: S1 dB, cloudy and clear S2 DN, the true cloud mask and the classes."""

    s1_db: np.ndarray  # (2, H, W) float32
    s2_cloudy_dn: np.ndarray  # (13, H, W) uint16
    s2_clear_dn: np.ndarray  # (13, H, W) uint16
    cloud_mask: np.ndarray  # (H, W) float32 in [0, 1]
    land_cover: np.ndarray  # (H, W) uint8, `ibhfn.data.landcover.LandCover` values


@dataclass(frozen=True)
class ScenePaths:
    """The files of a scene written by `write_scene`."""

    s1: Path
    s2: Path
    target: Path
    mask: Path


def _rng(seed: int | np.random.Generator, *salt: int) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng([int(seed), *salt])


def _check_seed(seed: int) -> None:
    """Refuse a negative seed with one line: numpy's generators take only non-negative seeds."""
    if seed < 0:
        raise InputError(f"seed must be 0 or more; got {seed}")


@contextlib.contextmanager
def _gdal_errors(target: str) -> Iterator[None]:
    """Turn GDAL's errors (a full disk, an unwritable place) into one InputError line naming `target`."""
    try:
        yield
    except (RasterioError, CPLE_BaseError) as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        head, sep, rest = text.partition(": ")
        raise InputError(f"{target}: cannot be written ({rest if sep and PARTIAL in head else text})") from None


def to_dn(reflectance: np.ndarray) -> np.ndarray:
    """TOA reflectance to Sentinel-2 uint16 DN (reflectance x 10000, 0 reserved for nodata)."""
    return np.clip(np.rint(reflectance * S2_DN_MAX), 1, 65535).astype(np.uint16)


def render(
    landscape: Landscape,
    clouds: CloudField,
    row: int,
    col: int,
    height: int,
    width: int,
    rng: np.random.Generator,
) -> SyntheticPatch:
    """The window (row, col, height, width) of a landscape under a cloud field."""
    rows = np.arange(row, row + height, dtype=np.float64)[:, None]
    cols = np.arange(col, col + width, dtype=np.float64)[None, :]
    surface = landscape.surface(rows, cols)
    clear = surface.reflectance * (1.0 + rng.normal(0.0, 0.01, surface.reflectance.shape)).astype(np.float32)
    clear = clouds.residual_haze(clear, rows, cols)
    cloudy, opacity = clouds.cover(clear, rows, cols)
    return SyntheticPatch(
        s1_db=landscape.backscatter_db(surface, rng),
        s2_cloudy_dn=to_dn(cloudy),
        s2_clear_dn=to_dn(clear),
        cloud_mask=opacity.mask.astype(np.float32),
        land_cover=surface.land_cover,
    )


def synthesize_patch(
    seed: int | np.random.Generator,
    height: int = PATCH,
    width: int = PATCH,
    *,
    season: str = "summer",
    cloudiness: float | None = None,
) -> SyntheticPatch:
    """One in-memory patch with its own random landscape and clouds."""
    rng = _rng(seed)
    landscape = Landscape.draw(rng, season)
    return render(landscape, CloudField.draw(rng, cloudiness), 0, 0, height, width, rng)


def _striped_profile(
    count: int,
    dtype: str,
    height: int,
    width: int,
    crs: str,
    grid: Affine,
    rows_per_strip: int,
    nodata: float | None = None,
) -> dict:
    return {
        "driver": "GTiff",
        "count": count,
        "dtype": dtype,
        "height": height,
        "width": width,
        "crs": crs,
        "transform": grid,
        "tiled": False,
        "blockysize": rows_per_strip,
        "interleave": "pixel",
        "nodata": nodata,
    }


def _write_array(path: Path, array: np.ndarray, crs: str, grid: Affine, rows_per_strip: int) -> None:
    with _gdal_errors(str(path)), atomic_path(path) as tmp:
        count, height, width = array.shape
        profile = _striped_profile(count, str(array.dtype), height, width, crs, grid, rows_per_strip)
        with rasterio.open(tmp, "w", **profile) as dataset:
            dataset.write(array)


def _season(roi_season: str) -> str:
    return roi_season.split("_", 1)[1]


def _pick_scenes(seed: int, scenes_per_split: tuple[int, int, int], rois: Iterable[str] | None) -> list[str]:
    splits = load_splits()
    wanted = set(rois) if rois is not None else set(ROI_SEASONS)
    unknown = wanted - set(ROI_SEASONS)
    if unknown:
        raise InputError(f"unknown ROI-season {sorted(unknown)}; choose from {', '.join(ROI_SEASONS)}")
    rng = _rng(seed, 1)
    chosen = []
    for split, count in zip(("train", "val", "test"), scenes_per_split):
        candidates = [scene for scene in splits[split] if scene.split("/")[0] in wanted]
        if count > len(candidates):
            raise InputError(f"{split} split has {len(candidates)} scenes in {sorted(wanted)}; asked for {count}")
        chosen += [candidates[i] for i in sorted(rng.choice(len(candidates), count, replace=False))]
    return chosen


def write_tree(
    root: str | Path,
    *,
    seed: int = 0,
    scenes_per_split: tuple[int, int, int] = (3, 2, 2),
    patches_per_scene: int = 4,
    rois: Iterable[str] | None = None,
    size: int = PATCH,
) -> Path:
    """Write a SEN12MS-CR-layout tree of synthetic patches under `root`; returns `root`.

    Scenes are real scene ids drawn from the packaged splits (train, val, test counts in
    `scenes_per_split`), restricted to the ROI-seasons `rois`. Each scene is one landscape in its
    own UTM zone; each patch is a window of it under its own clouds, so coverage varies.
    """
    _check_seed(seed)
    if patches_per_scene not in PATCH_IDS:
        raise InputError(f"patches per scene must be 1 to {len(PATCH_IDS)}; got {patches_per_scene}")
    root = Path(root)
    for scene in _pick_scenes(seed, scenes_per_split, rois):
        roi_season = scene.split("/")[0]
        rng = _rng(seed, zlib.crc32(scene.encode()))
        landscape = Landscape.draw(rng, _season(roi_season))
        crs = f"EPSG:{32600 + int(rng.integers(29, 37))}"
        origin = (float(rng.integers(30, 70)) * 1e4, float(rng.integers(450, 560)) * 1e4)
        for patch in sorted(int(p) for p in rng.choice(np.array(PATCH_IDS), patches_per_scene, replace=False)):
            row, col = (patch // PATCH_GRID_COLUMNS) * size, (patch % PATCH_GRID_COLUMNS) * size
            sample = render(landscape, CloudField.draw(rng), row, col, size, size, rng)
            grid = Affine(PIXEL_M, 0, origin[0] + col * PIXEL_M, 0, -PIXEL_M, origin[1] - row * PIXEL_M)
            s1, s2, s2_cloudy = patch_paths(root, scene, patch)
            _write_array(s1, sample.s1_db, crs, grid, rows_per_strip=4)
            _write_array(s2, sample.s2_clear_dn, crs, grid, rows_per_strip=1)
            _write_array(s2_cloudy, sample.s2_cloudy_dn, crs, grid, rows_per_strip=1)
    return root


@dataclass(frozen=True)
class _Grid:
    crs: str
    transform: Affine
    height: int
    width: int


def _s1_grid(s2: _Grid, s1_crs: str | None, s1_resolution: float | None) -> _Grid:
    """S1's grid: S2's own, or one in `s1_crs` and/or at `s1_resolution` covering S2 with a margin."""
    if s1_crs is None and s1_resolution is None:
        return s2
    crs = s1_crs or s2.crs
    try:
        CRS.from_user_input(crs)
    except CRSError as exc:
        raise InputError(f"S1 CRS {crs!r} is not a valid CRS ({exc})") from None
    if s1_resolution is not None and not (np.isfinite(s1_resolution) and s1_resolution > 0):
        raise InputError(f"S1 resolution must be a positive number; got {s1_resolution}")
    left, top = s2.transform @ (0, 0)
    right, bottom = s2.transform @ (s2.width, s2.height)
    left, bottom, right, top = transform_bounds(s2.crs, crs, left, bottom, right, top)
    size = s1_resolution if s1_resolution is not None else (right - left) / s2.width
    margin = 0.02 * (right - left)
    width = int(np.ceil((right - left + 2 * margin) / size))
    height = int(np.ceil((top - bottom + 2 * margin) / size))
    s1 = _Grid(crs, Affine(size, 0, left - margin, 0, -size, top + margin), height, width)
    cols, rows = np.array([0.5, width - 0.5, 0.5, width - 0.5]), np.array([0.5, 0.5, height - 0.5, height - 0.5])
    try:
        # what `_s1_on_own_grid` will map, at its corners; affine's stub types @ for one point, it maps arrays too
        transform(crs, s2.crs, *(s1.transform @ (cols, rows)))  # type: ignore[operator]
    except CPLE_BaseError as exc:
        raise InputError(
            f"S1 grid in {crs} at resolution {size:g} reaches where {s2.crs} is undefined ({exc}); "
            "use a smaller resolution"
        ) from None
    return s1


def _open_striped(
    stack: contextlib.ExitStack, path: Path, grid: _Grid, count: int, dtype: str, nodata: float | None = None
) -> DatasetWriter:
    """Open a striped GeoTIFF for writing under a temporary name, renamed when `stack` closes cleanly."""
    tmp = stack.enter_context(atomic_path(path))
    profile = _striped_profile(count, dtype, grid.height, grid.width, grid.crs, grid.transform, 16, nodata)
    return stack.enter_context(rasterio.open(tmp, "w", **profile))


def _strips(height: int, width: int) -> Iterator[tuple[int, int]]:
    step = max(1, PIXELS_PER_STRIP // max(width, 1))
    for row in range(0, height, step):
        yield row, min(step, height - row)


def _s1_on_own_grid(
    landscape: Landscape, s1: _Grid, s2: _Grid, row: int, count: int, rng: np.random.Generator
) -> np.ndarray:
    """S1 dB for rows of S1's own grid: its pixel centres mapped into S2 pixel coordinates."""
    cols, rows = np.meshgrid(np.arange(s1.width) + 0.5, np.arange(row, row + count) + 0.5)
    xs, ys = s1.transform @ (cols.ravel(), rows.ravel())
    xs, ys = transform(s1.crs, s2.crs, xs, ys) if s1.crs != s2.crs else (xs, ys)
    s2_cols, s2_rows = ~s2.transform @ (np.asarray(xs), np.asarray(ys))
    surface = landscape.surface((s2_rows - 0.5).reshape(rows.shape), (s2_cols - 0.5).reshape(rows.shape))
    return landscape.backscatter_db(surface, rng)


def write_scene(
    out_dir: str | Path,
    name: str = "scene",
    *,
    height: int,
    width: int,
    seed: int = 0,
    s1_crs: str | None = None,
    s1_resolution: float | None = None,
    nodata_border: int = 0,
    season: str = "summer",
    cloudiness: float | None = None,
    crs: str = DEFAULT_CRS,
) -> ScenePaths:
    """Write one synthetic scene strip by strip (bounded memory at any size); see the module doc.

    `s1_crs` / `s1_resolution` put S1 on another grid (it then covers S2 with a 2 % margin);
    `nodata_border` sets that many pixels along every edge of both S2 files to 0 (declared nodata).
    """
    if height < 1 or width < 1:
        raise InputError(f"scene size must be positive; got {height}x{width}")
    if nodata_border < 0 or 2 * nodata_border >= min(height, width):
        raise InputError(f"nodata border {nodata_border} does not fit a {height}x{width} scene")
    if season not in SEASONS:
        raise InputError(f"unknown season {season!r}; choose one of {', '.join(SEASONS)}")
    if not name or any(sep in name for sep in {"/", os.sep, "\0"}):
        raise InputError(f"scene name {name!r} must be a non-empty file name, without path separators")
    _check_seed(seed)
    out_dir = Path(out_dir)
    rng = _rng(seed)
    landscape = Landscape.draw(rng, season)
    clouds = CloudField.draw(rng, cloudiness)
    left, top = 600000.0 + 1000.0 * int(rng.integers(0, 100)), 5000000.0 + 1000.0 * int(rng.integers(0, 100))
    s2 = _Grid(crs, Affine(PIXEL_M, 0, left, 0, -PIXEL_M, top), height, width)
    s1 = _s1_grid(s2, s1_crs, s1_resolution)
    paths = ScenePaths(*(out_dir / f"{name}_{suffix}.tif" for suffix in ("s1", "s2", "target", "cloudmask")))
    nodata = 0 if nodata_border else None
    with _gdal_errors(f"{out_dir / name}_*.tif"), contextlib.ExitStack() as stack:
        out_s1 = _open_striped(stack, paths.s1, s1, 2, "float32")
        out_s2 = _open_striped(stack, paths.s2, s2, 13, "uint16", nodata)
        out_target = _open_striped(stack, paths.target, s2, 13, "uint16", nodata)
        out_mask = _open_striped(stack, paths.mask, s2, 1, "float32")
        for row, count in _strips(height, width):
            strip_rng = _rng(seed, 2, row)
            sample = render(landscape, clouds, row, 0, count, width, strip_rng)
            window = Window(0, row, width, count)
            if nodata_border:
                _blank_border(sample, row, height, width, nodata_border)
            if s1 is s2:
                out_s1.write(sample.s1_db, window=window)
            out_s2.write(sample.s2_cloudy_dn, window=window)
            out_target.write(sample.s2_clear_dn, window=window)
            out_mask.write(sample.cloud_mask[None], window=window)
        if s1 is not s2:
            for row, count in _strips(s1.height, s1.width):
                db = _s1_on_own_grid(landscape, s1, s2, row, count, _rng(seed, 3, row))
                out_s1.write(db, window=Window(0, row, s1.width, count))
    return paths


def _blank_border(sample: SyntheticPatch, row: int, height: int, width: int, border: int) -> None:
    """Zero the S2 pixels of a strip that lie within `border` of the scene's edge."""
    rows = np.arange(row, row + sample.cloud_mask.shape[0])[:, None]
    cols = np.arange(width)[None, :]
    outside = (rows < border) | (rows >= height - border) | (cols < border) | (cols >= width - border)
    for array in (sample.s2_cloudy_dn, sample.s2_clear_dn):
        array[:, outside] = 0
