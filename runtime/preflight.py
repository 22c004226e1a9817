"""A batch's inputs checked against the engine without running it: `ibhfn-run --check`.

Each scene is opened as a run opens it, so the same checks speak (band counts, types and order,
grids and overlap, units) and nothing else is read or written: an operator can vet thousands of
scenes in seconds before a long run.
"""

from __future__ import annotations

from pathlib import Path

from ibhfn.engine_metadata import EngineMetadata
from ibhfn.errors import IbhfnError
from ibhfn.output_folder import check_output_folder
from ibhfn.runtime.batch import RunSummary, check_outputs, each_scene
from ibhfn.runtime.engine import Engine
from ibhfn.runtime.pairing import Pairing, ScenePair
from ibhfn.runtime.raster_source import MAX_PIXELS, SceneSource
from ibhfn.runtime.run_options import NoProgress, Progress, RunOptions, SceneResult
from ibhfn.runtime.scene_paths import output_path

CHECKED = "checked"  # a scene's status when its inputs passed every check


def check_batch(
    engine: Engine,
    pairing: Pairing,
    out_dir: Path,
    options: RunOptions = RunOptions(),
    *,
    progress: Progress | None = None,
) -> RunSummary:
    """Open every paired scene as `run_batch` would; each comes back checked or failed, with its warnings.

    Like a run, it stops at once on an engine that cannot take the tile, an output folder that cannot
    take the outputs or an output that would overwrite an input of the batch.
    """
    options.tile_for(engine)
    check_output_folder(out_dir)
    check_outputs(pairing, out_dir)
    return each_scene(
        pairing,
        lambda pair: check_pair(
            engine.metadata,
            pair,
            output_path(out_dir, pair),
            s2_offset=options.s2_offset,
            max_pixels=options.max_pixels,
        ),
        progress or NoProgress(),
    )


def check_pair(
    metadata: EngineMetadata,
    pair: ScenePair,
    output: Path,
    *,
    s2_offset: int | None = None,
    max_pixels: int = MAX_PIXELS,
) -> SceneResult:
    """One scene's inputs opened and checked against the engine's metadata, S2's offset and the size limit."""
    try:
        with SceneSource(pair.s1, pair.s2, metadata, s2_offset=s2_offset, max_pixels=max_pixels) as source:
            return SceneResult(
                pair.name,
                output,
                CHECKED,
                warnings=list(source.warnings),
                width=source.width,
                height=source.height,
                area_km2=source.area_km2,
                s2_offset=source.s2_offset,
                s2_offset_from=source.s2_offset_origin,
            )
    except IbhfnError as exc:
        return SceneResult(pair.name, output, "failed", message=str(exc))
