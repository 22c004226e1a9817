"""`ibhfn-run --collect`: after the shards of a batch finish, prove that every planned scene has a complete output.

The plan is the same IN the shards were given (a folder, a manifest, a STAC ItemCollection), so it
needs no coordinator: a scene is complete when its GeoTIFF and its record exist, the record was
written for this scene from these inputs, and the GeoTIFF has the size the record measured. The
summary (scenes, failures, tiles/s, km2) goes to `OUT/collect.json`, written whole or not at all.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import rasterio
from rasterio.errors import RasterioError

from ibhfn.atomic import atomic_path, write_temporary
from ibhfn.errors import InputError
from ibhfn.runtime.pairing import Pairing, ScenePair
from ibhfn.runtime.raster_source import area_km2
from ibhfn.runtime.remote import is_remote, shown
from ibhfn.runtime.scene_paths import output_path
from ibhfn.runtime.scene_record import RECORD_FORMAT, record_path

SUMMARY_NAME = "collect.json"  # cannot clash with a scene's files, which end in .tif and .tif.json
SUMMARY_FORMAT = "ibhfn-collect/1"
COMPLETE, MISSING, INCOMPLETE, FAILED = "complete", "missing", "incomplete", "failed"


@dataclass
class CollectedScene:
    """One planned scene as the output folder holds it."""

    name: str
    status: str  # COMPLETE, MISSING (nothing written), INCOMPLETE (something, not all) or FAILED (input refused)
    reason: str = ""
    tiles: int = 0
    seconds: float = 0.0  # the scene's own time, from its record
    area_km2: float | None = None
    finished_at: float | None = None  # when its record was written (seconds since the epoch)


@dataclass
class Collection:
    """Every planned scene's state and the batch's figures."""

    scenes: list[CollectedScene] = field(default_factory=list)

    def count(self, status: str) -> int:
        """How many scenes are in `status`."""
        return sum(scene.status == status for scene in self.scenes)

    @property
    def complete(self) -> bool:
        """Whether every planned scene has a complete output."""
        return self.count(COMPLETE) == len(self.scenes)

    def figures(self) -> dict[str, Any]:
        """Tiles, scene seconds and area summed over complete scenes; throughput per task and over the run's span."""
        done = [scene for scene in self.scenes if scene.status == COMPLETE]
        tiles = sum(scene.tiles for scene in done)
        seconds = sum(scene.seconds for scene in done)
        areas = [scene.area_km2 for scene in done]
        area = None if any(a is None for a in areas) else sum(a for a in areas if a is not None)
        starts = [scene.finished_at - scene.seconds for scene in done if scene.finished_at is not None]
        ends = [scene.finished_at for scene in done if scene.finished_at is not None]
        span = max(ends) - min(starts) if ends else 0.0
        return {
            "tiles": tiles,
            "scene_seconds": seconds,
            "tiles_per_second_per_task": tiles / seconds if seconds else 0.0,
            "wall_seconds": span,
            "tiles_per_second": tiles / span if span else 0.0,
            "area_km2": area,
            "km2_per_second": area / span if area is not None and span else None,
        }

    def summary(self) -> dict[str, Any]:
        """The JSON summary written to OUT/collect.json."""
        return {
            "format": SUMMARY_FORMAT,
            "scenes": len(self.scenes),
            **{status: self.count(status) for status in (COMPLETE, MISSING, INCOMPLETE, FAILED)},
            **self.figures(),
            "per_scene": [asdict(scene) for scene in self.scenes],
        }

    def line(self) -> str:
        """One line: scenes by state, tiles/s, km2."""
        figures = self.figures()
        area = figures["area_km2"]
        return (
            f"{len(self.scenes)} scenes planned: {self.count(COMPLETE)} complete, {self.count(MISSING)} missing, "
            f"{self.count(INCOMPLETE)} incomplete, {self.count(FAILED)} failed; {figures['tiles']} tiles at "
            f"{figures['tiles_per_second']:.1f} tiles/s over {figures['wall_seconds']:.1f} s"
            + (f", {area:.2f} km2" if area is not None else "")
        )


def collect(pairing: Pairing, out_dir: Path) -> Collection:
    """The state of every scene `pairing` plans in `out_dir` (reads records and GeoTIFF headers, writes nothing)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise InputError(
            f"{out_dir}: {'not a folder' if out_dir.exists() else 'no such folder'}; give the OUT the shards wrote to"
        )
    collection = Collection()
    for problem in pairing.problems:
        collection.scenes.append(CollectedScene(problem.scene, FAILED, str(problem)))
    for pair in pairing.pairs:
        collection.scenes.append(collect_scene(pair, out_dir))
    collection.scenes.sort(key=lambda scene: scene.name)
    return collection


def collect_scene(pair: ScenePair, out_dir: Path) -> CollectedScene:
    """Whether `pair`'s output in `out_dir` is complete, and its figures when it is."""
    output = output_path(out_dir, pair)
    record_file = record_path(output)
    if not output.exists() and not record_file.exists():
        return CollectedScene(pair.name, MISSING, f"{output}: not written")
    try:
        record = json.loads(record_file.read_text())
        measured = record["output"]["size_bytes"]
        inputs = {sensor: record["inputs"][sensor]["path"] for sensor in ("s1", "s2")}
        tiles, seconds = int(record["tiles"]["run"]), float(record["timings"]["total"])
        finished_at = record_file.stat().st_mtime
    except FileNotFoundError:
        return CollectedScene(pair.name, INCOMPLETE, f"{record_file}: no record beside the output")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return CollectedScene(pair.name, INCOMPLETE, f"{record_file}: not a whole scene record ({exc})")
    if record.get("format") != RECORD_FORMAT or record.get("scene") != pair.name:
        return CollectedScene(pair.name, INCOMPLETE, f"{record_file}: not the record of scene {pair.name!r}")
    planned = {"s1": _resolved(pair.s1), "s2": _resolved(pair.s2)}
    if inputs != planned:
        return CollectedScene(
            pair.name,
            INCOMPLETE,
            f"{record_file}: written from {inputs['s2']}, not the planned {planned['s2']}; run the scene again",
        )
    if not output.is_file() or output.stat().st_size != measured:
        return CollectedScene(pair.name, INCOMPLETE, f"{output}: missing or not the size its record measured")
    try:
        with rasterio.open(output) as dataset:
            area = area_km2(dataset)
    except RasterioError as exc:
        return CollectedScene(pair.name, INCOMPLETE, f"{output}: not a readable GeoTIFF ({exc})")
    return CollectedScene(pair.name, COMPLETE, tiles=tiles, seconds=seconds, area_km2=area, finished_at=finished_at)


def _resolved(path: Path | str) -> str:
    """A planned input as a record names it: a local file's resolved path, a remote one's URL as given."""
    return shown(path) if is_remote(path) else os.path.realpath(path)


def write_summary(collection: Collection, out_dir: Path) -> Path:
    """Write the collection's summary to OUT/collect.json atomically; return its path."""
    path = Path(out_dir) / SUMMARY_NAME
    with atomic_path(path) as tmp:
        write_temporary(tmp, json.dumps(collection.summary(), indent=2, sort_keys=True))
    return path
