"""Engine and reference must be the same network taking the same inputs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ibhfn.engine_metadata import EngineMetadata
from ibhfn.errors import ModelError
from ibhfn.preprocessing import PREPROCESSING
from ibhfn.verify.engine_pair import check_same_network


def test_engine_and_reference_must_share_the_preprocessing(tmp_path):
    def engine(name: str, method: str):
        metadata = EngineMetadata(PREPROCESSING[method], size_multiple=4)
        return SimpleNamespace(path=tmp_path / name, metadata=metadata)

    check_same_network(engine("e.onnx", "default"), engine("r.onnx", "default"))
    with pytest.raises(
        ModelError,
        match=r"r.onnx is not a reference for .*e.onnx: preprocessing 'resnet' "
        r"\(engine\) differs from 'default' \(reference\)",
    ):
        check_same_network(engine("e.onnx", "resnet"), engine("r.onnx", "default"))
