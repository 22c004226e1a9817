"""A batch given as a STAC ItemCollection (GeoJSON FeatureCollection of Items): S1 and S2 Items paired into scenes.

Items pair as the folder rule pairs files: an Item's sensor is its id's `_s1`/`_s2` suffix, else its
`platform` or `constellation` (sentinel-1*, sentinel-2*); its scene is the property `--stac-pair-by`
names when given, else `ibhfn:scene`, else its id without the suffix. Each Item's GeoTIFF is its
asset `data`, else its one GeoTIFF asset with the role `data`; an href relative to the Item's own
`self` link, else to the collection file; https:// and /vsi hrefs are read remotely. Read as plain
JSON, so no STAC library is needed to run a catalogue's scenes.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ibhfn.errors import InputError
from ibhfn.runtime.pairing import Pairing, PairingProblem, ScenePair, not_a_file, plain_name
from ibhfn.runtime.remote import fetch_text, input_path, is_remote, shown, url_of
from ibhfn.runtime.stac_item import InputItem

SCENE_PROPERTY = "ibhfn:scene"
GEOTIFF_TYPES = ("image/tiff", "image/geotiff", "image/tiff; application=geotiff")
_SUFFIX = re.compile(r"^(?P<scene>.+)_(?P<sensor>s[12])$", re.IGNORECASE)
_PLATFORM = re.compile(r"^sentinel-?(?P<number>[12])", re.IGNORECASE)


@dataclass
class StacPlan:
    """The scenes of an ItemCollection, and per scene the Items they came from (for the output Items' links)."""

    pairing: Pairing
    sources: dict[str, list[InputItem]] = field(default_factory=dict)

    def items_of(self, scene: str) -> list[InputItem]:
        """The input Items of `scene` (none for a scene not from this collection)."""
        return self.sources.get(scene, [])


def is_item_collection(path: Path) -> bool:
    """Whether `path` is given as a STAC ItemCollection (a local .json or .geojson file)."""
    return path.suffix.lower() in (".json", ".geojson")


def read_item_collection(path: Path, pair_by: str | None = None) -> StacPlan:
    """Pair the S1 and S2 Items of the ItemCollection at `path`; each Item that cannot be run is a problem."""
    path = input_path(str(path))
    try:
        document = json.loads(fetch_text(path) if is_remote(path) else path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the ItemCollection ({getattr(exc, 'strerror', None) or exc})") from None
    except ValueError as exc:
        raise InputError(f"{shown(path)}: not JSON ({exc}); give a STAC ItemCollection") from None
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection" or not isinstance(features, list):
        raise InputError(f"{shown(path)}: not a STAC ItemCollection (a GeoJSON FeatureCollection of Items)")
    if not features:
        raise InputError(f"{shown(path)}: the ItemCollection holds no Items")
    found: dict[str, dict[str, list[tuple[Path, InputItem]]]] = defaultdict(lambda: {"s1": [], "s2": []})
    problems: list[PairingProblem] = []
    for number, item in enumerate(features, 1):
        try:
            scene, sensor, asset, source = _read_item(item, number, path, pair_by)
        except _ItemProblem as problem:
            problems.append(PairingProblem(path, problem.message, problem.scene))
            continue
        found[scene][sensor].append((asset, source))
    plan = StacPlan(Pairing(problems=problems))
    for scene in sorted(found):
        s1, s2 = found[scene]["s1"], found[scene]["s2"]
        if len(s1) != 1 or len(s2) != 1:
            listed = ", ".join(source.item_id for _, source in s1 + s2)
            wanted = "one S1 and one S2 Item" if s1 and s2 else f"an {'S2' if s1 else 'S1'} Item beside {listed}"
            plan.pairing.problems.append(
                PairingProblem(
                    path,
                    f"scene {scene!r} has {len(s1)} S1 and {len(s2)} S2 Items ({listed}); it needs {wanted}",
                    scene,
                )
            )
            continue
        plan.pairing.pairs.append(ScenePair(scene, s1[0][0], s2[0][0]))
        plan.sources[scene] = [s1[0][1], s2[0][1]]
    plan.pairing.pairs.sort()
    return plan


class _ItemProblem(Exception):
    def __init__(self, scene: str, message: str) -> None:
        super().__init__(message)
        self.scene, self.message = scene, message


def _read_item(item: object, number: int, collection: Path, pair_by: str | None) -> tuple[str, str, Path, InputItem]:
    """(scene, sensor, asset path, source) of one Item, or _ItemProblem saying what it lacks."""
    if not isinstance(item, dict) or item.get("type") != "Feature" or not isinstance(item.get("id"), str):
        raise _ItemProblem(f"#{number}", f"feature {number} is not a STAC Item (a Feature with an id)")
    item_id = item["id"]
    properties: dict[str, Any] = item["properties"] if isinstance(item.get("properties"), dict) else {}
    suffix = _SUFFIX.match(item_id)
    platform = _PLATFORM.match(str(properties.get("platform") or properties.get("constellation") or ""))
    sensor = suffix["sensor"].lower() if suffix else f"s{platform['number']}" if platform else None
    if pair_by is not None:
        scene = properties.get(pair_by)
        if scene is None:
            raise _ItemProblem(item_id, f"Item {item_id!r} has no property {pair_by!r} to pair it by")
        scene = str(scene)
    else:
        scene = str(properties.get(SCENE_PROPERTY) or (suffix["scene"] if suffix else item_id))
    if sensor is None:
        raise _ItemProblem(
            scene,
            f"Item {item_id!r} is neither S1 nor S2: end its id in _s1 or _s2, or give it the "
            "property platform (sentinel-1a, sentinel-2b, ...)",
        )
    if not plain_name(scene):
        raise _ItemProblem(
            scene, f"Item {item_id!r} names its scene {scene!r}: a scene name is a file name, without folders"
        )
    asset = _resolve(_data_href(item, item_id, scene), item, collection)
    if not is_remote(asset) and (reason := not_a_file(asset)) is not None:
        raise _ItemProblem(
            scene,
            f"Item {item_id!r}: its data asset {asset} " + ("does not exist" if reason == "no such file" else reason),
        )
    self_href = next(
        (
            link.get("href")
            for link in item.get("links") or []
            if isinstance(link, dict) and link.get("rel") == "self" and isinstance(link.get("href"), str)
        ),
        None,
    )
    where = shown(collection) if is_remote(collection) else collection.resolve()
    source = InputItem(
        sensor,
        self_href or f"{where}#{item_id}",
        item_id,
        properties.get("datetime") if isinstance(properties.get("datetime"), str) else None,
    )
    return scene, sensor, asset, source


def _data_href(item: dict[str, Any], item_id: str, scene: str) -> str:
    """The href of the Item's GeoTIFF to read: asset `data`, else its one GeoTIFF asset with the role `data`."""
    assets: dict[str, Any] = item["assets"] if isinstance(item.get("assets"), dict) else {}
    chosen = assets.get("data")
    if not isinstance(chosen, dict):
        candidates = [
            asset
            for asset in assets.values()
            if isinstance(asset, dict)
            and "data" in (asset.get("roles") or [])
            and str(asset.get("type", "")).startswith(GEOTIFF_TYPES)
        ]
        chosen = candidates[0] if len(candidates) == 1 else None
    if chosen is None or not isinstance(chosen.get("href"), str) or not chosen["href"]:
        listed = ", ".join(sorted(assets)) or "none"
        raise _ItemProblem(
            scene,
            f"Item {item_id!r} has no GeoTIFF to read (assets: {listed}); give it an asset "
            "'data', or one GeoTIFF asset with the role 'data', holding the scene's bands in one "
            "file",
        )
    return str(chosen["href"])


def _resolve(href: str, item: dict[str, Any], collection: Path) -> Path:
    """An asset href as a path to read: as it is when absolute, else from the Item's self link or the collection's
    place (a folder, or a URL where the collection was fetched)."""
    if is_remote(href) or Path(href).is_absolute():
        return Path(input_path(href))
    base = next(
        (
            str(link["href"])
            for link in item.get("links") or []
            if isinstance(link, dict) and link.get("rel") == "self" and isinstance(link.get("href"), str)
        ),
        None,
    )
    if base is None:
        base = url_of(collection) or str(collection)
    elif not is_remote(base) and not is_remote(collection):
        base = str(collection.parent / base)
    if is_remote(base):
        return Path(input_path(urllib.parse.urljoin(url_of(base) or base, href)))
    return Path(base).parent / href
