"""Fixtures for the runtime tests: a tiny stand-in ONNX engine with real ibhfn metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ibhfn.engine_metadata import EngineMetadata
from ibhfn.preprocessing import PREPROCESSING

STANDIN_METADATA = EngineMetadata(
    preprocessing=PREPROCESSING["default"], size_multiple=4, preset="stand-in", arch="stand-in"
)


def write_standin_onnx(
    path: Path, *, tile: int | None = None, metadata: EngineMetadata = STANDIN_METADATA
) -> Path:
    """Write a three-layer 3x3 conv net (receptive field 7 px) whose output is `optical` plus a residual.

    Zero padding at every layer makes tile borders differ from a whole-image pass, so tiling and
    blending matter; `tile` fixes H and W (a static engine), None leaves N, H and W dynamic.
    """
    rng = np.random.default_rng(0)
    channels = [15, 8, 8, 13]
    initializers, nodes = [], [helper.make_node("Concat", ["sar", "optical"], ["x0"], axis=1)]
    for layer, (cin, cout) in enumerate(zip(channels[:-1], channels[1:])):
        weight = (rng.standard_normal((cout, cin, 3, 3)) * 0.05).astype(np.float32)
        bias = (rng.standard_normal(cout) * 0.01).astype(np.float32)
        initializers += [numpy_helper.from_array(weight, f"w{layer}"), numpy_helper.from_array(bias, f"b{layer}")]
        out = f"c{layer}"
        nodes.append(helper.make_node("Conv", [f"x{layer}", f"w{layer}", f"b{layer}"], [out], pads=[1, 1, 1, 1]))
        if layer < len(channels) - 2:
            nodes.append(helper.make_node("Relu", [out], [f"x{layer + 1}"]))
    nodes.append(helper.make_node("Add", ["optical", out], ["restored"]))

    def dims(channels: int) -> list:
        return ["N", channels, tile or "H", tile or "W"]

    graph = helper.make_graph(
        nodes,
        "standin",
        [
            helper.make_tensor_value_info("sar", TensorProto.FLOAT, dims(2)),
            helper.make_tensor_value_info("optical", TensorProto.FLOAT, dims(13)),
        ],
        [helper.make_tensor_value_info("restored", TensorProto.FLOAT, dims(13))],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, metadata.to_props())
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.fixture(scope="session")
def standin_metadata() -> EngineMetadata:
    """The metadata the stand-in engine carries."""
    return STANDIN_METADATA


@pytest.fixture(scope="session")
def write_onnx_engine():
    """`write_standin_onnx`, for tests that need a variant (a static tile, other metadata)."""
    return write_standin_onnx


@pytest.fixture(scope="session")
def onnx_engine_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The engine every runtime test runs: for now the stand-in, later the bundled model's ONNX."""
    return write_standin_onnx(tmp_path_factory.mktemp("engine") / "standin.onnx")
