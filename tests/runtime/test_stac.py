"""STAC out (an Item beside every output, valid against the bundled schemas) and STAC in (an ItemCollection as IN)."""

import json
import subprocess
import sys
from pathlib import Path

import pystac
import pytest
import rasterio
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from typer.testing import CliRunner

from ibhfn.bands import S2_BANDS
from ibhfn.runtime.cli import app

SCHEMAS = Path(__file__).parent / "stac_schemas"
CORE = "https://schemas.stacspec.org/v1.1.0/item-spec/json-schema/"
BUNDLED = {
    **{CORE + path.name: path for path in (SCHEMAS / "stac-spec-v1.1.0").glob("*.json")},
    **{f"https://geojson.org/schema/{path.name}": path for path in (SCHEMAS / "geojson").glob("*.json")},
    **{
        "https://stac-extensions.github.io/{}/{}/schema.json".format(*path.stem.rsplit("-", 1)): path
        for path in (SCHEMAS / "extensions").glob("*.json")
    },
    "https://proj.org/schemas/v0.7/projjson.schema.json": SCHEMAS / "projjson.schema.json",
}
REGISTRY = Registry().with_resources(
    (url, Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT7))
    for url, path in BUNDLED.items()
)


def schema_errors(item: dict) -> list[str]:
    """Every way `item` breaks the STAC Item schema or one of its extensions' schemas (all bundled: no network)."""
    errors = []
    for url in [CORE + "item.json", *item["stac_extensions"]]:
        assert url in BUNDLED, f"{url} is not bundled under {SCHEMAS}"
        validator = Draft7Validator(json.loads(BUNDLED[url].read_text()), registry=REGISTRY)
        errors += [f"{url}: {error.message}" for error in validator.iter_errors(item)]
    return errors


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_every_output_gets_an_item_that_validates_and_opens_in_pystac(tmp_path, onnx_engine_path, make_scene):
    make_scene(tmp_path / "in", "a", height=80, width=72)
    make_scene(tmp_path / "in", "b", height=64, width=64, seed=1)
    out = tmp_path / "out"
    result = invoke("--engine", onnx_engine_path, "--stac", "--cog", tmp_path / "in", out)
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out.glob("*.stac.json")) == ["a.stac.json", "b.stac.json"]
    item_json = json.loads((out / "a.stac.json").read_text())
    assert schema_errors(item_json) == []
    broken = json.loads(json.dumps(item_json))
    broken["assets"]["restored"]["raster:bands"][0]["data_type"] = "uint17"
    broken["properties"]["processing:software"] = "ibhfn"
    assert len(schema_errors(broken)) >= 2  # the bundled schemas do judge the Item
    assert {url.split("/")[3] for url in item_json["stac_extensions"]} == {"projection", "eo", "raster", "processing"}
    item = pystac.Item.from_file(str(out / "a.stac.json"))
    assert item.id == "a" and item.properties["proj:code"] == "EPSG:32631"
    assert item.properties["proj:shape"] == [80, 72]
    restored = item.assets["restored"]
    assert restored.media_type == pystac.MediaType.COG and restored.roles == ["data"]
    assert Path(restored.get_absolute_href()) == out / "a.tif"
    assert [band["name"] for band in restored.extra_fields["eo:bands"]] == list(S2_BANDS)
    assert restored.extra_fields["eo:bands"][3]["common_name"] == "red"
    with rasterio.open(out / "a.tif") as dataset:
        bounds, scale, offset, nodata = dataset.bounds, dataset.scales[0], dataset.offsets[0], dataset.nodata
    raster = restored.extra_fields["raster:bands"]
    assert len(raster) == 13 and raster[0]["data_type"] == "uint16" and raster[0]["spatial_resolution"] == 10
    assert (raster[0]["scale"], raster[0]["offset"], raster[0]["nodata"]) == (scale, offset, nodata) == (1e-4, 0, 0)
    assert item.properties["proj:bbox"] == [bounds.left, bounds.bottom, bounds.right, bounds.top]
    west, south, east, north = item.bbox
    assert 2.9 < west < east < 3.1 and 36.1 < south < north < 36.2  # UTM 31N, 500 km E, 4000 km N
    record = json.loads((out / "a.tif.json").read_text())
    software = item.properties["processing:software"]
    assert software["ibhfn"] == item.properties["processing:version"] == record["package_version"]
    assert software["engine standin.onnx"] == f"sha256:{record['engine']['sha256']}"
    assert record["engine"]["sha256"] in item.properties["processing:lineage"]
    inputs = sorted((out / link.href).resolve() for link in item.links if link.rel == "derived_from")
    assert inputs == sorted((tmp_path / "in" / f"a_{sensor}.tif") for sensor in ("s1", "s2"))
    assert item.assets["record"].get_absolute_href() == str(out / "a.tif.json")


def test_float32_output_declares_no_scaling_and_nan_nodata(tmp_path, onnx_engine_path, make_scene):
    s1, s2 = make_scene(tmp_path / "in", "f", height=64, width=64)
    out = tmp_path / "out"
    assert invoke("--engine", onnx_engine_path, "--float32", "--s1", s1, "--s2", s2, out).exit_code == 0
    item_json = json.loads((out / "f.stac.json").read_text())
    assert schema_errors(item_json) == []
    band = item_json["assets"]["restored"]["raster:bands"][0]
    assert band["data_type"] == "float32" and "scale" not in band and "offset" not in band


def scene_item(item_id, sensor_file, *, properties=None, assets=None, self_href=None):
    item = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": item_id,
        "geometry": None,
        "properties": {"datetime": "2023-04-12T10:15:59Z", **(properties or {})},
        "links": [{"rel": "self", "href": self_href}] if self_href else [],
        "assets": assets
        if assets is not None
        else {"data": {"href": sensor_file, "type": "image/tiff; application=geotiff", "roles": ["data"]}},
    }
    return item


def write_collection(path, items):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": items}))
    return path


def test_an_item_collection_is_paired_by_item_ids_and_the_outputs_link_their_items(
    tmp_path, onnx_engine_path, make_scene
):
    for index, name in enumerate(("north", "south")):
        make_scene(tmp_path / "data", name, height=64, width=64, seed=index)
    (tmp_path / "catalogue").mkdir()
    collection = write_collection(
        tmp_path / "catalogue" / "items.json",
        [
            scene_item(f"{name}_{sensor}", f"../data/{name}_{sensor}.tif")
            for name in ("south", "north")
            for sensor in ("s2", "s1")
        ],
    )
    out = tmp_path / "out"
    result = invoke("--engine", onnx_engine_path, collection, out)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("2 scenes: 2 done")
    item = pystac.Item.from_file(str(out / "north.stac.json"))
    assert schema_errors(item.to_dict(include_self_link=False)) == []
    assert item.datetime.isoformat() == "2023-04-12T10:15:59+00:00"  # the S2 Item's acquisition, not the run's
    assert sorted(link.title for link in item.links if link.rel == "derived_from") == [
        "S1 Item north_s1",
        "S2 Item north_s2",
    ]
    with rasterio.open(out / "north.tif") as restored, rasterio.open(tmp_path / "data" / "north_s2.tif") as given:
        assert restored.transform == given.transform and restored.count == 13
    collected = invoke("--collect", collection, out)  # the collection is the plan --collect checks
    assert collected.exit_code == 0 and collected.stdout.startswith("2 scenes planned: 2 complete")


def test_items_pair_by_an_explicit_property_and_platform(tmp_path, onnx_engine_path, make_scene):
    s1, s2 = make_scene(tmp_path / "data", "x", height=64, width=64)
    items = [
        scene_item(
            "S1A_IW_GRDH_20230412",
            str(s1),
            properties={"platform": "sentinel-1a", "grid": "T31SEA"},
            self_href="https://example.org/items/s1.json",
        ),
        scene_item("S2B_MSIL1C_20230412", str(s2), properties={"platform": "sentinel-2b", "grid": "T31SEA"}),
    ]
    collection = write_collection(tmp_path / "items.json", items)
    out = tmp_path / "out"
    result = invoke("--engine", onnx_engine_path, "--stac-pair-by", "grid", collection, out)
    assert result.exit_code == 0, result.output
    links = {link["title"]: link["href"] for link in json.loads((out / "T31SEA.stac.json").read_text())["links"]}
    assert links["S1 Item S1A_IW_GRDH_20230412"] == "https://example.org/items/s1.json"
    assert links["S2 Item S2B_MSIL1C_20230412"] == f"{collection.resolve()}#S2B_MSIL1C_20230412"
    unpaired = invoke("--engine", onnx_engine_path, collection, tmp_path / "out2")  # ids name no shared scene
    assert unpaired.exit_code == 2
    assert "scene 'S1A_IW_GRDH_20230412' has 1 S1 and 0 S2 Items" in unpaired.stderr


def test_items_that_cannot_run_get_one_line_each_and_the_others_run(tmp_path, onnx_engine_path, make_scene):
    make_scene(tmp_path / "data", "good", height=64, width=64)
    make_scene(tmp_path / "data", "thumb", height=64, width=64)
    items = [scene_item(f"good_{sensor}", f"data/good_{sensor}.tif") for sensor in ("s1", "s2")] + [
        scene_item("thumb_s1", "data/thumb_s1.tif"),
        scene_item(
            "thumb_s2", None, assets={"thumbnail": {"href": "t.png", "type": "image/png", "roles": ["thumbnail"]}}
        ),
        scene_item("gone_s1", "data/gone_s1.tif"),
        scene_item("gone_s2", "data/gone_s2.tif"),
        scene_item("optical", "data/good_s2.tif"),
        {"type": "Feature", "properties": {}},
    ]
    collection = write_collection(tmp_path / "items.json", items)
    out = tmp_path / "out"
    result = invoke("--engine", onnx_engine_path, collection, out)
    assert result.exit_code == 2
    errors = sorted(line for line in result.stderr.splitlines() if line.startswith("error: "))
    assert errors == sorted(
        [
            f"error: {collection}: feature 8 is not a STAC Item (a Feature with an id)",
            f"error: {collection}: Item 'gone_s1': its data asset {tmp_path / 'data/gone_s1.tif'} does not exist",
            f"error: {collection}: Item 'gone_s2': its data asset {tmp_path / 'data/gone_s2.tif'} does not exist",
            f"error: {collection}: Item 'optical' is neither S1 nor S2: "
            "end its id in _s1 or _s2, or give it the property platform (sentinel-1a, sentinel-2b, ...)",
            f"error: {collection}: Item 'thumb_s2' has no GeoTIFF to read (assets: thumbnail); "
            "give it an asset 'data', or one GeoTIFF asset with the role 'data', "
            "holding the scene's bands in one file",
            f"error: {collection}: scene 'thumb' has 1 S1 and 0 S2 Items (thumb_s1); "
            "it needs an S2 Item beside thumb_s1",
        ]
    )
    assert sorted(path.name for path in out.iterdir()) == ["good.stac.json", "good.tif", "good.tif.json"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not JSON"),
        ('{"type": "Feature"}', "not a STAC ItemCollection (a GeoJSON FeatureCollection of Items)"),
        ('{"type": "FeatureCollection", "features": []}', "the ItemCollection holds no Items"),
    ],
)
def test_a_file_that_is_no_item_collection_is_one_line(tmp_path, onnx_engine_path, text, message):
    (tmp_path / "items.json").write_text(text)
    result = invoke("--engine", onnx_engine_path, tmp_path / "items.json", tmp_path / "out")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {tmp_path / 'items.json'}: {message}")
    assert not (tmp_path / "out").exists()


HIDE_PYSTAC = """
import sys
class Hidden:
    def find_spec(self, name, path=None, target=None):
        if name == "pystac" or name.startswith("pystac."):
            raise ImportError("hidden for the test")
sys.meta_path.insert(0, Hidden())
import ibhfn.runtime.cli as cli
assert "pystac" not in sys.modules
sys.argv = ["ibhfn-run", *sys.argv[1:]]
cli.main()
"""


def test_without_pystac_the_runtime_runs_and_says_so_in_one_line(tmp_path, onnx_engine_path, make_scene):
    make_scene(tmp_path / "in", "a", height=64, width=64)

    def run(*args):
        return subprocess.run(
            [sys.executable, "-c", HIDE_PYSTAC, "--engine", str(onnx_engine_path), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=120,
        )

    default = run(tmp_path / "in", tmp_path / "out")
    assert default.returncode == 0, default.stderr
    assert default.stderr == (
        "warning: pystac is not installed, so no STAC Items are written; pip install 'ibhfn[stac]'\n"
    )
    assert not list((tmp_path / "out").glob("*.stac.json")) and (tmp_path / "out" / "a.tif").is_file()
    asked = run("--stac", tmp_path / "in", tmp_path / "out2")
    assert asked.returncode == 2
    assert asked.stderr == (
        "error: pystac is not installed, so no STAC Items can be written; "
        "pip install 'ibhfn[stac]', or run with --no-stac\n"
    )
    assert not (tmp_path / "out2").exists()
