from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.errors import RasterioIOError

from ibhfn.data import synthetic
from ibhfn.data.clouds import CloudField
from ibhfn.data.landcover import LandCover, Landscape
from ibhfn.data.synthetic import synthesize_patch, write_scene, write_tree
from ibhfn.errors import InputError

B2, B4, B8, B10, B11, B12 = 1, 3, 7, 10, 11, 12


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as dataset:
        return dataset.read()


@pytest.fixture(scope="module")
def patches() -> list[synthetic.SyntheticPatch]:
    """Eight random 256 x 256 patches, summer and winter."""
    return [synthesize_patch(seed, season=("summer", "winter")[seed % 2]) for seed in range(8)]


def test_patch_is_deterministic_by_seed():
    first, again, other = synthesize_patch(5), synthesize_patch(5), synthesize_patch(6)
    for field in ("s1_db", "s2_cloudy_dn", "s2_clear_dn", "cloud_mask", "land_cover"):
        np.testing.assert_array_equal(getattr(first, field), getattr(again, field))
    assert not np.array_equal(first.s2_clear_dn, other.s2_clear_dn)


def test_patch_arrays_have_the_sensor_formats(patches):
    patch = patches[0]
    assert patch.s1_db.shape == (2, 256, 256) and patch.s1_db.dtype == np.float32
    assert patch.s2_clear_dn.shape == patch.s2_cloudy_dn.shape == (13, 256, 256)
    assert patch.s2_clear_dn.dtype == patch.s2_cloudy_dn.dtype == np.uint16
    assert patch.cloud_mask.dtype == np.float32 and 0 <= patch.cloud_mask.min() <= patch.cloud_mask.max() <= 1


def test_s1_and_s2_statistics_are_in_sentinel_ranges(patches):
    s1 = np.stack([p.s1_db for p in patches])
    vv, vh = s1[:, 0], s1[:, 1]
    assert -20 < vv.mean() < -7 and -27 < vh.mean() < -13 and (vh < vv).mean() > 0.7
    assert np.percentile(vv, 1) > -40 and np.percentile(vv, 99) < 5
    clear = np.stack([p.s2_clear_dn for p in patches]).astype(np.float32)
    assert clear.min() >= 1 and np.percentile(clear, 99.9) < 10000
    assert 500 < np.median(clear[:, B2]) < 2500 and np.median(clear[:, B10]) < 100  # cirrus band dark


def test_speckle_is_multiplicative_gamma_with_few_looks(patches):
    """Within one class the VV intensity spread matches 4-look Gamma speckle (CV = 1/2)."""
    patch = patches[0]
    intensity = 10 ** (patch.s1_db[0] / 10)
    vegetation = patch.land_cover == LandCover.VEGETATION
    assert vegetation.mean() > 0.05
    cv = intensity[vegetation].std() / intensity[vegetation].mean()
    assert 0.45 < cv < 0.8  # speckle 0.5 plus the within-class field


def test_class_spectra_are_plausible(patches):
    land = np.concatenate([p.land_cover.ravel() for p in patches])
    clear = np.concatenate([p.s2_clear_dn.reshape(13, -1) for p in patches], axis=1).astype(np.float32)
    means = {c: clear[:, land == c].mean(axis=1) for c in LandCover if (land == c).sum() > 1000}
    assert set(means) == set(LandCover)
    vegetation, water, snow, soil = (
        means[c] for c in (LandCover.VEGETATION, LandCover.WATER, LandCover.SNOW_ICE, LandCover.BARE_SOIL)
    )
    assert vegetation[B8] > 3 * vegetation[B4]  # red edge and NIR plateau
    assert water[B8] < water[B4] and water[B11] < 300  # water dark in NIR and SWIR
    assert snow[B2] > 4000 and snow[B11] < snow[B2] / 4  # snow bright in the visible, dark in SWIR
    assert soil[B11] > soil[B4]  # soil rises into SWIR


def test_sar_tells_the_classes_apart(patches):
    """The model can learn the ground under clouds from SAR only if S1 follows the land cover."""
    land = np.concatenate([p.land_cover.ravel() for p in patches])
    vv = np.concatenate([p.s1_db[0].ravel() for p in patches])
    mean = {c: vv[land == c].mean() for c in LandCover}
    assert mean[LandCover.URBAN] > mean[LandCover.VEGETATION] + 2 > mean[LandCover.BARE_SOIL] + 2
    assert min(mean[c] for c in LandCover if c != LandCover.WATER) > mean[LandCover.WATER] + 4


def test_winter_has_more_snow_than_summer():
    def snow(season: str) -> float:
        return np.mean([(synthesize_patch(s, season=season).land_cover == LandCover.SNOW_ICE).mean() for s in range(6)])

    assert snow("winter") > 2 * snow("summer") + 0.05


def test_clouds_brighten_and_flatten_where_the_mask_says():
    patch = synthesize_patch(3, 512, 512, cloudiness=0.6)
    cloudy, clear = patch.s2_cloudy_dn.astype(np.float32), patch.s2_clear_dn.astype(np.float32)
    thick, free = patch.cloud_mask > 0.9, patch.cloud_mask == 0
    assert thick.mean() > 0.05 and free.mean() > 0.05
    assert cloudy[B2][thick].mean() > clear[B2][thick].mean() + 2000  # bright
    visible_nir = slice(0, 9)  # B1..B8A: a thick cloud's spectrum is nearly flat there (within ~10 % of its level)

    def spread(a):
        return (a[visible_nir][:, thick].std(axis=0) / a[visible_nir][:, thick].mean(axis=0)).mean()

    assert spread(cloudy) < 0.25 * spread(clear)

    def contrast(a, m):
        return np.mean([a[b][m].std() / a[b][m].mean() for b in (B2, B4, B8)])

    assert contrast(cloudy, thick) < 0.5 * contrast(clear, thick)
    assert np.all(cloudy[:, free] <= clear[:, free] + 1)  # outside clouds at most shadowed


def test_thin_clouds_are_strongest_in_blue():
    patch = synthesize_patch(3, 512, 512, cloudiness=0.6)
    rng = np.random.default_rng(3)  # the draws of synthesize_patch, for the shadows it does not return
    Landscape.draw(rng, "summer")
    shadow = CloudField.draw(rng, 0.6).opacity(np.arange(512.0)[:, None], np.arange(512.0)[None, :]).shadow
    thin = (patch.cloud_mask > 0.1) & (patch.cloud_mask < 0.4) & (shadow < 0.01)
    assert thin.mean() > 0.01
    gain = patch.s2_cloudy_dn[:, thin].astype(np.float32) - patch.s2_clear_dn[:, thin]
    assert gain[B2].mean() > gain[B8].mean() > gain[B12].mean() > 0


def test_tree_files_are_georeferenced_striped_sentinel_formats(tree: Path):
    for pattern, count, dtype in (
        ("*_s1/*/*.tif", 2, "float32"),
        ("*_s2/*/*.tif", 13, "uint16"),
        ("*_s2_cloudy/*/*.tif", 13, "uint16"),
    ):
        path = next(tree.glob(pattern))
        with rasterio.open(path) as dataset:
            assert (dataset.count, dataset.dtypes[0], dataset.shape) == (count, dtype, (256, 256))
            assert dataset.crs.to_epsg() // 100 == 326 and dataset.res == (10.0, 10.0)
            assert not dataset.profile.get("tiled", False)


def test_tree_is_deterministic_by_seed(tmp_path: Path):
    first = write_tree(tmp_path / "a", seed=4, scenes_per_split=(1, 1, 0), patches_per_scene=1, size=32)
    again = write_tree(tmp_path / "b", seed=4, scenes_per_split=(1, 1, 0), patches_per_scene=1, size=32)
    files = sorted(p.relative_to(first) for p in first.rglob("*.tif"))
    assert len(files) == 6 and files == sorted(p.relative_to(again) for p in again.rglob("*.tif"))
    for file in files:
        np.testing.assert_array_equal(read(first / file), read(again / file))


def test_scene_is_written_with_its_georeferencing(tmp_path: Path):
    paths = write_scene(tmp_path, "odd", height=200, width=150, seed=2)
    assert {p.name for p in tmp_path.iterdir()} == {"odd_s1.tif", "odd_s2.tif", "odd_target.tif", "odd_cloudmask.tif"}
    for path, count, dtype in (
        (paths.s1, 2, "float32"),
        (paths.s2, 13, "uint16"),
        (paths.target, 13, "uint16"),
        (paths.mask, 1, "float32"),
    ):
        with rasterio.open(path) as dataset:
            assert (dataset.count, dataset.dtypes[0], dataset.shape) == (count, dtype, (200, 150))
            assert dataset.crs.to_string() == "EPSG:32631" and dataset.res == (10.0, 10.0)
            assert not dataset.profile.get("tiled", False)
    same = write_scene(tmp_path / "again", "odd", height=200, width=150, seed=2)
    np.testing.assert_array_equal(read(paths.s2), read(same.s2))


def test_scene_strips_join_without_seams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    whole = write_scene(tmp_path / "whole", height=96, width=80, seed=7, cloudiness=0.5)
    monkeypatch.setattr(synthetic, "PIXELS_PER_STRIP", 80 * 7)  # strips of 7 rows
    strips = write_scene(tmp_path / "strips", height=96, width=80, seed=7, cloudiness=0.5)
    np.testing.assert_array_equal(read(whole.mask), read(strips.mask))  # noise-free fields: identical
    a, b = read(whole.target).astype(np.float32), read(strips.target).astype(np.float32)
    assert np.abs(a - b).max() / a.mean() < 0.2 and np.abs(a - b).mean() / a.mean() < 0.02  # only pixel noise


def test_nodata_border(tmp_path: Path):
    paths = write_scene(tmp_path, height=64, width=48, nodata_border=3)
    for path in (paths.s2, paths.target):
        with rasterio.open(path) as dataset:
            dn = dataset.read()
            assert dataset.nodata == 0
        assert np.all(dn[:, :3] == 0) and np.all(dn[:, -3:] == 0) and np.all(dn[:, :, :3] == 0)
        assert np.all(dn[:, 3:-3, 3:-3] > 0)


@pytest.mark.parametrize(("s1_crs", "s1_resolution"), [("EPSG:4326", None), (None, 20.0), ("EPSG:32632", 15.0)])
def test_s1_on_another_grid_shows_the_same_ground(tmp_path: Path, s1_crs, s1_resolution):
    from ibhfn.runtime.raster_source import SceneSource
    from tests.runtime.conftest import STANDIN_METADATA

    same = write_scene(tmp_path / "same", height=120, width=100, seed=9)
    other = write_scene(tmp_path / "other", height=120, width=100, seed=9, s1_crs=s1_crs, s1_resolution=s1_resolution)
    with rasterio.open(other.s1) as dataset:
        assert dataset.crs.to_string() == (s1_crs or "EPSG:32631")
        if s1_resolution:
            assert dataset.res == (s1_resolution, s1_resolution)
    np.testing.assert_array_equal(read(same.s2), read(other.s2))
    with SceneSource(other.s1, other.s2, STANDIN_METADATA) as source:
        assert source.warped and source.warnings == []  # S1 covers all of S2
        warped, _ = source.read_window(0, 0, source.height, source.width)
    on_grid = read(same.s1)
    inner = (slice(None), slice(10, -10), slice(10, -10))
    correlation = np.corrcoef(warped[inner].ravel(), on_grid[inner].ravel())[0, 1]
    assert correlation > 0.5  # the same land cover through independent speckle


def test_large_scene_is_written_by_strips_with_bounded_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(synthetic, "PIXELS_PER_STRIP", 2**15)

    def peak(size: int) -> int:
        tracemalloc.start()
        try:
            write_scene(tmp_path / str(size), height=size, width=size, seed=1)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(256), peak(1024)
    large_scene_reflectance = 13 * 1024 * 1024 * 4  # what holding the scene in float32 would take
    assert large < 1.5 * small and large < large_scene_reflectance / 3
    with rasterio.open(tmp_path / "1024" / "scene_s2.tif") as dataset:
        assert dataset.shape == (1024, 1024) and dataset.read(1, window=((1000, 1024), (0, 24))).min() > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"height": 0, "width": 10}, "positive"),
        ({"height": 10, "width": 10, "nodata_border": 5}, "border"),
        ({"height": 10, "width": 10, "s1_crs": "EPSG:0"}, "CRS"),
        ({"height": 10, "width": 10, "season": "monsoon"}, "season"),
        ({"height": 10, "width": 10, "seed": -1}, "seed must be 0 or more; got -1"),
        ({"height": 10, "width": 10, "s1_resolution": 0.0}, "S1 resolution must be a positive number; got 0.0"),
        ({"height": 10, "width": 10, "s1_resolution": -5.0}, "S1 resolution must be a positive number"),
        ({"height": 10, "width": 10, "s1_resolution": float("nan")}, "S1 resolution must be a positive number"),
        ({"height": 32, "width": 32, "s1_crs": "EPSG:4326", "s1_resolution": 1000.0}, "EPSG:32631 is undefined"),
        ({"name": "", "height": 10, "width": 10}, "scene name '' must be a non-empty file name"),
        ({"name": "a/b", "height": 10, "width": 10}, "without path separators"),
    ],
)
def test_bad_scene_arguments_write_nothing(tmp_path: Path, kwargs, message):
    with pytest.raises(InputError, match=message):
        write_scene(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -4}, "seed must be 0 or more; got -4"),
        ({"patches_per_scene": 100000}, "1 to 999; got 100000"),
        ({"patches_per_scene": 0}, "1 to 999; got 0"),
    ],
)
def test_bad_tree_arguments_write_nothing(tmp_path: Path, kwargs, message):
    with pytest.raises(InputError, match=message):
        write_tree(tmp_path / "out", scenes_per_split=(1, 0, 0), size=16, **kwargs)
    assert not (tmp_path / "out").exists()


def test_gdal_failure_mid_scene_is_one_line_and_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def disk_full(*args, **kwargs):
        raise RasterioIOError(f".scene_s2.tif{synthetic.PARTIAL}1: No space left on device\nmore")

    monkeypatch.setattr(synthetic, "render", disk_full)
    with pytest.raises(InputError, match=r"scene_\*\.tif: cannot be written \(No space left on device\)$"):
        write_scene(tmp_path, height=10, width=10)
    assert list(tmp_path.iterdir()) == []
