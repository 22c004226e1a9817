"""Which patches sample mode takes, how they are cropped, and which preprocessing builds the reader."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ibhfn.engine_metadata import EngineMetadata
from ibhfn.errors import InputError, ModelError, ShapeError
from ibhfn.preprocessing import PREPROCESSING
from ibhfn.verify.samples import crop_size, evenly_spread, reader_preprocessing


@dataclasses.dataclass
class _Engine:
    """What crop_size reads of an engine."""

    metadata: EngineMetadata
    tile_size: int | None = None
    path: Path = Path("e.onnx")


def _engine(multiple: int, tile: int | None = None) -> _Engine:
    return _Engine(EngineMetadata(PREPROCESSING["default"], size_multiple=multiple), tile)


def test_evenly_spread_takes_first_and_last():
    assert evenly_spread(10, 3) == (0, 4, 9)  # 4.5 rounds to even
    assert evenly_spread(4, None) == evenly_spread(4, 9) == (0, 1, 2, 3)
    with pytest.raises(InputError, match="at least 1"):
        evenly_spread(4, 0)


def test_crop_to_size_multiple_and_fixed_tile():
    assert crop_size(250, 256, (_engine(4), _engine(8)), "s") == (248, 256)
    assert crop_size(256, 256, (_engine(4, tile=128), _engine(4)), "s") == (128, 128)
    with pytest.raises(ShapeError, match="s: 100 x 100 px is smaller than the 128 px tile"):
        crop_size(100, 100, (_engine(4, tile=128),), "s")


def test_reader_gets_the_engines_preprocessing_or_an_error():
    assert reader_preprocessing(PREPROCESSING["resnet"], Path("e.onnx")) == "resnet"
    custom = dataclasses.replace(PREPROCESSING["default"], s2_divisor=5000.0)
    with pytest.raises(ModelError, match="e.onnx: its preprocessing 'default' has constants"):
        reader_preprocessing(custom, Path("e.onnx"))
