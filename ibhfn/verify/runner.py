"""Verification runs: engine and reference see the same inputs; their outputs are compared and judged.

    with open_engine_pair("model_int8.onnx", "model.onnx") as pair:
        result = verify_dataset(pair, "SEN12MS-CR", split="val", count=200)
    write_report(result.summary, result.verdict, "report/", meta=result.meta)

Sample mode (`verify_dataset`) runs SEN12MS-CR patches straight through both networks, in
batches; scene mode (`verify_scenes`) runs whole scenes through the tiled runtime. Outputs are
compared in reflectance (the engine's preprocessing maps network scale back), as the thresholds
and the metrics expect.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ibhfn.errors import InputError
from ibhfn.runtime.engine import Engine
from ibhfn.runtime.pairing import pair_folder
from ibhfn.runtime.run_options import RunOptions, SceneResult
from ibhfn.verify.engine_pair import EnginePair
from ibhfn.verify.parity import ParityAccumulator, ParitySummary
from ibhfn.verify.samples import VerifySample, dataset_samples, select_dataset
from ibhfn.verify.scenes import DEFAULT_WINDOW, restore_scene, scene_windows
from ibhfn.verify.thresholds import Thresholds, Verdict, judge, thresholds_for

DEFAULT_BATCH = 4
WORST_COUNT = 10


@dataclass(frozen=True)
class Verification:
    """The outcome of a run: the statistics, the verdict, and what was compared (for the report)."""

    summary: ParitySummary
    verdict: Verdict
    meta: dict


class Progress(Protocol):
    """Receives progress as a run goes (the CLI draws bars from it)."""

    def start(self, description: str, total: int) -> None: ...

    def advance(self, count: int = 1) -> None: ...


class NoProgress:
    """Progress that goes nowhere."""

    def start(self, description: str, total: int) -> None:
        """Ignore the start of a stage."""

    def advance(self, count: int = 1) -> None:
        """Ignore finished work."""


def compare_samples(
    pair: EnginePair,
    samples: Iterable[VerifySample],
    *,
    batch_size: int = DEFAULT_BATCH,
    worst_count: int = WORST_COUNT,
    progress: Progress | None = None,
) -> ParitySummary:
    """Run every sample through engine and reference and accumulate the parity statistics."""
    progress = progress or NoProgress()
    preprocessing = pair.engine.metadata.preprocessing
    accumulator = ParityAccumulator(pair.engine.metadata.s2_bands, worst_count)
    for batch in _batches(samples, _batch_limit(batch_size, pair.engine, pair.reference)):
        sar = np.stack([s.sar for s in batch])
        optical = np.stack([s.optical for s in batch])
        engine_out = pair.engine.infer(sar, optical)
        reference_out = pair.reference.infer(sar, optical)
        for sample, engine_restored, reference_restored in zip(batch, engine_out, reference_out):
            accumulator.add(
                preprocessing.reflectance(engine_restored),
                preprocessing.reflectance(reference_restored),
                sample_id=sample.sample_id,
                truth=None if sample.truth is None else preprocessing.reflectance(sample.truth),
                cloudy=preprocessing.reflectance(sample.optical),
                coverage=sample.coverage,
            )
        progress.advance(len(batch))
    return accumulator.summary()


def verify_dataset(
    pair: EnginePair,
    root: Path,
    *,
    split: str = "val",
    count: int | None = None,
    thresholds: Thresholds | None = None,
    batch_size: int = DEFAULT_BATCH,
    worst_count: int = WORST_COUNT,
    progress: Progress | None = None,
) -> Verification:
    """Verify on `count` patches of a SEN12MS-CR split (all when None), spread evenly over it."""
    progress = progress or NoProgress()
    thresholds = thresholds or thresholds_for(pair.engine.metadata.precision)
    dataset, selection = select_dataset(root, split, count, pair.engine.metadata.preprocessing, pair.engine.path)
    progress.start(f"{split} samples", len(selection.indices))
    engines = (pair.engine, pair.reference)
    summary = compare_samples(
        pair,
        dataset_samples(dataset, selection, engines),
        batch_size=batch_size,
        worst_count=worst_count,
        progress=progress,
    )
    data = {
        "mode": "samples",
        "root": str(Path(root).resolve()),
        "split": split,
        "available": selection.available,
        "selected": len(selection.indices),
    }
    return Verification(summary, judge(summary, thresholds), _meta(pair, data))


def verify_scenes(
    pair: EnginePair,
    folder: Path,
    *,
    thresholds: Thresholds | None = None,
    options: RunOptions = RunOptions(),
    window: int = DEFAULT_WINDOW,
    worst_count: int = WORST_COUNT,
    progress: Progress | None = None,
) -> Verification:
    """Verify on every `<name>_s1.tif` + `<name>_s2.tif` scene in `folder`, through the tiled runtime."""
    progress = progress or NoProgress()
    thresholds = thresholds or thresholds_for(pair.engine.metadata.precision)
    pairing = pair_folder(Path(folder))
    if pairing.problems:
        raise InputError(str(pairing.problems[0]))
    for engine in (pair.engine, pair.reference):
        options.tile_for(engine)
    preprocessing = pair.engine.metadata.preprocessing
    accumulator = ParityAccumulator(pair.engine.metadata.s2_bands, worst_count)
    scenes = []
    with tempfile.TemporaryDirectory(prefix="ibhfn-verify-") as work_dir:
        for scene_pair in pairing.pairs:
            scene = restore_scene(
                pair.engine, pair.reference, scene_pair, Path(work_dir), options, progress=_TileProgress(progress)
            )
            for w in scene_windows(scene, preprocessing, window):
                accumulator.add(
                    w.engine, w.reference, sample_id=w.sample_id, truth=w.truth, cloudy=w.cloudy, coverage=w.coverage
                )
            scenes.append(
                {
                    "name": scene_pair.name,
                    "s1": str(scene_pair.s1),
                    "s2": str(scene_pair.s2),
                    "target": None if scene.target is None else str(scene.target),
                    "s2_offset": {
                        role: None if offset is None else {"dn": offset.dn, "from": offset.origin}
                        for role, offset in (("s2", scene.cloudy_offset), ("target", scene.target_offset))
                    },
                    "warnings": list(scene.warnings),
                }
            )
    summary = accumulator.summary()
    data = {
        "mode": "scenes",
        "folder": str(Path(folder).resolve()),
        "scenes": scenes,
        "window": window,
        "s2_offset": options.s2_offset,
        "tiling": {
            "tile_size": options.tile_size,
            "overlap": options.overlap,
            "blend": options.blend,
            "batch_size": options.batch_size,
        },
    }
    return Verification(summary, judge(summary, thresholds), _meta(pair, data))


class _TileProgress:
    """The runtime's per-scene progress, passed on as `Progress` stages (one per scene and network)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def scene_started(self, name: str, tiles: int) -> None:
        self.progress.start(name, tiles)

    def tiles_done(self, name: str, count: int) -> None:
        self.progress.advance(count)

    def scene_finished(self, result: SceneResult) -> None:
        """Nothing to add: the next scene starts its own stage."""


def _meta(pair: EnginePair, data: dict) -> dict:
    """What the report says about the run: both networks and the data."""
    return {
        "engine": _describe(pair.engine),
        "reference": _describe(pair.reference),
        "data": data,
    }


def _describe(engine: Engine) -> dict:
    """An engine's file, hash, backend and the metadata facts that identify it."""
    meta = engine.metadata
    return {
        "path": str(Path(engine.path).resolve()),
        "sha256": engine.sha256,
        "backend": engine.backend,
        "precision": meta.precision,
        "arch": meta.arch,
        "preset": meta.preset,
        "size_multiple": meta.size_multiple,
        "preprocessing": meta.preprocessing.method,
        "checkpoint_sha256": meta.checkpoint_sha256,
    }


def _batch_limit(batch_size: int, *engines: Engine) -> int:
    """The batch size every engine takes."""
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    return min([batch_size, *(e.max_batch for e in engines if e.max_batch is not None)])


def _batches(samples: Iterable[VerifySample], size: int) -> Iterator[list[VerifySample]]:
    """Consecutive samples of equal shape, at most `size` at a time."""
    batch: list[VerifySample] = []
    for sample in samples:
        if batch and (len(batch) == size or sample.optical.shape != batch[0].optical.shape):
            yield batch
            batch = []
        batch.append(sample)
    if batch:
        yield batch
