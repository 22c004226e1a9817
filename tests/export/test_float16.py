import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from ibhfn.export.activation_range import FLOAT16_MAX
from ibhfn.export.float16 import float32_node_names
from ibhfn.export.onnx_export import FP16_TOLERANCE
from ibhfn.export.parity import generated_inputs


def run(path, sar, optical):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["restored"], {"sar": sar, "optical": optical})[0]


def test_fp16_onnx_stays_close_to_fp32_with_no_inf_or_nan(fp16_export, fp32_export):
    sar, optical = generated_inputs((2, 48, 32), seed=21)
    half, full = run(fp16_export.path, sar, optical), run(fp32_export.path, sar, optical)
    assert half.dtype == np.float32 and half.shape == full.shape
    assert np.isfinite(half).all()
    assert np.abs(half - full).max() <= FP16_TOLERANCE
    assert np.abs(half - full).max() > 0  # the body really runs in float16


def test_fp16_graph_has_fp32_io_and_fp16_weights(fp16_export):
    model = onnx.load(fp16_export.path)
    for value in [*model.graph.input, *model.graph.output]:
        assert value.type.tensor_type.elem_type == TensorProto.FLOAT
    types = {init.data_type for init in model.graph.initializer}
    assert TensorProto.FLOAT16 in types


def test_kept_fp32_nodes_are_listed_and_cover_the_gate_and_blend(fp16_export):
    model = onnx.load(fp16_export.path)
    nodes = {node.name: node.op_type for node in model.graph.node}
    kept = fp16_export.metadata.float32_nodes
    assert fp16_export.metadata.precision == "fp16"
    kept_ops = [nodes[name] for name in kept]
    assert "Sigmoid" in kept_ops and "ReduceMean" in kept_ops
    assert {"Mul", "Sub", "Add"} <= set(kept_ops)
    assert kept_ops.count("Conv") == 1  # the Dirac skip, and no conv of the body


def test_fp16_report_measures_error_and_activation_headroom(fp16_export):
    report = fp16_export.float16
    assert report.passed and report.nonfinite == 0
    assert 0 < report.max_abs <= FP16_TOLERANCE and 0 < report.mean_abs <= report.max_abs
    assert 40 < report.psnr_db < float("inf")
    nodes = {node.name for node in onnx.load(fp16_export.path).graph.node}
    assert len(report.activations) >= 30 and {a.node for a in report.activations} <= nodes
    assert all(0 <= a.max_abs < FLOAT16_MAX for a in report.activations)
    assert report.largest_activation.max_abs == max(a.max_abs for a in report.activations)


def test_block_list_rule_on_a_small_graph():
    """Sigmoid, the blend after it, a normalisation, and the skip conv stay FP32; the body conv does not."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["body"], name="body_conv"),
        helper.make_node("ReduceMean", ["body"], ["pooled"], name="pool", keepdims=1),
        helper.make_node("Add", ["body", "pooled"], ["logit"], name="logit_add"),
        helper.make_node("Sigmoid", ["logit"], ["g"], name="gate"),
        helper.make_node("Conv", ["x", "w"], ["skip"], name="skip_conv"),
        helper.make_node("Mul", ["g", "skip"], ["y"], name="blend"),
    ]
    value = lambda name: helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 1, 4, 4])  # noqa: E731
    weight = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 1, 1], [1.0])
    model = helper.make_model(helper.make_graph(nodes, "g", [value("x")], [value("y")], [weight]))
    assert float32_node_names(model) == ["pool", "gate", "skip_conv", "blend"]
