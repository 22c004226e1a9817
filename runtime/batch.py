"""Many scenes in one run: the output folder held for the batch, each paired scene restored in turn
(`pipeline.run_scene`), a scene that fails recorded without stopping the others, and the batch's summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ibhfn.errors import IbhfnError
from ibhfn.output_folder import check_output_folder
from ibhfn.runtime.engine import Engine
from ibhfn.runtime.leftovers import remove_stale_partials
from ibhfn.runtime.pairing import Pairing, ScenePair, refuse_overwriting_inputs
from ibhfn.runtime.pipeline import run_scene
from ibhfn.runtime.raster_source import geotiffs_only
from ibhfn.runtime.run_lock import out_folder_lock
from ibhfn.runtime.run_options import NoProgress, Progress, RunOptions, SceneResult
from ibhfn.runtime.scene_paths import output_path, scene_outputs


@dataclass
class RunSummary:
    """The outcome of a batch: one result per scene, and the files that could not be paired."""

    results: list[SceneResult]
    problems: list[str]  # one line per input that never became a scene
    seconds: float
    engine_warnings: list[str] = field(default_factory=list)  # what the workers' engines said (--jobs)

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
        areas: list[float] = [result.area_km2 for result in done if result.area_km2 is not None]
        if len(areas) < len(done) or not self.seconds:
            return None
        return sum(areas) / self.seconds


def check_outputs(pairing: Pairing, out_dir: Path) -> None:
    """Stop a batch before any work, with one line, where a scene would write over an input of the batch."""
    refuse_overwriting_inputs(pairing, partial(scene_outputs, out_dir))


@contextmanager
def held_out_folder(
    pairing: Pairing, out_dir: Path, *, resume: bool, shard: tuple[int, int] | None = None
) -> Iterator[None]:
    """`out_dir` held for the batch (or its `shard` of a split: `run_lock`), once it can take it.

    Stops at once where `out_dir` cannot take the batch, a scene would write over an input of it or
    another run holds it; on `resume`, removes what killed runs left of its outputs.
    """
    check_output_folder(out_dir, writable=not resume)
    check_outputs(pairing, out_dir)
    with out_folder_lock(out_dir, shard):
        if resume:
            remove_stale_partials(path for pair in pairing.pairs for path in scene_outputs(out_dir, pair))
        yield


def run_batch(
    engine: Engine,
    pairing: Pairing,
    out_dir: Path,
    options: RunOptions = RunOptions(),
    *,
    resume: bool = False,
    progress: Progress | None = None,
    shard: tuple[int, int] | None = None,
    any_format: bool = False,
) -> RunSummary:
    """Restore every paired scene into `out_dir`; a scene that fails does not stop the others.

    `shard` (i, n) says the batch is shard i of a split, whose shards may run into `out_dir` at once.
    A scene whose S1 or S2 is no GeoTIFF becomes one of the batch's problems unless `any_format`.
    """
    pairing = pairing if any_format else geotiffs_only(pairing)
    progress = progress or NoProgress()
    options.tile_for(engine)  # an engine that cannot take the tile fails the batch once, not per scene
    restore = partial(run_pair, engine, out_dir=out_dir, options=options, resume=resume, progress=progress)
    with held_out_folder(pairing, out_dir, resume=resume, shard=shard):
        return each_scene(pairing, restore, progress)


def each_scene(pairing: Pairing, scene: Callable[[ScenePair], SceneResult], progress: Progress) -> RunSummary:
    """`scene` over every paired scene in order, each result told to `progress`; the batch's summary."""
    started = time.perf_counter()
    results = []
    for pair in pairing.pairs:
        result = scene(pair)
        progress.scene_finished(result)
        results.append(result)
    return RunSummary(results, [str(problem) for problem in pairing.problems], time.perf_counter() - started)


def run_pair(
    engine: Engine, pair: ScenePair, out_dir: Path, options: RunOptions, *, resume: bool, progress: Progress
) -> SceneResult:
    """Restore one scene of a batch; a scene that fails with an IbhfnError comes back failed, with its message."""
    output = output_path(out_dir, pair)
    try:
        return run_scene(engine, pair.s1, pair.s2, output, options, name=pair.name, resume=resume, progress=progress)
    except IbhfnError as exc:
        return SceneResult(pair.name, output, "failed", message=str(exc))
