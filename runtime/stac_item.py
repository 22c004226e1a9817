"""A STAC Item beside every restored scene (`<name>.stac.json`), so catalogue tools find and read the outputs.

The Item is built from what is already written: the output GeoTIFF's header (grid, bands, scale
and offset, nodata) and the scene record (inputs, engine, versions). It carries the projection,
eo and raster extensions, the processing extension (software and versions, the engine's hash) and
`derived_from` links to its inputs (their STAC Items where the batch came from an ItemCollection).
pystac is optional (`pip install 'ibhfn[stac]'`): it is imported only when Items are written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rasterio
from rasterio.errors import RasterioError
from rasterio.warp import transform as transform_points

import ibhfn
from ibhfn.atomic import atomic_path, write_temporary
from ibhfn.errors import DependencyError, InputError
from ibhfn.runtime.scene_record import record_path

if TYPE_CHECKING:
    import pystac

    from ibhfn.runtime.run_options import Progress, SceneResult

ITEM_SUFFIX = ".stac.json"  # x.tif -> x.stac.json: never a scene's .tif or .tif.json
INSTALL = "pip install 'ibhfn[stac]'"
EDGE_POINTS = 16  # points along each edge of the footprint, so that its outline in lon/lat follows the curve

# Sentinel-2 MSI (S2A): common name, centre wavelength and full width at half maximum in micrometres.
S2_SPECTRUM = {
    "B1": ("coastal", 0.443, 0.027),
    "B2": ("blue", 0.490, 0.098),
    "B3": ("green", 0.560, 0.045),
    "B4": ("red", 0.665, 0.038),
    "B5": ("rededge", 0.705, 0.019),
    "B6": ("rededge", 0.740, 0.018),
    "B7": ("rededge", 0.783, 0.028),
    "B8": ("nir", 0.842, 0.145),
    "B8A": ("nir08", 0.865, 0.033),
    "B9": ("nir09", 0.945, 0.026),
    "B10": ("cirrus", 1.375, 0.075),
    "B11": ("swir16", 1.610, 0.143),
    "B12": ("swir22", 2.190, 0.242),
}


@dataclass(frozen=True)
class InputItem:
    """An input of a scene that came from a STAC Item: which sensor, its Item's href and id, its acquisition time."""

    sensor: str  # "s1" or "s2"
    href: str
    item_id: str
    datetime: str | None = None


def load_pystac() -> Any:
    """pystac, or DependencyError in one line saying how to install it."""
    try:
        import pystac
    except ImportError:
        raise DependencyError(
            f"pystac is not installed, so no STAC Items can be written; {INSTALL}, or run with --no-stac"
        ) from None
    return pystac


def stac_available() -> bool:
    """Whether pystac can be imported."""
    try:
        load_pystac()
    except DependencyError:
        return False
    return True


def item_path(output: Path) -> Path:
    """Where the STAC Item of `output` lies."""
    return output.with_name(output.stem + ITEM_SUFFIX)


def build_item(output: Path, inputs: Sequence[InputItem] = ()) -> pystac.Item:
    """The STAC Item of a restored scene, from its GeoTIFF and record (InputError if either cannot be read)."""
    stac = load_pystac()
    from pystac.extensions.eo import Band, EOExtension
    from pystac.extensions.projection import ProjectionExtension
    from pystac.extensions.raster import RasterBand, RasterExtension

    output = Path(output)
    record = _read_record(output)
    try:
        with rasterio.open(output) as dataset:
            grid = _grid(dataset)
    except RasterioError as exc:
        raise InputError(f"{output}: cannot read it to describe it in a STAC Item ({exc})") from None
    created = datetime.fromtimestamp(record_path(output).stat().st_mtime, timezone.utc)
    acquired = next((source.datetime for source in inputs if source.sensor == "s2" and source.datetime), None)
    item: pystac.Item = stac.Item(
        id=record.get("scene", output.stem),
        geometry=grid["geometry"],
        bbox=grid["bbox"],
        datetime=datetime.fromisoformat(acquired.replace("Z", "+00:00")) if acquired else created,
        properties={"created": _rfc3339(created)},
    )
    item.properties.update(_processing(record, created))
    item.stac_extensions.append(PROCESSING_SCHEMA)
    media = stac.MediaType.COG if record.get("options", {}).get("cog") else stac.MediaType.GEOTIFF
    asset = stac.Asset(f"./{output.name}", title="cloud-free Sentinel-2 (IB-HFN)", media_type=media, roles=["data"])
    item.add_asset("restored", asset)
    item.add_asset(
        "record",
        stac.Asset(
            f"./{record_path(output).name}",
            title="ibhfn scene record",
            media_type=stac.MediaType.JSON,
            roles=["metadata"],
        ),
    )
    if (gate := record.get("gate")) is not None:
        item.add_asset(
            "gate", stac.Asset(f"./{gate['path']}", title="clear-sky gate G (%)", media_type=media, roles=["data"])
        )
    projection = ProjectionExtension.ext(item, add_if_missing=True)
    projection.code, projection.shape = grid["code"], grid["shape"]
    projection.transform, projection.bbox = grid["transform"], grid["proj_bbox"]
    if grid["code"] is None:
        projection.wkt2 = grid["wkt2"]
    EOExtension.ext(asset, add_if_missing=True).bands = [
        Band.create(
            name=name,
            common_name=S2_SPECTRUM[name][0],
            center_wavelength=S2_SPECTRUM[name][1],
            full_width_half_max=S2_SPECTRUM[name][2],
        )
        if name in S2_SPECTRUM
        else Band.create(name=name)
        for name in grid["bands"]
    ]
    RasterExtension.ext(asset, add_if_missing=True).bands = [
        RasterBand.create(
            nodata=grid["nodata"],
            data_type=grid["dtype"],
            spatial_resolution=grid["resolution"],
            scale=scale,
            offset=offset,
            unit=None if scale is None else "1",
        )
        for scale, offset in grid["scaling"]
    ]
    for link in _input_links(record, inputs, output.parent, stac):
        item.add_link(link)
    return item


PROCESSING_SCHEMA = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"


def _read_record(output: Path) -> dict[str, Any]:
    """The scene record of `output`, or InputError naming it."""
    path = record_path(output)
    try:
        record: dict[str, Any] = json.loads(path.read_text())
        return record
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the scene record to describe {output.name} ({exc})") from None


def _grid(dataset: rasterio.DatasetReader) -> dict[str, Any]:
    """What the Item says of an output's grid and bands, read from its header."""
    crs = dataset.crs
    left, bottom, right, top = dataset.bounds
    west, east, south, north = min(left, right), max(left, right), min(bottom, top), max(bottom, top)
    steps = [i / EDGE_POINTS for i in range(EDGE_POINTS)]
    ring = (
        [(west + (east - west) * t, south) for t in steps]
        + [(east, south + (north - south) * t) for t in steps]
        + [(east - (east - west) * t, north) for t in steps]
        + [(west, north - (north - south) * t) for t in steps]
    )
    lons, lats = transform_points(crs, "EPSG:4326", [x for x, _ in ring], [y for _, y in ring]) if crs else ([], [])
    coordinates = [[round(lon, 7), round(lat, 7)] for lon, lat in zip(lons, lats)]
    scales = dataset.scales or (1.0,) * dataset.count
    offsets = dataset.offsets or (0.0,) * dataset.count
    declared = any(s != 1.0 for s in scales) or any(o != 0.0 for o in offsets)
    epsg = crs.to_epsg() if crs else None
    return {
        "geometry": {"type": "Polygon", "coordinates": [coordinates + coordinates[:1]]} if coordinates else None,
        "bbox": [min(lons), min(lats), max(lons), max(lats)] if coordinates else None,
        "code": f"EPSG:{epsg}" if epsg else None,
        "wkt2": crs.to_wkt() if crs and not epsg else None,
        "shape": [dataset.height, dataset.width],
        "transform": list(dataset.transform)[:6],
        "proj_bbox": [west, south, east, north],
        "bands": [description or f"band {index}" for index, description in enumerate(dataset.descriptions, 1)],
        "dtype": dataset.dtypes[0],
        "nodata": dataset.nodata,
        "resolution": abs(dataset.transform.a),
        "scaling": [(s, o) if declared else (None, None) for s, o in zip(scales, offsets)],
    }


def _processing(record: dict[str, Any], created: datetime) -> dict[str, Any]:
    """The processing extension's fields: what made the output, with which versions, from which engine."""
    engine = record.get("engine", {})
    software = {
        name: version
        for name, version in record.get("versions", {}).items()
        if isinstance(version, str) and version and version != "not installed"
    }
    software["ibhfn"] = record.get("package_version", ibhfn.__version__)
    name = Path(engine.get("path", "engine")).name
    if engine.get("sha256"):
        software[f"engine {name}"] = f"sha256:{engine['sha256']}"
    inputs = record.get("inputs", {})
    return {
        "processing:software": software,
        "processing:version": software["ibhfn"],
        "processing:datetime": _rfc3339(created),
        "processing:lineage": (
            f"Clouds removed from Sentinel-2 {Path(inputs.get('s2', {}).get('path', '?')).name} "
            f"with Sentinel-1 {Path(inputs.get('s1', {}).get('path', '?')).name} by IB-HFN, "
            f"engine {name} on {engine.get('backend', '?')} (sha256 {engine.get('sha256', '?')})"
        ),
        "ibhfn:engine_sha256": engine.get("sha256"),
    }


def _input_links(record: dict[str, Any], inputs: Sequence[InputItem], folder: Path, pystac: Any) -> list[Any]:
    """`derived_from` links to a scene's inputs: their STAC Items where known, else the input files."""
    links = [
        pystac.Link(
            "derived_from",
            source.href,
            media_type=pystac.MediaType.JSON,
            title=f"{source.sensor.upper()} Item {source.item_id}",
        )
        for source in inputs
    ]
    given = {source.sensor for source in inputs}
    for sensor, facts in sorted(record.get("inputs", {}).items()):
        if sensor in ("s1", "s2") and sensor not in given and isinstance(facts, dict) and facts.get("path"):
            links.append(
                pystac.Link(
                    "derived_from",
                    _href(facts["path"], folder),
                    media_type=pystac.MediaType.GEOTIFF,
                    title=f"{sensor.upper()} input",
                )
            )
    return links


def _href(path: str, folder: Path) -> str:
    """A local input's path relative to the Item's folder (a remote one as it is)."""
    if "://" in path or path.startswith("/vsi"):
        return path
    return os.path.relpath(path, folder)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def write_item(output: Path, inputs: Sequence[InputItem] = ()) -> Path:
    """Write the STAC Item of `output` beside it, atomically; return its path."""
    item = build_item(output, inputs)
    path = item_path(Path(output))
    with atomic_path(path) as tmp:
        write_temporary(tmp, json.dumps(item.to_dict(include_self_link=False, transform_hrefs=False), indent=2))
    return path


class ItemWriter:
    """Progress that passes everything on and writes the STAC Item of each scene done (or skipped without one).

    An Item that cannot be written fails its scene with the one-line reason.
    """

    def __init__(self, progress: Progress, sources: Callable[[str], list[InputItem]]) -> None:
        self._progress = progress
        self._sources = sources

    def scene_started(self, name: str, tiles: int) -> None:
        self._progress.scene_started(name, tiles)

    def tiles_done(self, name: str, count: int) -> None:
        self._progress.tiles_done(name, count)

    def scene_finished(self, result: SceneResult) -> None:
        wanted = result.status == "done" or (result.status == "skipped" and not item_path(result.output).is_file())
        if wanted:
            try:
                write_item(result.output, self._sources(result.name))
            except (InputError, DependencyError) as exc:
                result.status, result.message = "failed", str(exc)
        self._progress.scene_finished(result)
