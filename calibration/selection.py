"""The calibration set: patches of a SEN12MS-CR split, stratified over ROI-season and cloud cover.

A stratum is one (ROI-season, coverage bucket) pair, so clear, thin-cloud, thick-cloud and fully
covered patches of every season present (winter's snow included) all reach the quantizer's
ranges. The choice is deterministic by seed: the split's patches are shuffled, a pool of at most
`POOL_FACTOR` x `samples` of them is read to learn their coverage, and the strata are then taken
in turn, one patch each round, until `samples` are chosen. The test split is refused: ranges
calibrated on test data would leak into every accuracy figure reported on it.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ibhfn.atomic import atomic_path
from ibhfn.data import SEN12MSCR, coverage_bucket
from ibhfn.errors import InputError

CALIBRATION_SPLITS = ("train", "val")
POOL_FACTOR = 4  # patches read per calibration sample wanted, at most, to learn the strata
UNKNOWN_BUCKET = "unknown"  # coverage of a reader built without a cloud mask


@dataclass(frozen=True)
class SelectedPatch:
    """One calibration patch: where it is in the reader and which stratum it stands for."""

    index: int  # in the reader's triplet list
    scene: str
    patch: int
    roi_season: str
    coverage: float | None
    bucket: str

    @property
    def stratum(self) -> str:
        """'<ROI-season> <bucket>', for example 'ROIs2017_winter 90-100%'."""
        return f"{self.roi_season} {self.bucket}"


@dataclass(frozen=True)
class CalibrationSelection:
    """The chosen patches and how they were drawn; saved beside the INT8 model."""

    split: str
    seed: int
    requested: int
    pooled: int  # patches read to learn the strata
    patches: tuple[SelectedPatch, ...]

    @property
    def strata(self) -> dict[str, int]:
        """Chosen patches per stratum, in sorted order."""
        return dict(sorted(Counter(p.stratum for p in self.patches).items()))

    @property
    def keys(self) -> frozenset[tuple[str, int]]:
        """The (scene, patch) pairs chosen, to keep them out of the held-out samples."""
        return frozenset((p.scene, p.patch) for p in self.patches)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "format": "ibhfn-calibration-set/1",
            "split": self.split,
            "seed": self.seed,
            "requested": self.requested,
            "pooled": self.pooled,
            "strata": self.strata,
            "patches": [asdict(p) for p in self.patches],
        }

    def write(self, path: str | os.PathLike[str]) -> None:
        """Save the list as JSON, atomically."""
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")


def check_split(split: str) -> None:
    """Refuse any split but train and val: calibrating on test data leaks into its accuracy."""
    if split not in CALIBRATION_SPLITS:
        why = " (calibrating on test data would leak into the reported accuracy)" if split in ("test", "all") else ""
        raise InputError(f"cannot calibrate on split {split!r}{why}; use {' or '.join(CALIBRATION_SPLITS)}")


def select_patches(dataset: SEN12MSCR, samples: int, seed: int) -> CalibrationSelection:
    """Choose `samples` patches of `dataset`, every stratum of the pool represented when there is room."""
    check_split(dataset.split)
    if samples < 1:
        raise InputError(f"--samples must be at least 1, got {samples}")
    if seed < 0:
        raise InputError(f"--seed must be 0 or more, got {seed}")
    order = np.random.default_rng(seed).permutation(len(dataset))
    pool: dict[str, list[SelectedPatch]] = {}
    pooled = 0
    for index in order[: POOL_FACTOR * samples]:
        sample = dataset.read_or_skip(int(index))
        if sample is None:
            continue
        pooled += 1
        coverage = sample.coverage
        bucket = UNKNOWN_BUCKET if coverage is None else coverage_bucket(coverage)
        chosen = SelectedPatch(int(index), sample.scene, sample.patch, sample.roi_season, coverage, bucket)
        pool.setdefault(chosen.stratum, []).append(chosen)
    if not pool:
        raise InputError(f"{dataset.root}: no readable patch in split {dataset.split!r} to calibrate on")
    return CalibrationSelection(dataset.split, seed, samples, pooled, tuple(_round_robin(pool, samples)))


def _round_robin(pool: dict[str, list[SelectedPatch]], samples: int) -> list[SelectedPatch]:
    """One patch from each stratum in turn (strata in sorted order) until `samples` or the pool runs out."""
    queues = [list(pool[stratum]) for stratum in sorted(pool)]
    chosen: list[SelectedPatch] = []
    while len(chosen) < samples and any(queues):
        for queue in queues:
            if queue and len(chosen) < samples:
                chosen.append(queue.pop(0))
    return chosen
