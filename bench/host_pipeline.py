"""The host pipeline against its I/O floor: a scene through `run_scene` with the null engine, then I/O alone.

The I/O-only pass reads every block of the scene as the pipeline does (in a background thread)
and writes its S2 values, as the output's type, into the same GeoTIFF (same blocks, compression
and georeferencing), without preprocessing, inference, blending or encoding. Their ratio is how
far the host stages (and the pipeline's fill and drain) keep a scene from the I/O limit when the
engine costs nothing, as on a fast GPU. Both are timed in turn, round after round.

The scenes table times a folder of scenes restored in one process by `run_batch`, which overlaps
each scene's finishing with the next one's opening, against the same scenes one after another
(`run_pair` in turn, as before the overlap), in turn, round after round.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import rasterio
from null_engine import NullEngine
from rich.console import Console
from rich.table import Table

from ibhfn.atomic import atomic_path
from ibhfn.runtime.batch import run_batch, run_pair
from ibhfn.runtime.block_reader import read_block
from ibhfn.runtime.engine import Batch, Engine
from ibhfn.runtime.pairing import pair_folder
from ibhfn.runtime.pipeline import GDAL_CACHE_BYTES, run_scene, scene_blocks
from ibhfn.runtime.producer_thread import ProducerThread
from ibhfn.runtime.raster_source import SceneSource
from ibhfn.runtime.run_options import NoProgress, RunOptions, SceneResult
from ibhfn.runtime.tiling import TileGrid
from ibhfn.runtime.writer import SceneWriter

HOST_ROUNDS = 5
STAGES = ("read", "prepare", "infer", "blend", "encode", "write", "hash")


@dataclass
class HostFigures:
    """Medians over the rounds: the null-engine scene, the I/O-only pass, their ratio, and the scene's stages."""

    scene_seconds: float
    io_seconds: float
    ratio: float  # median of the rounds' scene / I/O-only ratios
    stages: dict[str, float]  # seconds per stage of the null-engine scene (each stage's thread)
    rounds: int
    scene_cpu: float = 0.0  # CPU seconds of this process (every thread, user and system) in the null-engine scene
    io_cpu: float = 0.0  # and in the I/O-only pass
    cpu_ratio: float = 0.0  # median of the rounds' scene / I/O-only CPU seconds


def cpu_seconds() -> float:
    """User and system CPU seconds of this process so far, every thread's."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def io_only_seconds(engine: NullEngine, scene: tuple[Path, Path], output: Path, options: RunOptions) -> float:
    """Wall time of reading every block of the scene and writing the output's blocks, nothing in between."""
    start = time.perf_counter()
    with SceneSource(*scene, engine.metadata, s2_offset=options.s2_offset) as source:
        tile = options.tile_for(engine)
        blocks = scene_blocks(TileGrid(source.height, source.width, tile, min(options.overlap, tile - 1)), options)
        bands = len(engine.metadata.s2_bands)
        with (
            rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES),
            atomic_path(output) as path,
            SceneWriter(
                path,
                source.profile,
                bands=bands,
                dtype=options.output_dtype,
                descriptions=engine.metadata.s2_bands,
                compress=options.compress,
            ) as writer,
            ProducerThread(
                partial(read_block, source), blocks, depth=options.prefetch, name="ibhfn-block-reader"
            ) as reading,
        ):
            panel = (0, source.width)
            for read in reading:
                block = read.block
                if block.panel != panel:
                    writer.begin_panel(*block.panel)
                    panel = block.panel
                values = read.s2_dn[:, : block.finished_rows, block.kept_cols]
                if options.output_dtype == "float32":
                    values = values * np.float32(1e-4)
                if values.shape[2]:
                    writer.write(block.row, block.col + block.kept_cols.start, values.astype(options.output_dtype))
    return time.perf_counter() - start


def measure_host(scene: tuple[Path, Path], out: Path, options: RunOptions, rounds: int = HOST_ROUNDS) -> HostFigures:
    """The null-engine scene and the I/O-only pass, in turn for `rounds` rounds, after one warm-up of each."""
    out.mkdir(parents=True, exist_ok=True)
    scenes, ios, ratios = [], [], []
    cpus: dict[str, list[float]] = {"scene": [], "io": [], "ratio": []}
    stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
    with NullEngine(max_batch=options.batch_size) as engine:
        for index in range(rounds + 1):
            start = cpu_seconds()
            result = run_scene(engine, *scene, out / "null_engine.tif", options)
            middle = cpu_seconds()
            io = io_only_seconds(engine, scene, out / "io_only.tif", options)
            end = cpu_seconds()
            if index:  # the first round warms the page cache and the allocator
                scenes.append(result.timings["total"])
                ios.append(io)
                ratios.append(result.timings["total"] / io)
                cpus["scene"].append(middle - start)
                cpus["io"].append(end - middle)
                cpus["ratio"].append((middle - start) / (end - middle))
                for stage in STAGES:
                    stages[stage].append(result.timings.get(stage, 0.0))
    return HostFigures(
        statistics.median(scenes),
        statistics.median(ios),
        statistics.median(ratios),
        {stage: statistics.median(times) for stage, times in stages.items()},
        rounds,
        *(statistics.median(cpus[name]) for name in ("scene", "io", "ratio")),
    )


def print_host(console: Console, figures: HostFigures, options: RunOptions) -> None:
    """The host table: the null-engine scene against the I/O-only pass, and the scene's stages."""
    table = Table(
        title=f"host pipeline: null engine against I/O only ({options.compress} {options.output_dtype}, "
        f"batch {options.batch_size}, medians of {figures.rounds} rounds)"
    )
    table.add_column("pass")
    table.add_column("scene s", justify="right")
    table.add_column("CPU s", justify="right")
    table.add_row("null engine (run_scene)", f"{figures.scene_seconds:.3f}", f"{figures.scene_cpu:.3f}")
    table.add_row("I/O only", f"{figures.io_seconds:.3f}", f"{figures.io_cpu:.3f}")
    for stage, seconds in figures.stages.items():
        table.add_row(f"  null engine: {stage} (its thread)", f"{seconds:.3f}", "")
    console.print(table)
    console.print(f"null engine / I/O only: {figures.ratio:.2f} x (CPU seconds: {figures.cpu_ratio:.2f} x)")


@dataclass
class ScenesFigures:
    """Medians over the rounds of a folder of scenes, overlapped (`run_batch`) and one after another."""

    overlapped_seconds: float
    sequential_seconds: float
    ratio: float  # median of the rounds' sequential / overlapped
    scenes: int
    rounds: int
    overlapped_idle: float = 0.0  # median seconds the engine waits between scenes: last result to next first batch
    sequential_idle: float = 0.0


class EngineIdle:
    """When `engine` was handed each scene's first batch and gave back its last, by wrapping its `infer_batches`."""

    def __init__(self, engine: Engine) -> None:
        self.marks: list[tuple[float, float]] = []  # (first batch handed, last result back) per scene, in order
        infer_batches = engine.infer_batches

        def timed(batches: Iterable[Batch]) -> Iterator[np.ndarray]:
            handed: list[float] = []

            def watched() -> Iterator[Batch]:
                for batch in batches:
                    if not handed:
                        handed.append(time.perf_counter())
                    yield batch

            last = None
            for restored in infer_batches(watched()):
                last = time.perf_counter()
                yield restored
            if handed and last is not None:
                self.marks.append((handed[0], last))

        engine.infer_batches = timed

    def gaps(self) -> list[float]:
        """Seconds from each scene's last result to the next scene's first batch, since the last call; forgets them."""
        gaps = [after[0] - before[1] for before, after in zip(self.marks, self.marks[1:])]
        self.marks = []
        return gaps


def measure_scenes(engine: Engine, folder: Path, out: Path, options: RunOptions, rounds: int) -> ScenesFigures:
    """The folder's scenes through `run_batch` and through `run_pair` one after another, in turn (which goes
    first alternates), round after round after a warm-up."""
    pairing = pair_folder(folder)
    idle = EngineIdle(engine)

    def overlapped() -> list[SceneResult]:
        return run_batch(engine, pairing, out / "overlapped", options).results

    def one_after_another() -> list[SceneResult]:
        return [
            run_pair(engine, pair, out / "sequential", options, resume=False, progress=NoProgress())
            for pair in pairing.pairs
        ]

    seconds: dict[str, list[float]] = {"overlapped": [], "sequential": []}
    gaps: dict[str, list[float]] = {"overlapped": [], "sequential": []}
    for index in range(rounds + 1):
        passes = [("overlapped", overlapped), ("sequential", one_after_another)]
        for name, run in passes[:: 1 if index % 2 else -1]:
            start = time.perf_counter()
            results = run()
            taken = time.perf_counter() - start
            failed = [result.message for result in results if result.status != "done"]
            if failed:
                raise SystemExit(f"scenes table: {failed[0]}")
            between = idle.gaps()
            if index:  # the first round warms the page cache, the allocator and the engine
                seconds[name].append(taken)
                gaps[name] += between
        shutil.rmtree(out)
    ratios = [one / both for one, both in zip(seconds["sequential"], seconds["overlapped"])]
    return ScenesFigures(
        statistics.median(seconds["overlapped"]),
        statistics.median(seconds["sequential"]),
        statistics.median(ratios),
        len(pairing.pairs),
        rounds,
        *(statistics.median(gaps[name] or [0.0]) for name in ("overlapped", "sequential")),
    )


def print_scenes(console: Console, figures: dict[str, ScenesFigures], side: int, options: RunOptions) -> None:
    """The scenes table: per engine, the folder overlapped against one scene after another."""
    some = next(iter(figures.values()))
    table = Table(
        title=f"{some.scenes} scenes of {side} x {side} in one process: overlapped against one after another "
        f"({options.compress} {options.output_dtype}, batch {options.batch_size}, medians of {some.rounds} rounds)"
    )
    columns = ("engine", "overlapped s", "one after another s", "one after another / overlapped")
    for column in (*columns, "engine idle between scenes, ms: overlapped / one after another"):
        table.add_column(column, justify="left" if column == "engine" else "right")
    for name, scenes in figures.items():
        table.add_row(
            name,
            f"{scenes.overlapped_seconds:.3f}",
            f"{scenes.sequential_seconds:.3f}",
            f"{scenes.ratio:.3f} x",
            f"{scenes.overlapped_idle * 1e3:.0f} / {scenes.sequential_idle * 1e3:.0f}",
        )
    console.print(table)
