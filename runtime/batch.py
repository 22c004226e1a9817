"""Many scenes in one run: the output folder held for the batch, each paired scene restored in turn
(`pipeline.run_scene`), a scene that fails recorded without stopping the others, and the batch's summary.

Scenes overlap (`overlapped_scenes`): the next scene is opened and goes through the engine while the
last blocks of the one before are blended and written, so the engine does not wait for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import rasterio

from ibhfn.errors import IbhfnError
from ibhfn.output_folder import check_output_folder
from ibhfn.runtime.engine import Engine
from ibhfn.runtime.leftovers import remove_stale_partials
from ibhfn.runtime.pairing import Pairing, ScenePair, refuse_overwriting_inputs
from ibhfn.runtime.pipeline import SceneSteps, next_step, scene_steps
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
    with held_out_folder(pairing, out_dir, resume=resume, shard=shard):
        started = time.perf_counter()
        results = overlapped_scenes(engine, pairing.pairs, out_dir, options, resume=resume, progress=progress)
        return RunSummary(results, [str(problem) for problem in pairing.problems], time.perf_counter() - started)


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
    return _pair_steps(engine, pair, out_dir, options, resume=resume, progress=progress).finish()


def overlapped_scenes(
    engine: Engine,
    pairs: Iterable[ScenePair],
    out_dir: Path,
    options: RunOptions,
    *,
    resume: bool,
    progress: Progress,
) -> list[SceneResult]:
    """Restore `pairs` in order, each as `run_pair` does, each one's engine step before the one before finishes.

    At most two scenes are in flight: one whose tiles have all been through the engine, its last blocks
    being written, and the next, open and going through the engine. Results come (and go to `progress`) in
    the order of `pairs`. An error other than a scene's own (Ctrl-C, a bug) abandons both, their temporary
    files removed, and is raised.
    """
    results: list[SceneResult] = []

    def finished(result: SceneResult) -> None:
        progress.scene_finished(result)
        results.append(result)

    def alone(pair: ScenePair) -> SceneResult:
        """The scene run again on its own: it failed after the one before it failed while both were in flight,
        which may have held what it needed (a full disk)."""
        return _pair_steps(engine, pair, out_dir, options, resume=resume, progress=progress, batch_env=True).finish()

    def finish(scene: _PairSteps, after_failure: bool) -> SceneResult:
        result = scene.finish()
        return alone(scene.pair) if after_failure and result.status == "failed" else result

    finishing: _PairSteps | None = None  # the scene before, its last blocks still being written
    current: _PairSteps | None = None
    finishing_after_failure = False
    try:
        with rasterio.Env():  # the scenes' GDAL options: overlapping scenes cannot each hold an env of their own
            for pair in pairs:
                current = _pair_steps(engine, pair, out_dir, options, resume=resume, progress=progress, batch_env=True)
                ended = current.step()  # open, its first blocks being read
                if ended is None:
                    ended = current.step()  # every tile through the engine, while the scene before is written
                after_failure = False
                if finishing is not None:
                    before = finish(finishing, finishing_after_failure)  # closed, renamed, recorded
                    finished(before)
                    finishing = None
                    after_failure = before.status == "failed"
                if ended is None:
                    finishing, finishing_after_failure, current = current, after_failure, None
                else:
                    finished(alone(pair) if after_failure and ended.status == "failed" else ended)
            if finishing is not None:
                finished(finish(finishing, finishing_after_failure))
                finishing = None
    finally:  # interrupted: both scenes' threads stopped and temporary files removed, the later one first
        for scene in (current, finishing):
            if scene is not None:
                scene.steps.close()
    return results


def _pair_steps(
    engine: Engine,
    pair: ScenePair,
    out_dir: Path,
    options: RunOptions,
    *,
    resume: bool,
    progress: Progress,
    batch_env: bool = False,
) -> _PairSteps:
    """One scene of a batch, to run step by step (`pipeline.scene_steps`)."""
    output = output_path(out_dir, pair)
    steps = scene_steps(
        engine, pair.s1, pair.s2, output, options, name=pair.name, resume=resume, progress=progress, batch_env=batch_env
    )
    return _PairSteps(pair.name, output, steps, pair)


@dataclass
class _PairSteps:
    """A scene of a batch run step by step; a step that fails with an IbhfnError ends it failed, with its message."""

    name: str
    output: Path
    steps: SceneSteps
    pair: ScenePair

    def step(self) -> SceneResult | None:
        """Run the scene's next step; its result once it has ended, else None."""
        try:
            return next_step(self.steps)
        except IbhfnError as exc:
            return SceneResult(self.name, self.output, "failed", message=str(exc))

    def finish(self) -> SceneResult:
        """Run the scene's remaining steps; its result."""
        while (result := self.step()) is None:
            pass
        return result
