import numpy as np
import pytest
import rasterio
from affine import Affine
from rio_cogeo.cogeo import cog_validate

import ibhfn
from ibhfn.errors import InputError
from ibhfn.preprocessing import PREPROCESSING
from ibhfn.runtime.writer import BLOCK, COMPRESSIONS, SceneWriter, encode, reflectance_scaling

PROFILE = {
    "width": 300,
    "height": 530,
    "crs": rasterio.crs.CRS.from_epsg(32633),
    "transform": Affine(10.0, 0.0, 400000.0, 0.0, -10.0, 5100000.0),
}


def write(path, values, strips, splits=(), **kwargs):
    """Write `values` in strips of the given heights, each cut at the given columns."""
    width = values.shape[2]
    with SceneWriter(
        path, PROFILE, bands=values.shape[0], dtype=str(values.dtype), descriptions=("B2", "B3"), **kwargs
    ) as writer:
        row = 0
        for count in strips:
            edges = [0, *splits, width]
            for left, right in zip(edges, edges[1:]):
                writer.write(row, left, values[:, row : row + count, left:right])
            row += count


def compression_of(dataset) -> tuple[str, str]:
    """A written file's compression and predictor, as GDAL reports them ("none" and "1" without)."""
    structure = dataset.tags(ns="IMAGE_STRUCTURE")
    return structure.get("COMPRESSION", "none").lower(), structure.get("PREDICTOR", "1")


def test_pieces_in_uneven_strips_make_a_tiled_compressed_geotiff(tmp_path):
    values = np.random.default_rng(0).integers(0, 10000, (2, 530, 300)).astype(np.uint16)
    write(tmp_path / "out.tif", values, [100, 157, 3, 270], splits=[BLOCK])
    with rasterio.open(tmp_path / "out.tif") as out:
        np.testing.assert_array_equal(out.read(), values)
        assert out.crs == PROFILE["crs"] and out.transform == PROFILE["transform"]
        assert out.descriptions == ("B2", "B3")
        assert out.nodata == 0 and out.block_shapes[0] == (BLOCK, BLOCK)
        assert out.compression.name.lower() == "deflate"


@pytest.mark.parametrize("compress", COMPRESSIONS)
@pytest.mark.parametrize("dtype", ["uint16", "float32"])
def test_every_compression_keeps_the_values_and_is_named_in_the_file(tmp_path, compress, dtype):
    values = (np.random.default_rng(2).random((2, 530, 300)) * 10000).astype(dtype)
    write(tmp_path / "out.tif", values, [530], compress=compress)
    with rasterio.open(tmp_path / "out.tif") as out:
        np.testing.assert_array_equal(out.read(), values)
        assert compression_of(out) == (compress, "1" if compress == "none" else "2" if dtype == "uint16" else "3")


def test_rows_out_of_order_or_missing_are_refused(tmp_path):
    with pytest.raises(ValueError, match="400 of 530 rows were written"):
        write(tmp_path / "out.tif", np.zeros((2, 530, 300), np.uint16), [400])
    writer = SceneWriter(tmp_path / "b.tif", PROFILE, bands=2, dtype="uint16", descriptions=("B2", "B3"))
    with pytest.raises(ValueError, match="does not follow"):
        writer.write(10, 0, np.zeros((2, 5, 300), np.uint16))
    with pytest.raises(ValueError, match="does not end on a block"):
        writer.write(0, 0, np.zeros((2, 5, 100), np.uint16))
    writer.write(0, 0, np.zeros((2, 5, BLOCK), np.uint16))
    with pytest.raises(ValueError, match="differs in height from its strip"):
        writer.write(0, BLOCK, np.zeros((2, 6, 300 - BLOCK), np.uint16))
    writer.abort()


def test_a_strip_taller_than_a_block_row_is_written_whole(tmp_path):
    values = np.random.default_rng(1).integers(0, 10000, (2, 530, 300)).astype(np.uint16)
    write(tmp_path / "out.tif", values, [10, 520], splits=[0, BLOCK])
    with rasterio.open(tmp_path / "out.tif") as out:
        np.testing.assert_array_equal(out.read(), values)


@pytest.mark.parametrize("compress", COMPRESSIONS)
def test_cog_is_valid_with_overviews_and_leaves_no_strip_file(tmp_path, compress):
    profile = {**PROFILE, "width": 1100, "height": 1100}
    values = np.random.default_rng(0).random((1, 1100, 1100), dtype=np.float32)
    with SceneWriter(
        tmp_path / "out.tif",
        profile,
        bands=1,
        dtype="float32",
        descriptions=("B2",),
        cog=True,
        compress=compress,
        tags={"IBHFN_S2": "a_s2.tif"},
    ) as w:
        w.write(0, 0, values[:, :600])
        w.write(600, 0, values[:, 600:])
    valid, errors, _ = cog_validate(tmp_path / "out.tif")
    assert valid, errors
    with rasterio.open(tmp_path / "out.tif") as out:
        assert out.overviews(1) and out.transform == profile["transform"]
        assert out.tags()["IBHFN_S2"] == "a_s2.tif"  # the copy to a COG keeps the tags
        assert out.tags()["TIFFTAG_SOFTWARE"] == f"ibhfn {ibhfn.__version__}"  # every output names what wrote it
        assert compression_of(out) == (compress, "1" if compress == "none" else "3")
        np.testing.assert_array_equal(out.read(), values)
    assert [p.name for p in tmp_path.iterdir()] == ["out.tif"]


def test_encoding_to_dn_or_reflectance_marks_nodata_in_an_array_of_its_own():
    restored = np.full((2, 2, 2), 0.1234, np.float32)
    valid = np.array([[True, False], [True, True]])
    scratch = restored.copy()
    dn = encode(scratch, valid, PREPROCESSING["default"], "uint16")
    assert dn.dtype == np.uint16 and dn[0, 0, 0] == 1234 and dn[:, 0, 1].tolist() == [0, 0]
    scratch = restored.copy()
    reflectance = encode(scratch, valid, PREPROCESSING["resnet"], "float32")
    assert reflectance[0, 0, 0] == pytest.approx(0.1234 * 2000 / 10000)
    assert np.isnan(reflectance[:, 0, 1]).all()
    assert not np.shares_memory(dn, scratch) and not np.shares_memory(reflectance, scratch)  # written in another thread


def test_encoding_keeps_the_products_offset_in_dn_and_nodata_at_zero():
    restored = np.full((2, 2, 2), 0.1234, np.float32)
    valid = np.array([[True, False], [True, True]])
    dn = encode(restored.copy(), valid, PREPROCESSING["default"], "uint16", s2_offset=-1000)
    assert dn[0, 0, 0] == 2234 and dn[:, 0, 1].tolist() == [0, 0]
    reflectance = encode(restored.copy(), valid, PREPROCESSING["default"], "float32", s2_offset=-1000)
    assert reflectance[0, 0, 0] == pytest.approx(0.1234)  # reflectance has no offset


@pytest.mark.parametrize("offset", [0, -1000])
def test_dn_encoding_is_to_dn_with_a_floor_of_one_dn_at_the_edges_of_the_range(offset):
    """Its fused passes give what Preprocessing.to_dn and a floor of 1 DN give, halves and clipping included."""
    preprocessing = PREPROCESSING["default"]
    dn = np.array(
        [-5, 0, 0.49, 0.5, 0.51, 1.5, 2.5, 999.5, 1000.5, 64534.6, 65534.5, 65535.4, 65535.6, 70000], np.float32
    )
    restored = np.stack([dn, dn[::-1]])[:, None, :] / np.float32(preprocessing.s2_divisor)
    expected = np.maximum(preprocessing.to_dn(restored.copy(), offset=offset), 1)
    encoded = encode(restored.copy(), np.ones(restored.shape[1:], bool), preprocessing, "uint16", s2_offset=offset)
    assert encoded.dtype == np.uint16 and encoded.min() >= 1
    np.testing.assert_array_equal(encoded, expected)


@pytest.mark.parametrize("cog", [False, True])
def test_dn_output_declares_the_scale_and_offset_that_make_it_reflectance(tmp_path, cog):
    values = np.full((2, 530, 300), 2234, np.uint16)
    write(tmp_path / "out.tif", values, [256, 256, 18], cog=cog, scaling=reflectance_scaling("uint16", -1000))
    with rasterio.open(tmp_path / "out.tif") as out:
        assert out.scales == (0.0001, 0.0001) and out.offsets == pytest.approx((-0.1, -0.1))
        reflectance = out.read(1)[0, 0] * out.scales[0] + out.offsets[0]
    assert reflectance == pytest.approx(0.1234)
    assert reflectance_scaling("uint16", 0) == (0.0001, 0.0) and reflectance_scaling("float32", -1000) is None


def test_a_file_that_cannot_be_created_is_a_one_line_input_error(tmp_path):
    (tmp_path / "blocker").write_text("a file where the output folder should be")
    values = np.zeros((2, 530, 300), np.uint16)
    with pytest.raises(InputError, match=r"blocker/out.tif: cannot write the output \("):
        write(tmp_path / "blocker" / "out.tif", values, [530])


def test_panels_written_top_to_bottom_in_turn_make_the_whole_scene(tmp_path):
    values = np.random.default_rng(2).integers(0, 10000, (2, 530, 700)).astype(np.uint16)
    with SceneWriter(
        tmp_path / "out.tif", {**PROFILE, "width": 700}, bands=2, dtype="uint16", descriptions=("B2", "B3")
    ) as writer:
        for start, end in ((0, 2 * BLOCK), (2 * BLOCK, 700)):
            writer.begin_panel(start, end)
            for top, bottom in ((0, 100), (100, 530)):
                writer.write(top, start, values[:, top:bottom, start:end])
    with rasterio.open(tmp_path / "out.tif") as out:
        np.testing.assert_array_equal(out.read(), values)


def test_a_panel_out_of_turn_or_left_unfinished_is_refused(tmp_path):
    writer = SceneWriter(tmp_path / "b.tif", {**PROFILE, "width": 700}, bands=1, dtype="uint16", descriptions=("B2",))
    with pytest.raises(ValueError, match="does not follow"):
        writer.begin_panel(BLOCK, 700)  # the panel left of it is not written
    writer.begin_panel(0, BLOCK)
    writer.write(0, 0, np.zeros((1, 10, BLOCK), np.uint16))
    with pytest.raises(ValueError, match="does not follow"):
        writer.begin_panel(BLOCK, 700)  # this one is not finished
    with pytest.raises(ValueError, match=r"10 of 530 rows were written in columns 0\.\.256"):
        writer.close()
    writer.abort()
