import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine

from ibhfn.errors import InputError
from ibhfn.runtime.pairing import Pairing, PairingProblem, ScenePair
from ibhfn.runtime.raster_source import SceneSource, geotiffs_only

UTM = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)


def s2_array(height=60, width=50, bands=13, dtype=np.uint16, seed=0):
    return np.random.default_rng(seed).integers(1, 5000, (bands, height, width)).astype(dtype)


def s1_array(height=60, width=50, bands=2, dtype=np.float32, seed=1):
    return np.random.default_rng(seed).uniform(-25, 0, (bands, height, width)).astype(dtype)


def test_same_grid_is_read_directly(tmp_path, geotiff, standin_metadata):
    s2 = geotiff(tmp_path / "a_s2.tif", s2_array())
    s1 = geotiff(tmp_path / "a_s1.tif", s1_array())
    with SceneSource(s1, s2, standin_metadata) as source:
        assert not source.warped and source.warnings == []
        assert (source.height, source.width) == (60, 50)
        assert source.area_km2 == pytest.approx(60 * 50 * 100 / 1e6)
        sar, dn = source.read_window(10, 5, 20, 40)
    assert sar.dtype == dn.dtype == np.float32
    np.testing.assert_array_equal(dn, s2_array()[:, 10:30, 5:45].astype(np.float32))
    np.testing.assert_array_equal(sar, s1_array()[:, 10:30, 5:45])


def test_s1_in_another_crs_and_resolution_is_warped_onto_s2(tmp_path, geotiff, standin_metadata):
    s2 = geotiff(tmp_path / "a_s2.tif", s2_array())
    # S2 spans about 3.0-3.0056 E, 36.1393-36.1447 N; S1 covers it in degrees, with a margin, at ~27 m
    s1 = geotiff(
        tmp_path / "a_s1.tif",
        np.full((2, 40, 40), -12.0, np.float32),
        crs="EPSG:4326",
        transform=Affine(0.0003, 0.0, 2.998, 0.0, -0.0003, 36.147),
    )
    with SceneSource(s1, s2, standin_metadata) as source:
        assert source.warped
        sar, _ = source.read_window(0, 0, 60, 50)
    assert sar.shape == (2, 60, 50)
    assert np.all(np.isfinite(sar)) and np.allclose(sar, -12.0)


def test_bands_described_in_another_order_are_refused(tmp_path, geotiff, standin_metadata):
    s2 = geotiff(tmp_path / "a_s2.tif", s2_array())
    s1 = geotiff(tmp_path / "a_s1.tif", s1_array())
    with rasterio.open(s1, "r+") as dataset:
        dataset.set_band_description(1, "Sigma0_VH_db")
        dataset.set_band_description(2, "Sigma0_VV_db")
    with pytest.raises(
        InputError,
        match=r"a_s1.tif: its band descriptions give the order VH, VV; the engine expects "
        r"VV, VH \(reorder the bands",
    ):
        SceneSource(s1, s2, standin_metadata)
    with rasterio.open(s1, "r+") as dataset:
        dataset.set_band_description(1, "VV")
        dataset.set_band_description(2, "VH")
    with SceneSource(s1, s2, standin_metadata) as source:
        assert source.warnings == []


def test_values_in_other_units_are_warnings_naming_the_file(tmp_path, geotiff, standin_metadata):
    s2 = geotiff(tmp_path / "a_s2.tif", s2_array().astype(np.float32) / 10000)
    s1 = geotiff(tmp_path / "a_s1.tif", 10 ** (s1_array() / 10))
    with SceneSource(s1, s2, standin_metadata) as source:
        assert [w.split(":")[0] for w in source.warnings] == [str(s1), str(s2)]
        assert "linear power" in source.warnings[0] and "reflectance in [0, 1]" in source.warnings[1]


def test_disjoint_extents_are_refused_before_any_compute(tmp_path, geotiff, standin_metadata):
    s2 = geotiff(tmp_path / "a_s2.tif", s2_array())
    s1 = geotiff(tmp_path / "a_s1.tif", s1_array(), transform=UTM @ Affine.translation(0, 1000))
    with pytest.raises(InputError, match=r"a_s1.tif: does not overlap a_s2.tif"):
        SceneSource(s1, s2, standin_metadata)


def test_partial_overlap_is_a_warning_with_the_covered_fraction(tmp_path, geotiff, standin_metadata):
    s2 = geotiff(tmp_path / "a_s2.tif", s2_array())
    s1 = geotiff(tmp_path / "a_s1.tif", s1_array(), transform=UTM @ Affine.translation(25, 0))
    with SceneSource(s1, s2, standin_metadata) as source:
        sar, _ = source.read_window(0, 0, 60, 50)
        assert source.warped
        assert source.warnings == [f"{s1}: covers 50.0% of a_s2.tif; outside it the network sees no S1 signal"]
    assert np.isnan(sar[:, :, :25]).all() and np.isfinite(sar[:, :, 25:]).all()


def test_band_counts_and_types_are_checked_against_the_engine(tmp_path, geotiff, standin_metadata):
    s2 = geotiff(tmp_path / "a_s2.tif", s2_array(bands=12))
    s1 = geotiff(tmp_path / "a_s1.tif", s1_array(dtype=np.int16))
    with pytest.raises(InputError) as raised:
        SceneSource(s1, s2, standin_metadata)
    message = str(raised.value)
    assert f"{s2}: has 12 bands; the engine expects 13 (B1, B2" in message
    assert f"{s1}: holds int16; the engine expects S1 backscatter in dB as float32 or float64" in message
    assert "\n" not in message


def test_8bit_s2_is_refused(tmp_path, geotiff, standin_metadata):
    s2 = geotiff(tmp_path / "a_s2.tif", s2_array(dtype=np.uint8))
    s1 = geotiff(tmp_path / "a_s1.tif", s1_array())
    with pytest.raises(InputError, match="holds uint8; the engine expects S2 DN"):
        SceneSource(s1, s2, standin_metadata)


def test_unreadable_empty_and_missing_files_are_named(tmp_path, geotiff, standin_metadata):
    s1 = geotiff(tmp_path / "a_s1.tif", s1_array())
    (tmp_path / "empty_s2.tif").write_bytes(b"")
    (tmp_path / "junk_s2.tif").write_bytes(b"this is not a tiff")
    with pytest.raises(InputError, match="empty_s2.tif: the file is empty"):
        SceneSource(s1, tmp_path / "empty_s2.tif", standin_metadata)
    with pytest.raises(InputError, match="junk_s2.tif: not a readable raster"):
        SceneSource(s1, tmp_path / "junk_s2.tif", standin_metadata)
    with pytest.raises(InputError, match="gone_s2.tif: no such file"):
        SceneSource(s1, tmp_path / "gone_s2.tif", standin_metadata)


SOUTH_UP = Affine(10.0, 0.0, 500000.0, 0.0, 10.0, 3999400.0)  # the ground of UTM's 60 rows, first row southmost


@pytest.mark.parametrize("s1_grid", ["north-up", "south-up", "degrees"])
def test_a_south_up_s2_takes_s1_from_any_grid_onto_its_own(tmp_path, geotiff, standin_metadata, s1_grid):
    s2 = geotiff(tmp_path / "a_s2.tif", s2_array()[:, ::-1].copy(), transform=SOUTH_UP)
    if s1_grid == "degrees":  # as in test_s1_in_another_crs_and_resolution_is_warped_onto_s2, with a gradient
        rows = np.linspace(-20, -5, 40, dtype=np.float32)[:, None].repeat(40, axis=1)
        s1 = geotiff(
            tmp_path / "a_s1.tif",
            np.stack([rows, rows - 7]),
            crs="EPSG:4326",
            transform=Affine(0.0003, 0.0, 2.998, 0.0, -0.0003, 36.147),
        )
    else:
        s1 = geotiff(
            tmp_path / "a_s1.tif",
            s1_array() if s1_grid == "north-up" else s1_array()[:, ::-1].copy(),
            transform=UTM if s1_grid == "north-up" else SOUTH_UP,
        )
    with SceneSource(s1, s2, standin_metadata) as source:
        assert source.warnings == [] and source.warped == (s1_grid != "south-up")
        assert source.profile["transform"] == SOUTH_UP
        assert source.area_km2 == pytest.approx(60 * 50 * 100 / 1e6)
        sar, dn = source.read_window(0, 0, 60, 50)
    np.testing.assert_array_equal(dn, s2_array()[:, ::-1].astype(np.float32))
    if s1_grid == "degrees":  # as S1 comes onto the same ground on a north-up grid, upside down
        with SceneSource(s1, geotiff(tmp_path / "b_s2.tif", s2_array()), standin_metadata) as source:
            north_up, _ = source.read_window(0, 0, 60, 50)
        assert np.isfinite(sar).all() and (sar[0, 0] > sar[0, -1]).all()  # S1 rises southward, to the first row
        np.testing.assert_allclose(sar, north_up[:, ::-1], atol=1e-3)
    else:
        np.testing.assert_allclose(sar, s1_array()[:, ::-1], atol=1e-4)


def test_the_overlap_of_a_south_up_s2_is_measured_on_the_ground(tmp_path, geotiff, standin_metadata):
    s2 = geotiff(tmp_path / "a_s2.tif", s2_array(), transform=SOUTH_UP)
    s1 = geotiff(tmp_path / "a_s1.tif", s1_array(), transform=UTM @ Affine.translation(0, 1000))
    with pytest.raises(InputError, match=r"a_s1.tif: does not overlap a_s2.tif"):
        SceneSource(s1, s2, standin_metadata)
    s1 = geotiff(tmp_path / "a_s1.tif", s1_array(), transform=SOUTH_UP @ Affine.translation(25, 0))
    with SceneSource(s1, s2, standin_metadata) as source:
        assert source.warnings == [f"{s1}: covers 50.0% of a_s2.tif; outside it the network sees no S1 signal"]


def test_scenes_of_other_formats_than_geotiff_become_problems_naming_the_driver(tmp_path, geotiff):
    s1 = geotiff(tmp_path / "a_s1.tif", s1_array())
    s2 = geotiff(tmp_path / "a_s2.tif", s2_array())
    rasterio.shutil.copy(s2, tmp_path / "cog_s2.tif", driver="COG")
    rasterio.shutil.copy(s2, tmp_path / "vrt_s2.tif", driver="VRT")
    (tmp_path / "junk_s2.tif").write_bytes(b"not a raster")
    scenes = [ScenePair(name, s1, tmp_path / f"{name}_s2.tif") for name in ("a", "cog", "junk", "vrt")]
    checked = geotiffs_only(Pairing(scenes, [PairingProblem(s1, "an earlier problem", "a")]))
    assert [pair.name for pair in checked.pairs] == ["a", "cog", "junk"]  # junk: said when the scene opens it
    assert [str(problem) for problem in checked.problems] == [
        f"{s1}: an earlier problem",
        f"{tmp_path / 'vrt_s2.tif'}: a VRT file, not a GeoTIFF; convert it (gdal_translate -of GTiff) or pass "
        "--allow-any-format to read it as it is",
    ]
    assert checked.problems[1].scene == "vrt"


@pytest.mark.parametrize(
    "fill, nodata, one_band",
    [(np.nan, None, "none"), (np.inf, None, "none"), (-9999.0, -9999.0, "none"), (0.0, None, "some")],
)
def test_backscatter_is_counted_where_every_band_holds_some(
    tmp_path, geotiff, standin_metadata, fill, nodata, one_band
):
    s2 = geotiff(tmp_path / "a_s2.tif", s2_array())
    values = s1_array()
    values[:, :15] = fill  # a quarter without backscatter
    values[0, 15:30] = fill  # a quarter with VH alone: none, but where VV is a dB value of 0
    s1 = geotiff(tmp_path / "a_s1.tif", values, nodata=nodata)
    with SceneSource(s1, s2, standin_metadata) as source:
        share = "50.0%" if one_band == "none" else "75.0%"
        assert source.warnings == [
            f"{s1}: holds backscatter in about {share} of where it covers a_s2.tif (the rest "
            "is NaN, or 0 or its nodata); there the network sees no S1 signal"
        ]
    values[:, 15:] = fill
    s1 = geotiff(tmp_path / "a_s1.tif", values, nodata=nodata)
    with pytest.raises(InputError, match=rf"^{s1}: holds no backscatter over a_s2.tif"):
        SceneSource(s1, s2, standin_metadata)


def test_backscatter_is_counted_only_over_s2(tmp_path, geotiff, standin_metadata):
    s2 = geotiff(tmp_path / "a_s2.tif", s2_array())
    values = np.full((2, 120, 100), np.nan, np.float32)  # twice S2's extent; backscatter only over S2
    values[:, 30:90, 25:75] = s1_array()
    s1 = geotiff(tmp_path / "a_s1.tif", values, transform=UTM @ Affine.translation(-25, -30))
    with SceneSource(s1, s2, standin_metadata) as source:
        assert source.warped and source.warnings == []


def test_backscatter_the_sampled_windows_miss_is_found_by_counting_every_pixel(tmp_path, geotiff, standin_metadata):
    s2 = geotiff(tmp_path / "a_s2.tif", s2_array(600, 600))
    values = np.full((2, 600, 600), np.nan, np.float32)
    values[:, 142:150] = -12.0  # between the windows at rows 76-139 and 153-216
    s1 = geotiff(tmp_path / "a_s1.tif", values)
    with SceneSource(s1, s2, standin_metadata) as source:
        assert source.warnings == [
            f"{s1}: holds backscatter in about 1.3% of where it covers a_s2.tif (the rest is "
            "NaN, or 0 or its nodata); there the network sees no S1 signal"
        ]
