"""The JSON record beside each restored scene, and whether a finished scene can be skipped.

`<output>.json` (for `scene.tif`, `scene.tif.json`) holds the inputs with their sizes and
hashes, the engine, the options, tile counts and timings. Its `fingerprint` (input and engine
hashes, the options that change the output) is what `--resume` compares: a scene is finished when
its output exists with the recorded size and SHA-256, opens as a GeoTIFF of the recorded size, bands
and type, and the record's fingerprint matches the new run's: an output damaged since (its size
unchanged) is computed again.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rasterio
from rasterio.errors import RasterioError

from ibhfn.atomic import atomic_path, write_temporary
from ibhfn.errors import InputError
from ibhfn.hashing import file_sha256
from ibhfn.runtime.remote import is_remote, remote_facts, shown

RECORD_FORMAT = "ibhfn-scene/2"  # 2: tiles spread evenly, so scenes recorded as /1 are recomputed


@dataclass(frozen=True)
class FileFacts:
    """A file as the record names it: where, how large, which content."""

    path: str
    size_bytes: int
    sha256: str

    @classmethod
    def of(cls, path: Path, stop: threading.Event | None = None) -> FileFacts:
        """Measure and hash `path` (`stop` ends the hashing early); InputError if it cannot be read.

        A remote input is named by its URL and identified by its ETag, size and Last-Modified (`remote.remote_facts`).
        """
        if is_remote(path):
            return cls(shown(path), *remote_facts(path))
        path = Path(path)
        try:
            return cls(str(path.resolve()), path.stat().st_size, file_sha256(path, stop=stop))
        except OSError as exc:
            raise InputError(f"{path}: cannot read it to hash it ({exc.strerror or exc})") from None


def record_path(output: Path) -> Path:
    """Where the record of `output` lies."""
    return output.with_name(output.name + ".json")


def fingerprint(s1: FileFacts, s2: FileFacts, engine_sha256: str, settings: dict[str, Any]) -> dict[str, Any]:
    """What decides the output's content: the inputs, the engine and the output settings."""
    return {"s1_sha256": s1.sha256, "s2_sha256": s2.sha256, "engine_sha256": engine_sha256, "settings": settings}


def write_record(output: Path, record: dict[str, Any]) -> None:
    """Write the record of `output` atomically, its format tag and the output's size included."""
    measured = {"path": str(output.resolve()), **written_facts(output)}
    full = {"format": RECORD_FORMAT, **record, "output": {**record.get("output", {}), **measured}}
    with atomic_path(record_path(output)) as tmp:
        write_temporary(tmp, json.dumps(full, indent=2, sort_keys=True, default=str))


def written_facts(path: Path) -> dict[str, Any]:
    """What the record keeps of a file a run wrote, to know it again: its size and SHA-256."""
    return {"size_bytes": path.stat().st_size, "sha256": file_sha256(path)}


def _same_content(path: Path, facts: dict[str, Any]) -> bool:
    """Whether `path` still has the SHA-256 in `facts` (a record from before it was kept: yes)."""
    return "sha256" not in facts or file_sha256(path) == facts["sha256"]


def _opens_as(path: Path, facts: dict[str, Any]) -> bool:
    """Whether `path` opens as a GeoTIFF of the width, height, bands and type in `facts`."""
    try:
        with rasterio.open(path) as dataset:
            return (dataset.driver, dataset.width, dataset.height, dataset.count, dataset.dtypes[0]) == (
                "GTiff",
                facts["width"],
                facts["height"],
                len(facts["bands"]),
                facts["dtype"],
            )
    except RasterioError:
        return False


def is_finished(output: Path, expected: dict[str, Any]) -> bool:
    """Whether `output` and its record exist, the record has fingerprint `expected` and the output is unchanged.

    Unchanged: the recorded size and SHA-256 (records from before it was kept: the size), and it opens as
    a GeoTIFF of the recorded shape and type. A gate the record lists (`gate`: its path from `output`'s
    folder, size and SHA-256) must be unchanged too.
    """
    path = record_path(output)
    if not output.is_file() or not path.is_file():
        return False
    try:
        record = json.loads(path.read_text())
        gate = record.get("gate")
        return (
            record.get("format") == RECORD_FORMAT
            and record["fingerprint"] == json.loads(json.dumps(expected, default=str))
            and record["output"]["size_bytes"] == output.stat().st_size
            and (gate is None or (output.parent / gate["path"]).stat().st_size == gate["size_bytes"])
            and _opens_as(output, record["output"])
            and _same_content(output, record["output"])
            and (gate is None or _same_content(output.parent / gate["path"], gate))
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # any damage: the scene is run again
        return False
