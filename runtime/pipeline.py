"""The main job: restore whole scenes, tile by tile, with bounded memory, and many scenes in a batch.

Per scene: open and check the inputs (`SceneSource`), read and preprocess tile rows in a
background thread (`StripReader`), run the tiles in batches (`Engine.infer_batches`), blend them
into a rolling strip (`StripAccumulator`), and write finished rows (`SceneWriter`) under a
temporary name renamed when complete, then the scene's JSON record. Over a batch, a scene that
fails with an `IbhfnError` is recorded with its one-line message and the others still run.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np

import ibhfn
from ibhfn.atomic import atomic_path
from ibhfn.errors import IbhfnError
from ibhfn.runtime.accumulator import StripAccumulator
from ibhfn.runtime.blend import BLEND_WINDOWS, blend_window
from ibhfn.runtime.engine import Engine
from ibhfn.runtime.pairing import Pairing, ScenePair, scene_name
from ibhfn.runtime.raster_source import SceneSource
from ibhfn.runtime.scene_record import FileFacts, fingerprint, is_finished, write_record
from ibhfn.runtime.strip_reader import PreparedStrip, StripReader
from ibhfn.runtime.tiling import Tile, TileGrid
from ibhfn.runtime.writer import OUTPUT_DTYPES, SceneWriter, encode

DEFAULT_TILE = 256
OUTPUT_SUFFIX = ".tif"


@dataclass(frozen=True)
class RunOptions:
    """How scenes are tiled, blended and written."""

    tile_size: int | None = None  # None: the engine's fixed tile, else DEFAULT_TILE
    overlap: int = 32  # pixels shared by neighbouring tiles
    batch_size: int = 4  # tiles per engine call (capped by the engine's maximum)
    blend: str = "hann"  # one of BLEND_WINDOWS
    output_dtype: str = "uint16"  # uint16 DN (reflectance x 10000) or float32 reflectance
    cog: bool = False  # Cloud-Optimised GeoTIFF with overviews
    prefetch: int = 2  # strips the reader thread may prepare ahead

    def __post_init__(self) -> None:
        if self.blend not in BLEND_WINDOWS:
            raise IbhfnError(f"unknown blend window {self.blend!r}; choose one of {', '.join(BLEND_WINDOWS)}")
        if self.output_dtype not in OUTPUT_DTYPES:
            raise IbhfnError(f"unknown output type {self.output_dtype!r}; choose one of {', '.join(OUTPUT_DTYPES)}")
        if self.batch_size < 1 or self.prefetch < 1 or self.overlap < 0:
            raise IbhfnError("batch size and prefetch must be at least 1, overlap at least 0")

    def tile_for(self, engine: Engine) -> int:
        """The tile size to run `engine` with, checked against it."""
        tile = self.tile_size or engine.tile_size or DEFAULT_TILE
        engine.check_tile(tile)
        if self.overlap >= tile:
            raise IbhfnError(f"overlap {self.overlap} px must be smaller than the {tile} px tile")
        return tile

    def output_settings(self, engine: Engine) -> dict:
        """The options that change the output's content (batch size and prefetch do not)."""
        return {
            "tile_size": self.tile_for(engine),
            "overlap": self.overlap,
            "blend": self.blend,
            "output_dtype": self.output_dtype,
            "cog": self.cog,
        }


@dataclass
class SceneResult:
    """What happened to one scene."""

    name: str
    output: Path
    status: str  # "done", "skipped" (finished earlier, --resume) or "failed"
    message: str = ""  # the one-line error when failed
    warnings: list[str] = field(default_factory=list)
    tiles: int = 0  # tiles run through the engine
    empty_tiles: int = 0  # tiles skipped because all their pixels are nodata
    width: int = 0
    height: int = 0
    area_km2: float | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, "total" included


class Progress(Protocol):
    """Receives progress as scenes run (the CLI draws bars from it)."""

    def scene_started(self, name: str, tiles: int) -> None: ...

    def tiles_done(self, count: int) -> None: ...

    def scene_finished(self, result: SceneResult) -> None: ...


class NoProgress:
    """Progress that goes nowhere."""

    def scene_started(self, name: str, tiles: int) -> None:
        """Ignore the start of a scene."""

    def tiles_done(self, count: int) -> None:
        """Ignore finished tiles."""

    def scene_finished(self, result: SceneResult) -> None:
        """Ignore the end of a scene."""


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Add the seconds the block takes to `timings[stage]`."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


def _restore_strip(engine: Engine, strip: PreparedStrip, tile: int, batch: int) -> Iterator[tuple[Tile, np.ndarray]]:
    """Run the strip's tiles through the engine in batches; yield each tile with its prediction."""
    groups = [strip.tiles[start:start + batch] for start in range(0, len(strip.tiles), batch)]

    def inputs() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for group in groups:
            yield (
                np.stack([strip.sar[:, :, t.col:t.col + tile] for t in group]),
                np.stack([strip.optical[:, :, t.col:t.col + tile] for t in group]),
            )

    for group, restored in zip(groups, engine.infer_batches(inputs())):
        yield from zip(group, restored)


def _blend_strip(engine: Engine, strip: PreparedStrip, grid: TileGrid, options: RunOptions,
                 strip_sum: StripAccumulator) -> None:
    """Add the weighted predictions of the strip's tiles, cropped to the scene, to the strip sums."""
    batch = min(options.batch_size, engine.max_batch or options.batch_size)
    for tile, restored in _restore_strip(engine, strip, grid.tile, batch):
        height = min(grid.tile, grid.height - tile.row)
        width = min(grid.tile, grid.width - tile.col)
        window = blend_window(grid.tile, options.overlap, options.blend, scene_edges=grid.scene_edges(tile))
        strip_sum.add(tile.row, tile.col, restored[:, :height, :width], window[:height, :width])


def run_scene(
    engine: Engine,
    s1: Path,
    s2: Path,
    output: Path,
    options: RunOptions = RunOptions(),
    *,
    name: str | None = None,
    resume: bool = False,
    progress: Progress | None = None,
) -> SceneResult:
    """Restore one scene into `output` (GeoTIFF) and `output.json`; raise IbhfnError on bad input.

    With `resume`, a scene whose output and record match this run is skipped, not recomputed.
    """
    progress = progress or NoProgress()
    output = Path(output)
    started = time.perf_counter()
    tile = options.tile_for(engine)
    with SceneSource(s1, s2, engine.metadata) as source:
        result = SceneResult(name or scene_name(Path(s2)), output, "done", warnings=list(source.warnings),
                             width=source.width, height=source.height, area_km2=source.area_km2)
        with _timed(result.timings, "hash"):
            inputs = {"s1": FileFacts.of(s1), "s2": FileFacts.of(s2)}
            expected = fingerprint(inputs["s1"], inputs["s2"], engine.sha256, options.output_settings(engine))
        if resume and is_finished(output, expected):
            result.status = "skipped"
        else:
            grid = TileGrid(source.height, source.width, tile, options.overlap)
            progress.scene_started(result.name, len(grid))
            _write_scene(engine, source, grid, output, options, result, progress)
    result.timings["total"] = time.perf_counter() - started
    if result.status == "done":
        write_record(output, {
            "scene": result.name,
            "package_version": ibhfn.__version__,
            "fingerprint": expected,
            "inputs": {**{k: asdict(v) for k, v in inputs.items()}, "s1_warped": source.warped},
            "engine": {"path": str(engine.path.resolve()), "sha256": engine.sha256, "backend": engine.backend,
                       "metadata": engine.metadata.to_props()},
            "options": asdict(options),
            "output": {"width": result.width, "height": result.height, "dtype": options.output_dtype,
                       "bands": list(engine.metadata.s2_bands)},
            "tiles": {"total": len(grid), "run": result.tiles, "empty": result.empty_tiles},
            "timings": result.timings,
            "warnings": result.warnings,
        })
    return result


def _write_scene(
    engine: Engine,
    source: SceneSource,
    grid: TileGrid,
    output: Path,
    options: RunOptions,
    result: SceneResult,
    progress: Progress,
) -> None:
    """Read, restore, blend and write the scene strip by strip, under a temporary name until done."""
    meta = engine.metadata
    bands = len(meta.s2_bands)
    strip_sum = StripAccumulator(bands, grid.width, depth=min(grid.tile, grid.height))
    descriptions = tuple(given or band for given, band in zip(source.s2_descriptions, meta.s2_bands))
    timings = result.timings
    with atomic_path(output) as tmp:
        writer = SceneWriter(tmp, source.profile, bands=bands, dtype=options.output_dtype,
                             descriptions=descriptions, cog=options.cog)
        with writer, StripReader(source, grid, meta.preprocessing, depth=options.prefetch) as reader:
            for strip in reader:
                timings["read"] = timings.get("read", 0.0) + strip.read_seconds
                with _timed(timings, "infer"):
                    _blend_strip(engine, strip, grid, options, strip_sum)
                with _timed(timings, "write"):
                    until = grid.final_row(strip.index)
                    valid = strip.valid[:until - strip.row]
                    writer.write_rows(strip.row, encode(strip_sum.flush(until), valid, meta.preprocessing,
                                                        options.output_dtype))
                result.tiles += len(strip.tiles)
                result.empty_tiles += strip.empty_tiles
                progress.tiles_done(len(strip.tiles) + strip.empty_tiles)
            with _timed(timings, "write"):
                writer.close()  # pending rows and, with --cog, the copy to a COG


@dataclass
class RunSummary:
    """The outcome of a batch: one result per scene, and the files that could not be paired."""

    results: list[SceneResult]
    problems: list[str]  # one line per input that never became a scene
    seconds: float

    def count(self, status: str) -> int:
        """How many scenes ended with `status`."""
        return sum(result.status == status for result in self.results)

    @property
    def failed(self) -> int:
        """Scenes that failed, unpaired inputs included."""
        return self.count("failed") + len(self.problems)

    @property
    def tiles(self) -> int:
        return sum(result.tiles for result in self.results)

    @property
    def tiles_per_second(self) -> float:
        return self.tiles / self.seconds if self.seconds else 0.0

    @property
    def km2_per_second(self) -> float | None:
        """Ground area restored per second, when every scene has a projected CRS."""
        done = [result for result in self.results if result.status == "done"]
        if any(result.area_km2 is None for result in done) or not self.seconds:
            return None
        return sum(result.area_km2 for result in done) / self.seconds


def output_path(out_dir: Path, pair: ScenePair) -> Path:
    """Where a scene's restored GeoTIFF goes: `<out_dir>/<name>.tif`."""
    return Path(out_dir) / f"{pair.name}{OUTPUT_SUFFIX}"


def run_batch(
    engine: Engine,
    pairing: Pairing,
    out_dir: Path,
    options: RunOptions = RunOptions(),
    *,
    resume: bool = False,
    progress: Progress | None = None,
) -> RunSummary:
    """Restore every paired scene into `out_dir`; a scene that fails does not stop the others."""
    progress = progress or NoProgress()
    started = time.perf_counter()
    options.tile_for(engine)  # an engine that cannot take the tile fails the batch once, not per scene
    results = []
    for pair in pairing.pairs:
        output = output_path(out_dir, pair)
        try:
            result = run_scene(engine, pair.s1, pair.s2, output, options,
                               name=pair.name, resume=resume, progress=progress)
        except IbhfnError as exc:
            result = SceneResult(pair.name, output, "failed", message=str(exc))
        progress.scene_finished(result)
        results.append(result)
    return RunSummary(results, [str(problem) for problem in pairing.problems], time.perf_counter() - started)
