import numpy as np
import pytest
import rasterio
from affine import Affine

from ibhfn.bands import S1_BANDS
from ibhfn.errors import InputError
from ibhfn.runtime.s1_backscatter import prepare_s1

S2_ORIGIN = (500000.0, 4000000.0)  # write_test_scene's S2 grid: 10 m, EPSG:32631


@pytest.fixture
def s2(tmp_path, make_scene):
    """An S2 scene of 100 x 90 px to pair S1 with (and no S1 yet)."""
    s1, s2 = make_scene(tmp_path / "in", "site", height=100, width=90)
    s1.unlink()
    return s2


@pytest.fixture
def power():
    """VV and VH linear power over 140 x 130 px, VV about -7 dB and VH about -15 dB."""
    rng = np.random.default_rng(0)
    return np.stack([rng.uniform(0.1, 0.3, (140, 130)), rng.uniform(0.02, 0.05, (140, 130))]).astype(np.float32)


def snap_like(path, values, descriptions=("Sigma0_VH", "Sigma0_VV"), shift=(20, 20)):
    """A terrain-corrected S1 file as SNAP writes it: VH first, a wider extent than the S2 tile."""
    transform = Affine(10.0, 0.0, S2_ORIGIN[0] - 10 * shift[1], 0.0, -10.0, S2_ORIGIN[1] + 10 * shift[0])
    with rasterio.open(path, "w", driver="GTiff", width=values.shape[2], height=values.shape[1], count=2,
                       dtype="float32", crs="EPSG:32631", transform=transform) as dataset:
        dataset.write(values)
        for index, text in enumerate(descriptions or (), start=1):
            dataset.set_band_description(index, text)
    return path


def read(path):
    with rasterio.open(path) as dataset:
        return dataset.read(), dataset.descriptions, dataset.tags(), dataset.transform


def test_snap_linear_power_becomes_vv_vh_in_db_on_the_s2_grid(tmp_path, s2, power):
    power[:, :30, :] = 0  # no signal where the swath does not reach
    s1 = snap_like(tmp_path / "S1A_IW_GRDH_TC.tif", power[::-1])  # VH first, as SNAP orders them
    prepared = prepare_s1(s1, s2)
    assert prepared.output == s2.with_name("site_s1.tif") and prepared.linear and prepared.cover == 1.0
    values, descriptions, tags, transform = read(prepared.output)
    with rasterio.open(s2) as grid:
        assert values.shape == (2, grid.height, grid.width) and transform == grid.transform
    assert descriptions == S1_BANDS and tags["IBHFN_S1_UNITS_IN"] == "linear"
    with np.errstate(divide="ignore"):
        expected = 10 * np.log10(power[:, 20:120, 20:110])
    valid = np.isfinite(expected)
    np.testing.assert_allclose(values[valid], expected[valid], atol=1e-4)
    assert np.isnan(values[:, :10]).all() and np.isfinite(values[:, 11:]).all()


def test_db_without_descriptions_needs_the_band_order(tmp_path, s2, power):
    db = 10 * np.log10(power)
    s1 = snap_like(tmp_path / "s1_db.tif", db[::-1], descriptions=None)
    with pytest.raises(InputError, match="do not say which band is VV and which VH; give --bands VV,VH or"):
        prepare_s1(s1, s2)
    prepared = prepare_s1(s1, s2, order=("vh", "vv"))
    values = read(prepared.output)[0]
    assert not prepared.linear and read(prepared.output)[2]["IBHFN_S1_UNITS_IN"] == "db"
    np.testing.assert_allclose(values, db[:, 20:120, 20:110], atol=1e-5)


def test_a_partial_cover_is_told_and_no_cover_is_an_error(tmp_path, s2, power):
    partial = prepare_s1(snap_like(tmp_path / "part.tif", power, shift=(20, -45)), s2)
    assert partial.cover == pytest.approx(0.5)
    with pytest.raises(InputError, match="part.tif: does not overlap site_s2.tif"):
        prepare_s1(snap_like(tmp_path / "part.tif", power, shift=(20, -200)), s2)


@pytest.mark.parametrize("kwargs, message", [
    ({"order": ("VV", "HH")}, "--bands VV,HH: give VV and VH once each, in the file's order"),
    ({"units": "natural"}, "unknown units 'natural'; choose one of auto, db, linear"),
])
def test_options_that_cannot_work_are_refused(tmp_path, s2, power, kwargs, message):
    with pytest.raises(InputError, match=message):
        prepare_s1(snap_like(tmp_path / "s1.tif", power), s2, **kwargs)
    assert not s2.with_name("site_s1.tif").exists()


def test_units_given_override_what_the_values_suggest(tmp_path, s2, power):
    prepared = prepare_s1(snap_like(tmp_path / "s1.tif", power), s2, units="db")  # the user says so
    np.testing.assert_allclose(read(prepared.output)[0][0], power[1, 20:120, 20:110])
