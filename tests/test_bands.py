import pytest

from ibhfn.bands import S1_BANDS, S2_BANDS, described_order

SWAPPED = ("B2", "B1", *S2_BANDS[2:])


@pytest.mark.parametrize(
    "descriptions, order",
    [
        (S2_BANDS, S2_BANDS),
        (("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"), S2_BANDS),
        (tuple(f"{band.lower()} (TOA)" for band in SWAPPED), SWAPPED),
    ],
)
def test_sentinel_2_names_as_tools_write_them(descriptions, order):
    assert described_order(descriptions, S2_BANDS) == order


def test_sar_names_as_snap_writes_them():
    assert described_order(("Sigma0_VH_db", "Sigma0_VV_db"), S1_BANDS) == ("VH", "VV")


@pytest.mark.parametrize(
    "descriptions",
    [
        (None,) * 13,  # no descriptions
        tuple(f"B{index}" for index in range(1, 14)),  # band numbers, not Sentinel-2 names: B13, no B8A
        ("B1", "B1", *S2_BANDS[2:]),  # a name twice
    ],
)
def test_descriptions_that_do_not_name_every_band_once_say_nothing(descriptions):
    assert described_order(descriptions, S2_BANDS) is None


def test_sar_descriptions_that_are_not_one_polarisation_each_say_nothing():
    assert described_order(("band 1", "VV and VH"), S1_BANDS) is None
