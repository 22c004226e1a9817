"""The largest activation magnitude of every node of an FP32 graph, against the float16 limit.

Every float node output is exposed as an extra graph output and the copy is run in ONNX Runtime
on generated inputs: a node whose magnitude nears 65504 would overflow in an FP16 engine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto

FLOAT16_MAX = 65504.0


@dataclass(frozen=True)
class ActivationRange:
    """The largest |value| one node wrote on the probe inputs."""

    node: str
    op_type: str
    max_abs: float

    @property
    def fp16_headroom(self) -> float:
        """How many times the activation fits below the float16 limit (inf when it is 0)."""
        return FLOAT16_MAX / self.max_abs if self.max_abs > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, headroom included."""
        return {**asdict(self), "fp16_headroom": self.fp16_headroom}


def activation_ranges(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[ActivationRange]:
    """Per node (graph order), the largest |activation| of its float outputs on `feeds`."""
    inferred = onnx.shape_inference.infer_shapes(model)
    float_values = {
        value.name
        for value in [*inferred.graph.value_info, *inferred.graph.output]
        if value.type.tensor_type.elem_type == TensorProto.FLOAT
    }
    probe = onnx.ModelProto.FromString(model.SerializeToString())
    exposed = {value.name for value in probe.graph.output}
    for node in probe.graph.node:
        for name in node.output:
            if name in float_values and name not in exposed:
                probe.graph.output.append(onnx.helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
                exposed.add(name)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    values = dict(zip(names, session.run(names, feeds)))
    ranges = []
    for node in model.graph.node:
        outputs = [values[name] for name in node.output if name in values and values[name].size]
        if outputs:
            peak = max(float(np.max(np.abs(v))) for v in outputs)
            ranges.append(ActivationRange(node.name, node.op_type, peak))
    return ranges
