"""FP16 ONNX with FP32 islands: precision lives in the graph, as strongly typed TensorRT wants it.

onnxconverter-common's float16 conversion turns every tensor to float16 except the nodes on a
block list, with FP32 `sar`, `optical` and outputs (keep_io_types). The block list is chosen from
the graph itself:
- precision-sensitive ops: the gate's Sigmoid, any normalisation and reduction (ReduceMean,
  LayerNormalization, ...), exponentials and divisions;
- the final blend: every element-wise node downstream of a Sigmoid (Y = G * S + (1 - G) * R) and
  the element-wise node that writes a graph output (DSen2-CR's long skip, optical + residual);
- the skip path: nodes that read a graph input and feed only blocked nodes (IB-HFN's Dirac
  skip), so clear-sky pixels keep their FP32 value.
"""

from __future__ import annotations

from collections import defaultdict

import onnx
from onnx import TensorProto
from onnxconverter_common.float16 import convert_float_to_float16

from ibhfn.errors import ModelError

SENSITIVE_OPS = frozenset(
    {
        "Sigmoid",
        "Softmax",
        "LogSoftmax",
        "Exp",
        "Log",
        "Pow",
        "Sqrt",
        "Reciprocal",
        "Div",
        "ReduceMean",
        "ReduceSum",
        "ReduceSumSquare",
        "ReduceL2",
        "GlobalAveragePool",
        "LayerNormalization",
        "InstanceNormalization",
        "GroupNormalization",
        "BatchNormalization",
    }
)
ELEMENTWISE_OPS = frozenset({"Add", "Sub", "Mul"})


def float32_node_names(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes that stay FP32, in graph order (see the module docstring for the rule)."""
    graph = model.graph
    nodes = list(graph.node)
    consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in nodes:
        for name in node.input:
            consumers[name].append(node)
    graph_inputs = {value.name for value in graph.input}
    graph_outputs = {value.name for value in graph.output}

    keep = {node.name for node in nodes if node.op_type in SENSITIVE_OPS}
    frontier = [out for node in nodes if node.op_type == "Sigmoid" for out in node.output]
    while frontier:
        for node in consumers[frontier.pop()]:
            if node.op_type in ELEMENTWISE_OPS and node.name not in keep:
                keep.add(node.name)
                frontier.extend(node.output)
    keep |= {node.name for node in nodes if node.op_type in ELEMENTWISE_OPS and graph_outputs.intersection(node.output)}
    blend = set(keep)
    for node in nodes:
        feeds = [c for out in node.output for c in consumers[out]]
        if graph_inputs.intersection(node.input) and feeds and all(c.name in blend for c in feeds):
            keep.add(node.name)
    return [node.name for node in nodes if node.name in keep]


def convert_to_float16(model: onnx.ModelProto, keep_float32: list[str]) -> onnx.ModelProto:
    """The FP16 model with `keep_float32` nodes in FP32 and FP32 inputs and outputs."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    del model.graph.value_info[:]  # stale FP32 annotations make the converter's casts disagree
    converted: onnx.ModelProto = convert_float_to_float16(
        model, keep_io_types=True, node_block_list=keep_float32, disable_shape_infer=False
    )
    _float32_outputs(converted)
    return converted


def _float32_outputs(model: onnx.ModelProto) -> None:
    """Make every graph output FP32 again.

    When a blocked (FP32) node writes a graph output, the converter still ends it with a Cast to
    FP16 and declares the output FP16; that Cast becomes an FP32 identity here, so no output
    passes through float16.
    """
    producers = {out: node for node in model.graph.node for out in node.output}
    for output in model.graph.output:
        tensor_type = output.type.tensor_type
        if tensor_type.elem_type != TensorProto.FLOAT16:
            continue
        producer = producers.get(output.name)
        if producer is None or producer.op_type != "Cast":
            raise ModelError(f"float16 conversion left output {output.name} in float16 without a Cast")
        for attribute in producer.attribute:
            if attribute.name == "to":
                attribute.i = TensorProto.FLOAT
        tensor_type.elem_type = TensorProto.FLOAT
