"""The main job: restore a whole scene, tile by tile, with bounded memory (`batch`: many scenes).

Per scene: open and check the inputs (`SceneSource`), cut the tile rows into blocks of bounded
width (`TileGrid.blocks`), read them in one background thread and preprocess them in another
(`BlockReader`), run their tiles in batches that may span blocks (`Engine.infer_batches`, called
from the calling thread; ONNX Runtime's `--streams` run in threads of their own), blend them
(`BlendAccumulator`) in a fourth thread and write the finished pieces (`SceneWriter`) in a fifth
(`ConsumerThread`s), under a temporary name renamed when complete and when its restored values
are reflectance (`OutputCheck`: a broken engine fails the scene); then the scene's JSON record.
Every stage has a thread of its own so that on a many-core host, where the engine is a GPU's and
the host sets the pace, the scene takes about as long as its slowest stage. The inputs are hashed
for that record in a thread of their own while the scene runs (first, when `--resume` has a
record to compare with). Memory follows the block width, not the scene: GDAL's block cache is
capped too. `scene_steps` runs a scene in three steps (open, engine, finish), so that a batch can run
the next scene's engine while the last blocks of one are written (`batch.overlapped_scenes`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, replace
from itertools import chain, islice
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.env

import ibhfn
from ibhfn.atomic import atomic_path, refuse_overwriting
from ibhfn.errors import IbhfnError, InputError
from ibhfn.preprocessing import Preprocessing
from ibhfn.runtime.accumulator import BlendAccumulator
from ibhfn.runtime.blend import blend_window
from ibhfn.runtime.block_reader import BlockReader, PreparedBlock
from ibhfn.runtime.consumer_thread import ConsumerThread
from ibhfn.runtime.engine import Engine
from ibhfn.runtime.output_check import OutputCheck
from ibhfn.runtime.pairing import scene_name
from ibhfn.runtime.raster_source import SceneSource
from ibhfn.runtime.remote import COG_READ_OPTIONS, is_remote
from ibhfn.runtime.run_options import NoProgress, Progress, RunOptions, SceneResult
from ibhfn.runtime.scene_paths import gate_path
from ibhfn.runtime.scene_record import FileFacts, fingerprint, is_finished, record_path, write_record, written_facts
from ibhfn.runtime.tiling import Tile, TileBlock, TileGrid
from ibhfn.runtime.writer import (
    BLOCK,
    GATE_DTYPE,
    SceneWriter,
    encode,
    encode_gate,
    reflectance_scaling,
)
from ibhfn.versions import versions

WIDE_SCENE = 16384  # px: a scene wider than this is restored in column panels of PANEL_WIDTH
PANEL_WIDTH = 4096  # px: what a tile row hands on to the next spans a panel, ~10 kB a column with 13 bands
GDAL_CACHE_BYTES = 128 * 2**20  # holds a tile row of a striped 10980 px scene; GDAL takes 5 % of RAM
PANEL_CACHE_BYTES = 32 * 2**20  # in panels: a panel's tile row (no cache holds a full-width row of a wide scene)
GATE_DESCRIPTION = "clear-sky gate G (%)"

SceneSteps = Generator[None, None, SceneResult]
"""A scene run step by step (`scene_steps`): open, engine, finish; each `next` runs one, the last returns the result."""


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Add the seconds the block takes to `timings[stage]`."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


Prediction = tuple[PreparedBlock, Tile | None, np.ndarray | None]


def _predictions(engine: Engine, blocks: Iterable[PreparedBlock], tile: int, batch: int) -> Iterator[Prediction]:
    """Every tile with its prediction and block, in order, run in batches that may span blocks.

    A block without tiles to run (all nodata) comes once, with None for tile and prediction.
    """
    sent: deque[tuple[list[tuple[PreparedBlock, Tile | None]], _BatchInputs]] = deque()  # per batch sent, in order
    unsent: list[tuple[PreparedBlock, Tile | None]] = []  # blocks without tiles after the last batch
    returned: list[_BatchInputs] = []  # batches whose results are back: their arrays are filled again
    bands = len(engine.metadata.s1_bands), len(engine.metadata.s2_bands)

    def empty_batch() -> _BatchInputs:
        return returned.pop().emptied() if returned else _BatchInputs(batch, tile, *bands)

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        group: list[tuple[PreparedBlock, Tile | None]] = []
        inputs = empty_batch()
        for prepared in blocks:
            tiles: Sequence[Tile | None] = prepared.tiles or (None,)  # a block with none still passes through
            for one in tiles:
                group.append((prepared, one))
                if one is not None and inputs.add(*prepared.inputs(one, tile)) == batch:
                    sent.append((group, inputs))
                    yield inputs.arrays()
                    group, inputs = [], empty_batch()
            prepared.drop_inputs()
        if inputs.count:
            sent.append((group, inputs))
            yield inputs.padded() if engine.fixed_batch else inputs.arrays()
        else:
            unsent.extend(group)

    for restored in engine.infer_batches(batches()):
        group, inputs = sent.popleft()
        returned.append(inputs)
        outputs = iter(restored)
        for prepared, one in group:
            yield prepared, one, None if one is None else next(outputs)
    for prepared, _ in unsent:
        yield prepared, None, None


class _BatchInputs:
    """A batch of network inputs, filled one tile at a time so that a block's inputs can go once copied.

    Its arrays are filled again for a later batch once the engine has returned this one's result:
    fresh arrays of this size cost page faults on every batch.
    """

    def __init__(self, batch: int, tile: int, sar_bands: int, optical_bands: int) -> None:
        self._sar = np.empty((batch, sar_bands, tile, tile), np.float32)
        self._optical = np.empty((batch, optical_bands, tile, tile), np.float32)
        self.count = 0

    def emptied(self) -> _BatchInputs:
        """This batch, with nothing in it, to be filled again."""
        self.count = 0
        return self

    def add(self, sar: np.ndarray, optical: np.ndarray) -> int:
        """Copy one tile's inputs in; return how many tiles the batch holds."""
        self._sar[self.count], self._optical[self.count] = sar, optical
        self.count += 1
        return self.count

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The filled part of the batch."""
        return self._sar[: self.count], self._optical[: self.count]

    def padded(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole batch, zeros after the filled part: every call of the scene has one shape."""
        self._sar[self.count :] = 0
        self._optical[self.count :] = 0
        return self._sar, self._optical


def _timed_items(items: Iterable[Prediction], timings: dict[str, float], stage: str) -> Iterator[Prediction]:
    """The items, with the time spent producing them added to `timings[stage]`."""
    iterator = iter(items)
    while True:
        with _timed(timings, stage):
            item = next(iterator, None)
        if item is None:
            return
        yield item


def _add_prediction(
    accumulator: BlendAccumulator, grid: TileGrid, options: RunOptions, tile: Tile, prediction: np.ndarray, origin: int
) -> None:
    """Add one tile's prediction, cropped to the scene, with its blend weight; `origin`: the panel's first column."""
    height = min(grid.tile, grid.height - tile.row)
    width = min(grid.tile, grid.width - tile.col)
    window = blend_window(grid.tile, grid.overlap, options.blend, scene_edges=grid.scene_edges(tile))
    accumulator.add(replace(tile, col=tile.col - origin), prediction[:, :height, :width], window[:height, :width])


def scene_blocks(grid: TileGrid, options: RunOptions) -> list[TileBlock]:
    """The blocks a scene is restored in, panel by panel (one panel unless it is wider than WIDE_SCENE)."""
    panel_width = options.panel_width or (PANEL_WIDTH if grid.width > WIDE_SCENE else grid.width)
    return [
        block for panel in grid.panels(panel_width, BLOCK) for block in grid.blocks(options.block_width, BLOCK, panel)
    ]


def _panel_windows(blocks: list[TileBlock]) -> dict[tuple[int, int], tuple[int, int]]:
    """Per panel, the first scene column and the width of the window its blocks read."""
    starts: dict[tuple[int, int], int] = {}
    ends: dict[tuple[int, int], int] = {}
    for block in blocks:
        starts[block.panel] = min(starts.get(block.panel, block.col), block.col)
        ends[block.panel] = max(ends.get(block.panel, 0), block.col + block.width)
    return {panel: (start, ends[panel] - start) for panel, start in starts.items()}


def _provenance_tags(engine: Engine, source: SceneSource, options: RunOptions) -> dict[str, str]:
    """GeoTIFF metadata that says what made the output, for when it travels without its record."""
    return {
        "IBHFN_ENGINE": f"{engine.path.name} ({engine.backend})",
        "IBHFN_S1": source.s1_path.name,
        "IBHFN_S2": source.s2_path.name,
        "IBHFN_INPUT_S2_OFFSET": str(options.s2_offset),  # the input's convention, which uint16 output keeps
    }


def _encode_block(
    prepared: PreparedBlock,
    finished: np.ndarray,
    bands: int,
    preprocessing: Preprocessing,
    options: RunOptions,
    check: OutputCheck,
) -> list[np.ndarray]:
    """A block's finished `bands` (its kept columns) in the output's type, then the gate if it follows them.

    Nodata where S2 has none. `check` judges the restored values first (raising for a broken engine);
    its non-finite pixels are nodata too.
    """
    block = prepared.block
    valid = check.add(finished[:bands], prepared.valid[: block.finished_rows, block.kept_cols])
    encoded = [encode(finished[:bands], valid, preprocessing, options.output_dtype, s2_offset=options.s2_offset)]
    if finished.shape[0] > bands:
        encoded.append(encode_gate(finished[bands:], valid))
    return encoded


def run_scene(
    engine: Engine, s1: Path, s2: Path, output: Path, options: RunOptions = RunOptions(), **keywords: Any
) -> SceneResult:
    """Restore one scene into `output` (GeoTIFF) and `output.json`; raise IbhfnError on bad input.

    `keywords` as `scene_steps` takes them: the scene's `name`, `progress`, and `resume`, with which a
    scene whose output and record match this run is skipped, not recomputed.
    """
    return finish_scene(scene_steps(engine, s1, s2, output, options, **keywords))


def next_step(steps: SceneSteps) -> SceneResult | None:
    """Run a scene's next step; its result once it has ended (done or skipped), else None."""
    try:
        next(steps)
    except StopIteration as ended:
        result: SceneResult = ended.value
        return result
    return None


def finish_scene(steps: SceneSteps) -> SceneResult:
    """Run a scene's steps to its end; its result."""
    while (result := next_step(steps)) is None:
        pass
    return result


def scene_steps(
    engine: Engine,
    s1: Path,
    s2: Path,
    output: Path,
    options: RunOptions = RunOptions(),
    *,
    name: str | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    batch_env: bool = False,
) -> SceneSteps:
    """`run_scene` in three steps, for a caller that overlaps scenes: it yields once the scene is open and its
    first blocks are being read, again once every tile has been through the engine (the last blocks are still
    being blended and written), and returns the result once the output and its record are in place.

    A step that fails raises, its scene's temporary files removed; `close()` between steps abandons the scene
    alike. The engine runs in the second step: call it from the engine's thread. With `batch_env` the caller
    holds a `rasterio.Env` for the batch, which the scene sets its GDAL options in: overlapping scenes' own
    environments could not nest.
    """
    progress = progress or NoProgress()
    output = Path(output)
    started = time.perf_counter()
    tile = options.tile_for(engine)
    for written in (output, gate_path(output)) if engine.gate else (output,):
        refuse_overwriting(written, s1, s2)
    software = versions()  # before any output: finding them cannot fail a scene after its GeoTIFF is written
    stop_hashing = threading.Event()
    hasher = ThreadPoolExecutor(1, thread_name_prefix="ibhfn-hash")
    with (
        _gdal_options(COG_READ_OPTIONS if is_remote(s1) or is_remote(s2) else {}, batch_env),
        SceneSource(s1, s2, engine.metadata, s2_offset=options.s2_offset, max_pixels=options.max_pixels) as source,
        hasher,
    ):
        options = replace(options, s2_offset=source.s2_offset)  # the scene's own when the run was given none
        result = SceneResult(
            name or scene_name(Path(s2)),
            output,
            "done",
            warnings=list(source.warnings),
            width=source.width,
            height=source.height,
            area_km2=source.area_km2,
            s2_offset=source.s2_offset,
            s2_offset_from=source.s2_offset_origin,
        )
        hashing = hasher.submit(_measure_inputs, Path(s1), Path(s2), result.timings, stop_hashing)

        def expected() -> dict[str, Any]:
            inputs = hashing.result()
            settings = options.output_settings(engine)
            expected_record: dict[str, Any] = fingerprint(inputs["s1"], inputs["s2"], engine.sha256, settings)
            return expected_record

        try:
            if resume and record_path(output).is_file() and is_finished(output, expected()):
                result.status = "skipped"
            else:
                tile = scene_tile(engine, tile, source.height, source.width)
                grid = TileGrid(source.height, source.width, tile, min(options.overlap, tile - 1))
                blocks = scene_blocks(grid, options)
                runs = sum(len(block.tiles) for block in blocks)  # a tile on a panel's edge runs in both panels
                progress.scene_started(result.name, runs)
                try:
                    yield from _write_scene(engine, source, grid, blocks, output, options, result, progress, batch_env)
                except MemoryError:
                    raise InputError(
                        f"{s2}: not enough memory to restore it in blocks of {options.block_width} px "
                        f"with tiles of {tile} px in batches of {_batch_size(engine, options, len(grid))}"
                        "; give a smaller --block-width, --batch or --jobs"
                    ) from None
                if not result.tiles:
                    result.warnings.append(f"{s2}: holds no valid pixel (all nodata): the output is nodata throughout")
            inputs = hashing.result()
        except BaseException:  # a failed scene does not wait for its inputs to be hashed
            stop_hashing.set()
            raise
    result.timings["total"] = time.perf_counter() - started
    if result.status == "done":
        write_record(
            output,
            {
                "scene": result.name,
                "package_version": ibhfn.__version__,
                "versions": software,
                "fingerprint": expected(),
                "inputs": {
                    **{k: asdict(v) for k, v in inputs.items()},
                    "s1_warped": source.warped,
                    "s2_offset_from": source.s2_offset_origin,
                },
                "engine": {
                    "path": str(engine.path.resolve()),
                    "sha256": engine.sha256,
                    "backend": engine.backend,
                    "metadata": engine.metadata.to_props(),
                },
                "options": asdict(options),
                "output": {
                    "width": result.width,
                    "height": result.height,
                    "dtype": options.output_dtype,
                    "bands": list(engine.metadata.s2_bands),
                },
                **(
                    {
                        "gate": {
                            "path": gate_path(output).relative_to(output.parent).as_posix(),
                            **written_facts(gate_path(output)),
                        }
                    }
                    if engine.gate
                    else {}
                ),
                "tiles": {"size": grid.tile, "total": runs, "run": result.tiles, "empty": result.empty_tiles},
                "timings": result.timings,
                "warnings": result.warnings,
            },
        )
        if not engine.gate:
            gate_path(output).unlink(missing_ok=True)  # an earlier run's gate does not belong to this output
    return result


def scene_tile(engine: Engine, tile: int, height: int, width: int) -> int:
    """`tile`, or for a scene smaller than it, the scene's longer side rounded up to the engine's size multiple.

    A scene is never padded up to a tile far larger than itself; an engine of one tile size keeps it.
    """
    multiple: int = engine.metadata.size_multiple
    fitted = -(-max(height, width) // multiple) * multiple
    if fitted >= tile:
        return tile
    try:
        engine.check_tile(fitted)
    except IbhfnError:
        return tile
    return fitted


def _measure_inputs(s1: Path, s2: Path, timings: dict[str, float], stop: threading.Event) -> dict[str, FileFacts]:
    """Sizes and hashes of a scene's inputs, the seconds spent in `timings["hash"]`; `stop` ends it early."""
    with _timed(timings, "hash"):
        return {"s1": FileFacts.of(s1, stop), "s2": FileFacts.of(s2, stop)}


@contextmanager
def _gdal_options(options: Mapping[str, object], batch_env: bool) -> Iterator[None]:
    """GDAL `options` while the block runs, in an environment of its own, or set in the batch's with `batch_env`.

    Set in the batch's, they stay for its later scenes (COG read options only tune remote reads); its end
    restores GDAL's defaults.
    """
    if not options:
        yield
    elif batch_env:
        rasterio.env.setenv(**options)
        yield
    else:
        with rasterio.Env(**options):
            yield


def _batch_size(engine: Engine, options: RunOptions, tiles: int) -> int:
    """Tiles per engine call: the option, capped by the engine's maximum and (unless fixed) the scene's tiles."""
    batch: int = min(options.batch_size, engine.max_batch or options.batch_size)
    return batch if engine.fixed_batch else min(batch, tiles)  # a larger batch would only take memory


def _write_scene(
    engine: Engine,
    source: SceneSource,
    grid: TileGrid,
    blocks: list[TileBlock],
    output: Path,
    options: RunOptions,
    result: SceneResult,
    progress: Progress,
    batch_env: bool = False,
) -> Generator[None, None, None]:
    """Read, restore, blend and write the scene's `blocks`, panel by panel, under a temporary name until done.

    Yields once reading has begun and once every tile has been through the engine (`scene_steps`).
    """
    meta = engine.metadata
    bands = len(meta.s2_bands)
    largest = (max(block.height for block in blocks), max(block.width for block in blocks))
    windows = _panel_windows(blocks)
    batch = _batch_size(engine, options, len(grid))
    descriptions = tuple(given or band for given, band in zip(source.s2_descriptions, meta.s2_bands))
    timings = result.timings
    check = OutputCheck(output, engine.path, meta.preprocessing, grid.height * grid.width)

    def blend(predictions: Iterator[Prediction]) -> None:
        """Blend each block's predictions and hand its finished part, encoded, to the writing thread."""
        panel, accumulator = None, None
        with ConsumerThread(write, depth=1, name="ibhfn-writer") as writing:
            for first in predictions:  # a block's items, counted: its last one finishes it, with none to wait for
                prepared = first[0]
                tiles = chain((first,), islice(predictions, max(len(prepared.tiles), 1) - 1))
                block = prepared.block
                if block.panel != panel:
                    panel, accumulator = block.panel, None  # the last panel's sums go first
                    origin, width = windows[panel]
                    accumulator = BlendAccumulator(bands + engine.gate, width, largest)  # the gate: one more band
                assert accumulator is not None  # the first block opens a panel
                accumulator.open(replace(block, col=block.col - origin))
                for _, tile, prediction in tiles:
                    if tile is not None and prediction is not None:  # both None: a block with no tile to restore
                        with _timed(timings, "blend"):
                            _add_prediction(accumulator, grid, options, tile, prediction, origin)
                with _timed(timings, "blend"):
                    finished = accumulator.close()[:, :, block.kept_cols]
                with _timed(timings, "encode"):
                    encoded = _encode_block(prepared, finished, bands, meta.preprocessing, options, check)
                writing.put((prepared, encoded))

    def write(pieces: Iterator[tuple[PreparedBlock, list[np.ndarray]]]) -> None:
        """Write each block's encoded finished part (and gate), and count it done."""
        panel = (0, grid.width)
        for prepared, encoded in pieces:
            block = prepared.block
            with _timed(timings, "write"):
                for writer, values in zip(writers, encoded):
                    if block.panel != panel:
                        writer.begin_panel(*block.panel)
                    if values.shape[2]:  # a panel's first block may keep none of its columns
                        writer.write(block.row, block.col + block.kept_cols.start, values)
            panel = block.panel
            timings["read"] = timings.get("read", 0.0) + prepared.read_seconds
            timings["prepare"] = timings.get("prepare", 0.0) + prepared.prepare_seconds
            result.tiles += len(prepared.tiles)
            result.empty_tiles += prepared.empty_tiles
            progress.tiles_done(result.name, len(prepared.block.tiles))

    files = [
        (
            output,
            bands,
            options.output_dtype,
            descriptions,
            reflectance_scaling(options.output_dtype, options.s2_offset),
        )
    ]
    if engine.gate:
        files.append((gate_path(output), 1, GATE_DTYPE, (GATE_DESCRIPTION,), None))
    tags = _provenance_tags(engine, source, options)
    with ExitStack() as stack:
        cache = GDAL_CACHE_BYTES if len(windows) == 1 else PANEL_CACHE_BYTES
        stack.enter_context(_gdal_options({"GDAL_CACHEMAX": cache}, batch_env))
        writers = [
            stack.enter_context(
                SceneWriter(
                    stack.enter_context(atomic_path(path)),
                    source.profile,
                    bands=count,
                    dtype=dtype,
                    descriptions=names,
                    cog=options.cog,
                    compress=options.compress,
                    tags=tags,
                    scaling=scaling,
                )
            )
            for path, count, dtype, names, scaling in files
        ]
        reader = stack.enter_context(
            BlockReader(
                source, blocks, grid.tile, meta.preprocessing, depth=options.prefetch, s2_offset=options.s2_offset
            )
        )
        with ConsumerThread(blend, depth=batch, name="ibhfn-blender") as blending:
            yield  # open, its first blocks being read
            for item in _timed_items(_predictions(engine, reader, grid.tile, batch), timings, "infer"):
                blending.put(item)
            yield  # every tile through the engine; the blending and writing threads finish the last blocks
        check.finish()  # a broken engine's scene is never renamed into place
        with _timed(timings, "write"):
            for writer in writers:
                writer.close()  # with --cog, the copy to a COG
    if (warning := check.warning()) is not None:
        result.warnings.append(warning)
