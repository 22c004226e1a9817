import numpy as np
import pytest
import rasterio
from affine import Affine

from ibhfn.bands import S1_BANDS
from ibhfn.errors import InputError
from ibhfn.runtime.s1_backscatter import prepare_s1

S2_ORIGIN = (500000.0, 4000000.0)  # write_test_scene's S2 grid: 10 m, EPSG:32631, 100 x 90 px here


@pytest.fixture
def s2(tmp_path, make_scene):
    """An S2 scene of 100 x 90 px to pair S1 with (and no S1 yet)."""
    s1, s2 = make_scene(tmp_path / "in", "site", height=100, width=90)
    s1.unlink()
    return s2


@pytest.fixture
def power():
    """VV and VH linear power over 140 x 130 px at 10 m, VV about -7 dB and VH about -15 dB."""
    rng = np.random.default_rng(0)
    return np.stack([rng.uniform(0.1, 0.3, (140, 130)), rng.uniform(0.02, 0.05, (140, 130))]).astype(np.float32)


def s1_file(
    path, values, descriptions=None, *, shift=(20, 20), pixel=10.0, crs="EPSG:32631", nodata=None, transform=None
):
    """An S1 GeoTIFF over the S2 scene, `shift` S1 pixels beyond its top-left corner; as SNAP, no descriptions."""
    transform = transform or Affine(
        pixel, 0.0, S2_ORIGIN[0] - pixel * shift[1], 0.0, -pixel, S2_ORIGIN[1] + pixel * shift[0]
    )
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=values.shape[2],
        height=values.shape[1],
        count=values.shape[0],
        dtype="float32",
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as file:
        file.write(values)
        for index, text in enumerate(descriptions or (), start=1):
            file.set_band_description(index, text)
    return path


def read(path):
    with rasterio.open(path) as dataset:
        return dataset.read(), dataset.descriptions, dataset.tags(), dataset.transform


def test_snap_linear_power_becomes_vv_vh_in_db_on_the_s2_grid(tmp_path, s2, power):
    power[:, :30, :] = 0  # no signal where the swath does not reach
    s1 = s1_file(tmp_path / "S1A_IW_GRDH_1SDV_Orb_NR_Cal_TC.tif", power[::-1])  # VH first, no names
    prepared = prepare_s1(s1, s2, order=("VH", "VV"))
    assert prepared.output == s2.with_name("site_s1.tif") and prepared.linear and prepared.valid == 0.9
    values, descriptions, tags, transform = read(prepared.output)
    with rasterio.open(s2) as grid:
        assert values.shape == (2, grid.height, grid.width) and transform == grid.transform
    assert descriptions == S1_BANDS and tags["IBHFN_S1_UNITS_IN"] == "linear"
    np.testing.assert_allclose(values[:, 10:], 10 * np.log10(power[:, 30:120, 20:110]), atol=1e-4)
    assert np.isnan(values[:, :10]).all()


def test_snaps_header_names_the_bands_and_gives_units_and_nodata(tmp_path, s2, power, snap_header):
    db = 10 * np.log10(power)[::-1].copy()  # VH first, as SNAP orders them
    db[:, :, :25] = -9999.0
    s1 = snap_header(
        s1_file(tmp_path / "S1A_IW_GRDH_1SDV_Orb_NR_Cal_TC_dB.tif", db),
        [("Sigma0_VH_db", "intensity_db", -9999.0), ("Sigma0_VV_db", "intensity_db", -9999.0)],
    )
    prepared = prepare_s1(s1, s2)  # no --bands: SNAP's header says which is which
    values = read(prepared.output)[0]
    assert not prepared.linear and prepared.valid == pytest.approx(85 / 90)
    np.testing.assert_allclose(values[:, :, 5:], db[::-1, 20:120, 25:110], atol=1e-5)
    linear = snap_header(
        s1_file(tmp_path / "linear.tif", power[::-1].copy()),
        [("Sigma0_VH", "intensity", 0.0), ("Sigma0_VV", "intensity", 0.0)],
    )
    assert prepare_s1(linear, s2).linear
    amplitude = snap_header(
        s1_file(tmp_path / "amplitude.tif", power),
        [("Amplitude_VV", "amplitude", 0.0), ("Amplitude_VH", "amplitude", 0.0)],
    )
    with pytest.raises(InputError, match="holds amplitude, not sigma0"):
        prepare_s1(amplitude, s2)


def test_power_is_averaged_as_power_where_s1_is_finer(tmp_path, s2):
    fine = np.tile(np.array([[0.1, 0.3], [0.3, 0.1]], np.float32), (2, 110, 100))  # 5 m pixels, 2 x 2 a 10 m one
    prepared = prepare_s1(s1_file(tmp_path / "fine.tif", fine, shift=(10, 10), pixel=5.0), s2, order=("VV", "VH"))
    values = read(prepared.output)[0]
    np.testing.assert_allclose(values, 10 * np.log10(0.2), atol=1e-4)  # not the mean of -10 and -5.2 dB


def test_named_db_bands_need_no_options_and_nodata_becomes_nan(tmp_path, s2, power):
    db = 10 * np.log10(power)
    db[:, :, :25] = -9999.0
    s1 = s1_file(tmp_path / "s1_db.tif", db[::-1], ("Sigma0_VH_db", "Sigma0_VV_db"), nodata=-9999.0)
    prepared = prepare_s1(s1, s2)
    values = read(prepared.output)[0]
    assert not prepared.linear and read(prepared.output)[2]["IBHFN_S1_UNITS_IN"] == "db"
    np.testing.assert_allclose(values[:, :, 5:], db[:, 20:120, 25:110], atol=1e-5)
    assert np.isnan(values[:, :, :5]).all() and prepared.valid == pytest.approx(85 / 90)


def test_s1_on_another_crs_is_brought_onto_the_s2_grid(tmp_path, s2, power):
    with rasterio.open(s2) as grid:
        left, bottom, right, top = rasterio.warp.transform_bounds(grid.crs, "EPSG:4326", *grid.bounds)
    transform = Affine(
        (right - left) * 1.4 / 130,
        0.0,
        left - (right - left) * 0.2,
        0.0,
        -(top - bottom) * 1.4 / 140,
        top + (top - bottom) * 0.2,
    )
    prepared = prepare_s1(
        s1_file(tmp_path / "geo.tif", power, crs="EPSG:4326", transform=transform), s2, order=("VV", "VH")
    )
    values = read(prepared.output)[0]
    assert prepared.valid == 1.0 and -10.5 < np.median(values[0]) < -5 and -17.5 < np.median(values[1]) < -13


def test_a_partial_cover_is_told_and_no_cover_is_an_error(tmp_path, s2, power):
    partial = prepare_s1(s1_file(tmp_path / "part.tif", power, shift=(20, -45)), s2, order=("VV", "VH"))
    assert partial.valid == pytest.approx(0.5)
    with pytest.raises(InputError, match="part.tif: does not overlap site_s2.tif"):
        prepare_s1(s1_file(tmp_path / "part.tif", power, shift=(20, -200)), s2, order=("VV", "VH"))


@pytest.mark.parametrize(
    "values, descriptions, kwargs, message",
    [
        (
            "power",
            None,
            {},
            "{s1}: does not name its bands (no band descriptions, no SNAP header): give --bands VH,VV "
            "or --bands VV,VH (SNAP puts VH first)",
        ),
        ("power", None, {"order": ("VV", "HH")}, "--bands VV,HH: give VV and VH once each, in the file's order"),
        ("power", ("Sigma0_VV", "Sigma0_VH"), {"order": ("VH", "VV")}, "--bands VH,VV: {s1} names its bands VV, VH"),
        ("power", ("Sigma0_HH", "Sigma0_HV"), {}, "{s1}: holds HH, HV; the network takes VV and VH"),
        ("power", ("Amplitude_VV", "Amplitude_VH"), {}, "{s1}: holds amplitude, not sigma0 as SEN12MS-CR"),
        ("power", ("Gamma0_VV", "Gamma0_VH"), {}, "{s1}: holds gamma0, not sigma0"),
        ("single", None, {}, "{s1}: has 1 band(s); the network takes VV and VH, from a dual-polarisation"),
        ("zero", None, {"order": ("VV", "VH")}, "{s1}: no backscatter where it covers the scene (all nodata)"),
        ("power", None, {"order": ("VV", "VH"), "units": "db"}, "{s1}: --units db, but its median is 0.0"),
        ("db", None, {"order": ("VV", "VH"), "units": "linear"}, "{s1}: --units linear, but its values are below 0"),
        ("power", None, {"units": "natural"}, "unknown units 'natural'; choose one of auto, db, linear"),
    ],
)
def test_inputs_and_options_that_cannot_work_are_one_line(tmp_path, s2, power, values, descriptions, kwargs, message):
    arrays = {"power": power, "db": 10 * np.log10(power), "single": power[:1], "zero": np.zeros_like(power)}
    s1 = s1_file(tmp_path / "s1.tif", arrays[values], descriptions)
    with pytest.raises(InputError) as raised:
        prepare_s1(s1, s2, **kwargs)
    assert str(raised.value).startswith(message.format(s1=s1)) and "\n" not in str(raised.value)
    assert not s2.with_name("site_s1.tif").exists()


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_a_file_without_a_crs_is_refused(tmp_path, s2, power):
    with rasterio.open(
        tmp_path / "raw.tif", "w", driver="GTiff", width=130, height=140, count=2, dtype="float32"
    ) as raw:
        raw.write(power)
    with pytest.raises(InputError, match="raw.tif: no CRS, so it cannot be brought onto site_s2.tif's grid"):
        prepare_s1(tmp_path / "raw.tif", s2, order=("VV", "VH"))
