import shutil

import pytest

from ibhfn.bands import S2_BANDS
from ibhfn.errors import InputError
from ibhfn.runtime.l1c_product import open_l1c


@pytest.fixture
def product(tmp_path, make_l1c_product):
    """A small Level-1C .SAFE folder of baseline 05.09 (offset -1000)."""
    return make_l1c_product(tmp_path / "products", size=60)[0]


def test_a_safe_folder_gives_its_bands_in_the_engines_order_and_its_offset(product):
    found = open_l1c(product)
    assert (found.name, found.baseline, found.offset) == ("T32TQM_20230412", "05.09", -1000)
    assert list(found.band_files) == list(S2_BANDS)
    assert found.band_files["B1"].endswith("/IMG_DATA/T32TQM_20230412T101559_B01.jp2")
    assert found.band_files["B8A"].endswith("_B8A.jp2") and found.band_files["B8"].endswith("_B08.jp2")
    assert found.product_uri == product.name


def test_a_zipped_product_reads_the_same_through_gdals_zip_paths(product, zipped):
    archive = zipped(product)
    found = open_l1c(archive)
    assert (found.name, found.offset) == ("T32TQM_20230412", -1000)
    assert (
        found.band_files["B2"] == f"/vsizip/{archive.resolve().as_posix()}/{product.name}/GRANULE/"
        "L1C_T32TQM_A031917_20230412T101554/IMG_DATA/T32TQM_20230412T101559_B02.jp2"
    )


def test_a_product_before_baseline_04_has_no_offset(tmp_path, make_l1c_product):
    safe, _ = make_l1c_product(tmp_path, size=60, baseline="02.09", offset=None)
    assert (open_l1c(safe).offset, open_l1c(safe).baseline) == (0, "02.09")


def edit_metadata(product, old, new):
    """Replace every `old` in the product's MTD_MSIL1C.xml by `new`."""
    metadata = product / "MTD_MSIL1C.xml"
    metadata.write_text(metadata.read_text().replace(old, new))


@pytest.mark.parametrize(
    "damage, problem",
    [
        (
            lambda p: (p / "MTD_MSIL1C.xml").rename(p / "MTD_MSIL2A.xml"),
            "a Level-2A product, which has no cirrus band B10",
        ),
        (
            lambda p: (p / "MTD_MSIL1C.xml").unlink(),
            "not a Sentinel-2 Level-1C product (no MTD_MSIL1C.xml at its root)",
        ),
        (lambda p: next(p.rglob("*_B10.jp2")).unlink(), "no *_B10.jp2 image for band B10 under GRANULE/L1C_T32TQM"),
        (
            lambda p: shutil.copytree(next(p.glob("GRANULE/*")), p / "GRANULE" / "L1C_T32TQN_A031917_20230412T101554"),
            "holds 2 granules with images under GRANULE/ (L1C_T32TQM_A031917_20230412T101554, L1C_T32TQN_",
        ),
        (
            lambda p: edit_metadata(p, '"3">-1000<', '"3">-900<'),
            "RADIO_ADD_OFFSET differs between bands or is missing for some in MTD_MSIL1C.xml (0: -1000",
        ),
        (
            lambda p: edit_metadata(p, ">05.09<", ">latest<"),
            "PROCESSING_BASELINE 'latest' in MTD_MSIL1C.xml is not a baseline such as 05.09",
        ),
        (
            lambda p: (p / "MTD_MSIL1C.xml").rename(p / "S2A_OPER_MTD_SAFL1C_PDMC_20160101T000000.xml"),
            "a product in the format used before December 2016",
        ),
        (
            lambda p: [image.unlink() for image in p.rglob("*.jp2") if "IMG_DATA" in image.parts],
            "no band image under GRANULE/*/IMG_DATA (an incomplete download?): fetch the product again",
        ),
        (
            lambda p: edit_metadata(p, "RADIO_ADD_OFFSET", "OTHER_OFFSET"),
            "processing baseline 05.09 but no RADIO_ADD_OFFSET",
        ),
        (lambda p: edit_metadata(p, ">10000<", ">1000<"), "QUANTIFICATION_VALUE is 1000, not 10000"),
        (lambda p: edit_metadata(p, "</n1:Level-1C_User_Product>", ""), "MTD_MSIL1C.xml is not readable XML"),
    ],
)
def test_a_product_that_cannot_be_stacked_is_one_line_naming_it(product, damage, problem):
    damage(product)
    with pytest.raises(InputError) as raised:
        open_l1c(product)
    assert str(raised.value).startswith(f"{product}: ") and problem in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_path_that_is_no_product_is_named(tmp_path):
    (tmp_path / "notes.txt").write_text("not a product")
    for path, problem in (
        (tmp_path / "missing.SAFE", "no such file or folder"),
        (tmp_path / "notes.txt", "not a Sentinel-2 product (give its .SAFE folder or its .zip)"),
    ):
        with pytest.raises(InputError) as raised:
            open_l1c(path)
        assert str(raised.value) == f"{path}: {problem}"
