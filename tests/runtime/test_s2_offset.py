import numpy as np
import pytest
import rasterio

from ibhfn.errors import InputError
from ibhfn.runtime.s2_offset import GIVEN, NOT_DECLARED, declared_offset, is_offset, scene_offset


@pytest.fixture
def s2(tmp_path, geotiff):
    """A small uint16 S2 file that declares nothing."""
    return geotiff(tmp_path / "a_s2.tif", np.full((13, 8, 8), 1500, np.uint16))


def declared_of(path):
    with rasterio.open(path) as dataset:
        return declared_offset(path, dataset)


def offset_of(path, given=None):
    with rasterio.open(path) as dataset:
        return scene_offset(path, dataset, given)


def test_a_file_that_declares_nothing_is_read_without_an_offset(s2):
    assert declared_of(s2) is None
    offset = offset_of(s2)
    assert (offset.dn, offset.origin, offset.warnings) == (0, NOT_DECLARED, ())


@pytest.mark.parametrize(
    "declaration, dn, source",
    [
        ({"scale_offset": (0.0001, -0.1)}, -1000, "band offsets"),
        ({"scale_offset": (0.0001, 0.0)}, 0, "band offsets"),
        ({"band_tags": {"BOA_ADD_OFFSET": "-1000"}}, -1000, "BOA_ADD_OFFSET"),
        ({"tags": {"RADIO_ADD_OFFSET": "-1000"}}, -1000, "RADIO_ADD_OFFSET"),
        ({"tags": {"PROCESSING_BASELINE": "05.10"}}, -1000, "PROCESSING_BASELINE 05.10"),
        ({"tags": {"PROCESSING_BASELINE": "04.00"}}, -1000, "PROCESSING_BASELINE 04.00"),
        ({"tags": {"PROCESSING_BASELINE": "02.09"}}, 0, "PROCESSING_BASELINE 02.09"),
        ({"tags": {"PROCESSING_BASELINE": "N0510"}}, -1000, "PROCESSING_BASELINE N0510"),
        ({"tags": {"BOA_ADD_OFFSET": "-1000.0"}, "band_tags": {"BOA_ADD_OFFSET": "-1000"}}, -1000, "BOA_ADD_OFFSET"),
    ],
)
def test_each_way_a_file_declares_its_offset(s2, declared, declaration, dn, source):
    declared(s2, **declaration)
    offset = offset_of(s2)
    assert (offset.dn, offset.origin, offset.warnings) == (dn, source, ())


def test_scale_and_offset_stored_as_float32_declare_a_whole_offset(s2, declared):
    declared(s2, scale_offset=(float(np.float32(0.0001)), float(np.float32(-0.1))))
    assert offset_of(s2).dn == -1000


def test_the_most_explicit_declaration_wins(s2, declared):
    declared(
        s2, scale_offset=(0.0001, 0.0), band_tags={"BOA_ADD_OFFSET": "-1000"}, tags={"PROCESSING_BASELINE": "05.10"}
    )
    assert offset_of(s2).origin == "band offsets" and offset_of(s2).dn == 0
    with rasterio.open(s2, "r+") as dataset:
        dataset.scales, dataset.offsets = (1.0,) * 13, (0.0,) * 13
    assert (offset_of(s2).dn, offset_of(s2).origin) == (-1000, "BOA_ADD_OFFSET")


@pytest.mark.parametrize(
    "declaration, problem",
    [
        ({"scale_offset": (2.75e-05, -0.2)}, "declares a band scale of 2.75e-05, not Sentinel-2's 0.0001"),
        ({"band_tags": {"BOA_ADD_OFFSET": "minus a thousand"}}, "BOA_ADD_OFFSET 'minus a thousand' is not a number"),
        ({"tags": {"RADIO_ADD_OFFSET": "1000"}}, "declares an add-offset of 1000 DN (RADIO_ADD_OFFSET)"),
        ({"tags": {"RADIO_ADD_OFFSET": "-1000.5"}}, "declares an add-offset of -1000.5 DN"),
        ({"tags": {"PROCESSING_BASELINE": "latest"}}, "PROCESSING_BASELINE 'latest' is not a baseline such as 05.10"),
        ({"tags": {"PROCESSING_BASELINE": "nan"}}, "PROCESSING_BASELINE 'nan' is not a baseline such as 05.10"),
        (
            {"tags": {"BOA_ADD_OFFSET": "-1000", "RADIO_ADD_OFFSET": "0"}},
            "declares BOA_ADD_OFFSET -1000 and RADIO_ADD_OFFSET 0",
        ),
    ],
)
def test_an_unclear_declaration_names_the_file(s2, declared, declaration, problem):
    declared(s2, **declaration)
    with pytest.raises(InputError) as raised:
        offset_of(s2)
    assert str(raised.value).startswith(f"{s2}: ") and problem in str(raised.value)
    assert "--s2-offset" in str(raised.value)


def test_bands_that_disagree_are_named(s2, declared):
    with rasterio.open(s2, "r+") as dataset:
        dataset.scales = (0.0001,) * 13
        dataset.offsets = (-0.1,) * 12 + (0.0,)
        dataset.update_tags(1, BOA_ADD_OFFSET="-1000")
        dataset.update_tags(2, BOA_ADD_OFFSET="0")
    with pytest.raises(InputError, match="different scales or offsets"):
        offset_of(s2)
    with rasterio.open(s2, "r+") as dataset:
        dataset.offsets = (0.0,) * 13
        dataset.scales = (1.0,) * 13
    with pytest.raises(InputError, match=r"different BOA_ADD_OFFSET values \(-1000, 0\)"):
        offset_of(s2)


def test_a_given_offset_is_used_and_a_contradicting_declaration_is_a_warning(s2, declared):
    assert offset_of(s2, -1000).warnings == () and offset_of(s2, -1000).origin == GIVEN  # nothing declared
    declared(s2, tags={"PROCESSING_BASELINE": "05.10"})
    assert offset_of(s2, -1000).warnings == ()
    [warning] = offset_of(s2, 0).warnings
    assert offset_of(s2, 0).dn == 0
    assert warning.startswith(f"{s2}: declares an add-offset of -1000 DN (PROCESSING_BASELINE 05.10)")
    assert "restoring with 0 as asked" in warning


def test_a_given_offset_is_used_over_an_unclear_declaration_which_is_a_warning(s2, declared):
    declared(s2, scale_offset=(2.75e-05, -0.2))
    offset = offset_of(s2, -1000)
    assert offset.dn == -1000 and offset.warnings == (
        f"{s2}: declares a band scale of 2.75e-05, not Sentinel-2's 0.0001 (reflectance = DN / 10000); "
        "restoring with --s2-offset -1000 as asked",
    )


@pytest.mark.parametrize(
    "dn, ok",
    [(0, True), (-1000, True), (-9999, True), (1, False), (-10000, False), (-0.5, False), (float("nan"), False)],
)
def test_what_can_be_an_offset(dn, ok):
    assert is_offset(dn) is ok
