"""The host pipeline against its I/O floor: a scene through `run_scene` with the null engine, then I/O alone.

The I/O-only pass reads every block of the scene as the pipeline does (in a background thread)
and writes its S2 values, as the output's type, into the same GeoTIFF (same blocks, compression
and georeferencing), without preprocessing, inference, blending or encoding. Their ratio is how
far the host stages (and the pipeline's fill and drain) keep a scene from the I/O limit when the
engine costs nothing, as on a fast GPU. Both are timed in turn, round after round.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import rasterio
from null_engine import NullEngine
from rich.console import Console
from rich.table import Table

from ibhfn.atomic import atomic_path
from ibhfn.runtime.block_reader import read_block
from ibhfn.runtime.pipeline import GDAL_CACHE_BYTES, run_scene, scene_blocks
from ibhfn.runtime.producer_thread import ProducerThread
from ibhfn.runtime.raster_source import SceneSource
from ibhfn.runtime.run_options import RunOptions
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
    stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
    with NullEngine(max_batch=options.batch_size) as engine:
        for index in range(rounds + 1):
            result = run_scene(engine, *scene, out / "null_engine.tif", options)
            io = io_only_seconds(engine, scene, out / "io_only.tif", options)
            if index:  # the first round warms the page cache and the allocator
                scenes.append(result.timings["total"])
                ios.append(io)
                ratios.append(result.timings["total"] / io)
                for stage in STAGES:
                    stages[stage].append(result.timings.get(stage, 0.0))
    return HostFigures(
        statistics.median(scenes),
        statistics.median(ios),
        statistics.median(ratios),
        {stage: statistics.median(times) for stage, times in stages.items()},
        rounds,
    )


def print_host(console: Console, figures: HostFigures, options: RunOptions) -> None:
    """The host table: the null-engine scene against the I/O-only pass, and the scene's stages."""
    table = Table(
        title=f"host pipeline: null engine against I/O only ({options.compress} {options.output_dtype}, "
        f"batch {options.batch_size}, medians of {figures.rounds} rounds)"
    )
    table.add_column("pass")
    table.add_column("scene s", justify="right")
    table.add_row("null engine (run_scene)", f"{figures.scene_seconds:.3f}")
    table.add_row("I/O only", f"{figures.io_seconds:.3f}")
    for stage, seconds in figures.stages.items():
        table.add_row(f"  null engine: {stage} (its thread)", f"{seconds:.3f}")
    console.print(table)
    console.print(f"null engine / I/O only: {figures.ratio:.2f} x")
