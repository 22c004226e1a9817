"""QDQ INT8 from an FP32 ONNX with ONNX Runtime's static quantizer, ranges calibrated once.

Why `onnxruntime.quantization` rather than NVIDIA ModelOpt: it ships with the ONNX Runtime the
runtime already uses, runs on the CPU and writes standard QuantizeLinear / DequantizeLinear (QDQ)
graphs. TensorRT 10 / 11 builds such a graph as a strongly typed network, with no calibrator, and
ONNX Runtime runs it on the CPU, so the same file is measured here and deployed there.

Settings TensorRT requires: QDQ format, INT8 activations and per-channel INT8 weights, both
symmetric (zero point 0). The model is first prepared with `quant_pre_process` (graph
optimisation and ONNX shape inference; the symbolic shape pass cannot follow the dynamic H and W
that torch.export declares). Ranges are computed once with ORT's `create_calibrator`, fed
`CHUNK` patches per `collect_data` call so that its memory follows the chunk and not the set
(minmax merges exactly; the histogram methods merge each chunk into histograms of fixed bin
width), and kept in ORT's calibration cache, which `quantize_static` then reads: the sensitivity
pass quantizes many times without reading the calibration set again. Calibrating here also sets
the entropy histogram, which `quantize_static` cannot: 2048 bins into 128, as TensorRT's entropy
calibrator does. The default method is percentile (99.999 %, 2048 bins), chosen by measurement
(docs/user-guide.md).

Precision-sensitive nodes stay in float by default: the FP16 block list of `ibhfn.export.float16`
(the gate's Sigmoid, normalisations and reductions, the final blend, the Dirac skip) plus the
output layer, the convolutions whose result goes straight into the blend.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data
from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry
from onnxruntime.quantization.shape_inference import quant_pre_process

from ibhfn.calibration.quantizer_messages import hidden_quantizer_messages
from ibhfn.calibration.reader import SelectionReader
from ibhfn.errors import InputError
from ibhfn.export.float16 import ELEMENTWISE_OPS, float32_node_names

METHODS: dict[str, CalibrationMethod] = {
    "entropy": CalibrationMethod.Entropy,
    "percentile": CalibrationMethod.Percentile,
    "minmax": CalibrationMethod.MinMax,
}

CALIBRATOR_OPTIONS: dict[str, dict[str, Any]] = {
    "entropy": {"num_bins": 2048, "num_quantized_bins": 128},
    "percentile": {"num_bins": 2048, "percentile": 99.999},
    "minmax": {},
}
CHUNK = 4  # patches whose intermediate outputs the calibrator holds at once
OP_TYPES = sorted(set(QLinearOpsRegistry) | set(QDQRegistry))  # what quantize_static quantizes by default


@dataclass(frozen=True)
class QuantForm:
    """How activations are stored: the form a deployment target runs as integer arithmetic.

    Weights are symmetric per-channel INT8 in every form.
    """

    name: str
    activation_type: QuantType
    symmetric: bool  # activations with zero point 0

    @property
    def description(self) -> str:
        """The form in words, for the model's metadata."""
        if self.symmetric:
            return "symmetric INT8, per-channel weights"
        return "UINT8 activations with zero points, symmetric per-channel INT8 weights"

    @property
    def extra_options(self) -> dict[str, bool]:
        """quantize_static's options for this form."""
        return {"ActivationSymmetric": self.symmetric, "WeightSymmetric": True}

    def calibrator_options(self, method: str) -> dict[str, Any]:
        """create_calibrator's options: the method's bins, and asymmetric ranges where activations are."""
        return {**CALIBRATOR_OPTIONS[method], **({} if self.symmetric else {"symmetric": False})}


FORMS: dict[str, QuantForm] = {
    # INT8 activations, zero point 0: what TensorRT builds
    "tensorrt": QuantForm("tensorrt", QuantType.QInt8, symmetric=True),
    # UINT8 activations with a zero point, INT8 weights: ONNX Runtime's integer convolutions on x86
    # (VNNI) and ARM; a Relu after a convolution becomes the zero point and disappears
    "cpu": QuantForm("cpu", QuantType.QUInt8, symmetric=False),
}


def calibration_method(name: str) -> CalibrationMethod:
    """ORT's calibration method for 'entropy', 'percentile' or 'minmax'."""
    try:
        return METHODS[name]
    except KeyError:
        raise InputError(f"unknown calibration method {name!r}; choose one of {', '.join(METHODS)}") from None


def quantization_form(name: str) -> QuantForm:
    """The form 'tensorrt' or 'cpu'."""
    try:
        return FORMS[name]
    except KeyError:
        raise InputError(f"unknown INT8 form {name!r}; choose one of {', '.join(FORMS)}") from None


def prepare(fp32: str | os.PathLike[str], out: str | os.PathLike[str]) -> onnx.ModelProto:
    """Write the model prepared for quantization to `out` and return it."""
    with hidden_quantizer_messages():
        quant_pre_process(os.fspath(fp32), os.fspath(out), skip_symbolic_shape=True)
    return onnx.load(os.fspath(out))


def default_float_nodes(model: onnx.ModelProto) -> list[str]:
    """The nodes kept in float by default: the FP16 block list plus the output layer, graph order."""
    keep = set(float32_node_names(model))
    producers = {out: node for node in model.graph.node for out in node.output}
    for node in model.graph.node:
        if node.name in keep and node.op_type in ELEMENTWISE_OPS:
            keep |= {
                producers[name].name for name in node.input if name in producers and producers[name].op_type == "Conv"
            }
    return [node.name for node in model.graph.node if node.name in keep]


class Quantizer:
    """Quantizes one prepared model with fixed settings; calibrates on first use, then reuses the ranges."""

    def __init__(
        self, prepared: Path, reader: SelectionReader, method: str, cache: Path, form: QuantForm = FORMS["tensorrt"]
    ) -> None:
        self.prepared = Path(prepared)
        self.reader = reader
        self.name = method
        self.method = calibration_method(method)
        self.cache = Path(cache)
        self.form = form

    def calibrate(self) -> None:
        """Feed the calibration set through the model once, CHUNK patches at a time; save the ranges to the cache."""
        with tempfile.TemporaryDirectory(prefix="ibhfn-ranges-") as work, hidden_quantizer_messages():
            calibrator = create_calibrator(
                self.prepared,
                OP_TYPES,
                augmented_model_path=os.path.join(work, "augmented.onnx"),
                calibrate_method=METHODS[self.name],
                extra_options=self.form.calibrator_options(self.name),
            )
            for chunk in self.reader.chunks(CHUNK):
                calibrator.collect_data(chunk)
            save_tensors_data(calibrator.compute_data(), self.cache)

    def write(self, out: str | os.PathLike[str], exclude: Sequence[str]) -> None:
        """Write the QDQ model to `out` with the nodes `exclude` left in float (calibrating first if needed)."""
        if not self.cache.is_file():
            self.calibrate()
        with hidden_quantizer_messages():
            quantize_static(
                self.prepared,
                os.fspath(out),
                None,  # the ranges come from the cache
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=self.form.activation_type,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=list(exclude),
                calibrate_method=self.method,
                extra_options=self.form.extra_options,
                calibration_cache_path=self.cache,
            )
        model = onnx.load(os.fspath(out))
        float_inputs(model, set(exclude))
        onnx.save(model, os.fspath(out))


def float_inputs(model: onnx.ModelProto, float_nodes: set[str]) -> None:
    """Feed float nodes the float activations, not their quantize-dequantize round trip.

    ORT quantizes a tensor once for all its consumers, so a node left in float still reads the
    dequantized copy when another consumer is quantized (the Dirac skip shares `optical` with the
    optical encoder). Such inputs are rewired to the tensor before QuantizeLinear, and Q/DQ nodes
    left without consumers are dropped with the scales and zero points only they read (ONNX Runtime
    warns about every unused initializer).
    """
    graph = model.graph
    made_by = {out: node for node in graph.node for out in node.output}
    for node in graph.node:
        if node.name not in float_nodes:
            continue
        for position, name in enumerate(node.input):
            dequantize = made_by.get(name)
            if dequantize is None or dequantize.op_type != "DequantizeLinear":
                continue
            quantize = made_by.get(dequantize.input[0])
            if quantize is not None and quantize.op_type == "QuantizeLinear":
                node.input[position] = quantize.input[0]
    dropped: set[str] = set()  # what the dropped Q/DQ nodes read
    while True:
        read = {name for node in graph.node for name in node.input} | {value.name for value in graph.output}
        unused = [
            n
            for n in graph.node
            if n.op_type in ("QuantizeLinear", "DequantizeLinear") and not read.intersection(n.output)
        ]
        if not unused:
            break
        for node in unused:
            dropped.update(node.input)
            graph.node.remove(node)
    for initializer in [i for i in graph.initializer if i.name in dropped - read]:
        graph.initializer.remove(initializer)
