"""The inputs both networks see in sample mode: patches of a SEN12MS-CR split, with their cloud-free targets.

The reader is built with the engine's own preprocessing (from its metadata), so the verifier
never keeps a second copy of the constants. Patches are cropped at the top-left to what the
engines take: a multiple of the size multiple, or the fixed tile of a static engine. A patch
that cannot be read (a truncated download) is left out with one warning naming its file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ibhfn.errors import InputError, ModelError, ShapeError
from ibhfn.preprocessing import PREPROCESSING, Preprocessing
from ibhfn.runtime.engine import Engine


@dataclass(frozen=True)
class VerifySample:
    """One input pair at network scale, (2, H, W) and (13, H, W), with what is known about it."""

    sample_id: str
    sar: np.ndarray
    optical: np.ndarray
    truth: np.ndarray | None = None  # cloud-free target at network scale, if there is one
    coverage: float | None = None  # cloud-cover fraction of `optical`, if known


@dataclass(frozen=True)
class DatasetSelection:
    """Which patches of a dataset are verified: `count` of `available`, spread over the split."""

    root: Path
    split: str
    available: int
    indices: tuple[int, ...]


def evenly_spread(available: int, count: int | None) -> tuple[int, ...]:
    """`count` indices spread evenly over range(available), first and last included (all when None)."""
    if count is None or count >= available:
        return tuple(range(available))
    if count < 1:
        raise InputError(f"--samples must be at least 1, got {count}")
    return tuple(sorted({int(i) for i in np.linspace(0, available - 1, count).round()}))


def crop_size(height: int, width: int, engines: tuple[Engine, ...], sample_id: str) -> tuple[int, int]:
    """The largest top-left crop every engine takes: its fixed tile, else a multiple of its size multiple."""
    for engine in engines:
        if engine.tile_size is not None:
            if min(height, width) < engine.tile_size:
                raise ShapeError(
                    f"sample {sample_id}: {height} x {width} px is smaller than the "
                    f"{engine.tile_size} px tile {engine.path} takes"
                )
            height = width = engine.tile_size
    multiple = max(engine.metadata.size_multiple for engine in engines)
    height, width = height - height % multiple, width - width % multiple
    if not height or not width:
        raise ShapeError(f"sample {sample_id}: smaller than the engines' size multiple {multiple}")
    return height, width


def reader_preprocessing(preprocessing: Preprocessing, source: Path) -> str:
    """The preprocessing name to build the data reader with, checked to mean the engine's constants."""
    if PREPROCESSING.get(preprocessing.method) != preprocessing:
        raise ModelError(
            f"{source}: its preprocessing {preprocessing.method!r} has constants this version of ibhfn "
            "does not know, so the data reader cannot reproduce them"
        )
    return preprocessing.method


def select_dataset(root: Path, split: str, count: int | None, preprocessing: Preprocessing, source: Path):
    """Open the SEN12MS-CR split with the engine's preprocessing; return (dataset, selection)."""
    from ibhfn.data import SEN12MSCR

    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such data folder")
    dataset = SEN12MSCR(root, split, preprocessing=reader_preprocessing(preprocessing, source))
    if len(dataset) == 0:
        raise InputError(f"{root}: no SEN12MS-CR patches of the {split!r} split")
    return dataset, DatasetSelection(root, split, len(dataset), evenly_spread(len(dataset), count))


def dataset_samples(dataset, selection: DatasetSelection, engines: tuple[Engine, ...]) -> Iterator[VerifySample]:
    """The selected patches, cropped to what the engines take; an unreadable one is skipped with a warning."""
    for index in selection.indices:
        item = dataset.read_or_skip(index)
        if item is None:
            continue
        sample_id = sample_name(item)
        height, width = crop_size(item.optical.shape[1], item.optical.shape[2], engines, sample_id)
        crop = np.s_[:, :height, :width]
        yield VerifySample(
            sample_id=sample_id,
            sar=np.ascontiguousarray(item.sar[crop], dtype=np.float32),
            optical=np.ascontiguousarray(item.optical[crop], dtype=np.float32),
            truth=None if item.target is None else np.asarray(item.target[crop], dtype=np.float32),
            coverage=item.coverage,  # of the whole patch, as the data reader measures it
        )


def sample_name(item) -> str:
    """A patch's name as SEN12MS-CR spells it: `<ROI>_<season>/<scene>/p<patch>`."""
    return f"{item.scene}/p{item.patch}"
