"""`export_onnx`: a checkpoint (or module) to a checked, simplified ONNX with its metadata and report.

    report = export_onnx("run/best.pt", "model.onnx")                      # FP32, dynamic N, H, W
    report = export_onnx("run/best.pt", "model_fp16.onnx", precision="fp16")

Steps, each checked before anything is written: fold the network into its deploy form; export it
with the torch.export-based exporter (`dynamo=True`) with dynamic batch, height and width, H and W
declared as multiples of the size multiple; `onnx.checker` full check and strict shape inference;
simplify with onnxslim; parity against PyTorch on generated inputs of several shapes (max abs
<= 1e-4) on the simplified graph; for FP16, convert with FP32 islands and measure it against the
FP32 graph (max abs <= 1e-2, no inf/NaN, per-node activation magnitudes against 65504). The ONNX
and its JSON report `<model>.onnx.json` are written atomically; a failed check writes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import onnxslim
import torch
from torch import nn
from torch.export import Dim

from ibhfn.atomic import atomic_path, refuse_overwriting, write_temporary
from ibhfn.engine_metadata import INPUT_NAMES, OUTPUT_NAME, EngineMetadata
from ibhfn.errors import ModelError, ShapeError, VerificationFailed
from ibhfn.export.activation_range import FLOAT16_MAX, ActivationRange, activation_ranges
from ibhfn.export.deploy import DeployModel, fold
from ibhfn.export.float16 import convert_to_float16, float32_node_names
from ibhfn.export.model_source import load_source
from ibhfn.export.onnx_metadata import export_metadata, set_metadata
from ibhfn.export.onnx_opset import DEFAULT_OPSET, MIN_OPSET
from ibhfn.export.parity import ParityCase, Shape, generated_inputs, measure_parity, parity_shapes

ONNX_PRECISIONS = ("fp32", "fp16")  # int8 is the QDQ ONNX that ibhfn-calibrate writes
PARITY_TOLERANCE = 1e-4  # FP32 ONNX vs PyTorch, max abs
FP16_TOLERANCE = 1e-2  # FP16 ONNX vs FP32 ONNX, max abs
MAX_SIDE = 8192  # largest height and width the dynamic graph declares


@dataclass(frozen=True)
class Float16Report:
    """The FP16 graph against the FP32 graph on generated inputs, and the FP32 activation ranges."""

    cases: list[ParityCase]
    psnr_db: float  # FP16 output against FP32 output, data range 1
    tolerance: float
    activations: list[ActivationRange]  # per node of the FP32 graph, graph order

    @property
    def max_abs(self) -> float:
        """Largest FP16-vs-FP32 difference over every shape."""
        return float(max(case.max_abs for case in self.cases))

    @property
    def mean_abs(self) -> float:
        """Mean FP16-vs-FP32 difference, averaged over the shapes."""
        return float(np.mean([case.mean_abs for case in self.cases]))

    @property
    def nonfinite(self) -> int:
        """Count of inf/NaN in the FP16 outputs."""
        return sum(case.nonfinite for case in self.cases)

    @property
    def largest_activation(self) -> ActivationRange:
        """The FP32 node closest to the float16 limit."""
        return max(self.activations, key=lambda a: a.max_abs)

    @property
    def passed(self) -> bool:
        """Within the tolerance and free of inf/NaN."""
        return self.max_abs <= self.tolerance and self.nonfinite == 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, activations largest first."""
        return {
            "max_abs": self.max_abs,
            "mean_abs": self.mean_abs,
            "psnr_db": self.psnr_db,
            "nonfinite": self.nonfinite,
            "tolerance": self.tolerance,
            "passed": self.passed,
            "cases": [case.to_dict() for case in self.cases],
            "float16_max": FLOAT16_MAX,
            "activations": [a.to_dict() for a in sorted(self.activations, key=lambda a: -a.max_abs)],
        }


@dataclass(frozen=True)
class ExportReport:
    """What `export_onnx` wrote and measured; its `to_dict()` is the JSON sidecar."""

    path: Path
    sidecar: Path
    metadata: EngineMetadata
    opset: int
    static_shape: Shape | None
    source: str
    onnx_sha256: str
    nodes_exported: int
    nodes_simplified: int
    op_counts: dict[str, int]
    parity: list[ParityCase]  # the simplified FP32 graph against PyTorch
    parity_tolerance: float
    float16: Float16Report | None = None
    seconds: float = 0.0
    io_shapes: dict[str, list[int | str]] = field(default_factory=dict)

    @property
    def parity_max_abs(self) -> float:
        """Largest ONNX-vs-PyTorch difference over every shape."""
        return float(max(case.max_abs for case in self.parity))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the sidecar's content)."""
        return {
            "format": "ibhfn-onnx-export/1",
            "path": self.path.name,
            "onnx_sha256": self.onnx_sha256,
            "source": self.source,
            "precision": self.metadata.precision,
            "opset": self.opset,
            "static_shape": list(self.static_shape) if self.static_shape else None,
            "io_shapes": self.io_shapes,
            "nodes": {"exported": self.nodes_exported, "simplified": self.nodes_simplified, "ops": self.op_counts},
            "parity": {
                "reference": "pytorch",
                "tolerance": self.parity_tolerance,
                "max_abs": self.parity_max_abs,
                "passed": self.parity_max_abs <= self.parity_tolerance,
                "cases": [case.to_dict() for case in self.parity],
            },
            "float16": self.float16.to_dict() if self.float16 else None,
            "metadata": self.metadata.to_props(),
            "seconds": round(self.seconds, 2),
        }


def report_path(onnx_path: str | os.PathLike[str]) -> Path:
    """The JSON report beside an exported ONNX: the file name plus `.json` (model.onnx.json)."""
    path = Path(onnx_path)
    return path.with_name(path.name + ".json")


def export_onnx(
    checkpoint: str | os.PathLike[str] | nn.Module | None,
    out: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    static_shape: Shape | None = None,
    precision: str = "fp32",
    with_gate: bool = False,
    arch: str | None = None,
) -> ExportReport:
    """Export a checkpoint (None: the bundled one) or a network to a checked ONNX at `out`."""
    started = time.perf_counter()
    if precision not in ONNX_PRECISIONS:
        hint = "; an INT8 ONNX is written by ibhfn-calibrate" if precision == "int8" else ""
        raise ModelError(f"precision {precision!r} is not one of {', '.join(ONNX_PRECISIONS)}{hint}")
    check_opset(opset)
    out = Path(out)
    source = load_source(checkpoint, arch=arch)
    if not isinstance(checkpoint, nn.Module):
        refuse_overwriting(out, source.origin)
        refuse_overwriting(report_path(out), source.origin)
    deploy = fold(source.model, with_gate=with_gate)
    if static_shape is not None:
        check_static_shape(static_shape, deploy.size_multiple)

    # both destinations are claimed (checked) before the work; the model is renamed into place after its report
    with atomic_path(out) as model_tmp, atomic_path(report_path(out)) as report_tmp:
        exported = torch_to_onnx(deploy, opset=opset, static_shape=static_shape)
        check_exported_opset(exported, opset, out)
        simplified = onnxslim.slim(exported)
        check_graph(simplified, out)
        shapes = parity_shapes(deploy.size_multiple, static_shape)
        parity = measure_parity(torch_runner(deploy), onnx_runner(simplified), shapes)
        worst = max(case.max_abs for case in parity)
        if not worst <= PARITY_TOLERANCE:
            raise VerificationFailed(
                f"{out}: ONNX differs from PyTorch by {worst:.3g} (max abs) > {PARITY_TOLERANCE:g}; nothing written"
            )

        final, float16 = simplified, None
        float32_nodes: tuple[str, ...] = ()
        if precision == "fp16":
            float32_nodes = tuple(float32_node_names(simplified))
            final = convert_to_float16(simplified, list(float32_nodes))
            check_graph(final, out)
            float16 = measure_float16(simplified, final, shapes)
            if not float16.passed:
                raise VerificationFailed(
                    f"{out}: FP16 ONNX differs from FP32 by {float16.max_abs:.3g} (max abs, limit "
                    f"{FP16_TOLERANCE:g}) with {float16.nonfinite} inf/NaN; nothing written"
                )

        extra = {"opset": str(opset), "source": Path(source.origin).name}
        if static_shape is not None:
            extra["static_shape"] = "x".join(map(str, static_shape))
        metadata = export_metadata(
            source, outputs=deploy.output_names, precision=precision, float32_nodes=float32_nodes, extra=extra
        )
        set_metadata(final, metadata)
        data = final.SerializeToString()
        report = ExportReport(
            path=out,
            sidecar=report_path(out),
            metadata=metadata,
            opset=opset,
            static_shape=static_shape,
            source=source.origin,
            onnx_sha256=hashlib.sha256(data).hexdigest(),
            nodes_exported=len(exported.graph.node),
            nodes_simplified=len(simplified.graph.node),
            op_counts=dict(sorted(Counter(node.op_type for node in final.graph.node).items())),
            parity=parity,
            parity_tolerance=PARITY_TOLERANCE,
            float16=float16,
            seconds=time.perf_counter() - started,
            io_shapes=io_shapes(final),
        )
        write_temporary(model_tmp, data)
        write_temporary(report_tmp, json.dumps(report.to_dict(), indent=2) + "\n")
    return report


def check_opset(opset: int) -> None:
    """Raise ModelError for an opset older than TensorRT's normalisation layer needs or newer than onnx knows."""
    newest = onnx.defs.onnx_opset_version()
    if opset < MIN_OPSET:
        raise ModelError(f"opset {opset} is too old; use {MIN_OPSET} or later")
    if opset > newest:
        raise ModelError(f"opset {opset} is newer than onnx {onnx.__version__} knows; use {MIN_OPSET} to {newest}")


def check_exported_opset(model: onnx.ModelProto, opset: int, out: Path) -> None:
    """Raise ModelError when the exporter could not convert the graph to `opset` (it then keeps its own)."""
    written = next(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))
    if written != opset:
        raise ModelError(
            f"{out}: the exporter cannot convert this network to opset {opset} (it stays at opset {written}); "
            "try another --opset; nothing written"
        )


def check_static_shape(shape: Shape, size_multiple: int) -> None:
    """Raise ShapeError unless (N, H, W) is positive with H and W multiples of `size_multiple`."""
    batch, height, width = shape
    if min(shape) < 1 or height % size_multiple or width % size_multiple:
        raise ShapeError(f"static shape {batch}x{height}x{width} needs N >= 1 and H, W multiples of {size_multiple}")


def torch_to_onnx(deploy: DeployModel, *, opset: int, static_shape: Shape | None = None) -> onnx.ModelProto:
    """Export the deploy form with torch.export; N, H, W dynamic unless `static_shape` is given."""
    multiple = deploy.size_multiple
    batch, height, width = static_shape or (2, 8 * multiple, 8 * multiple)
    sar, optical = (torch.from_numpy(a) for a in generated_inputs((batch, height, width)))
    dynamic_shapes = None
    if static_shape is None:
        n = Dim("N", min=1, max=1024)
        h = Dim("h", min=1, max=MAX_SIDE // multiple)
        w = Dim("w", min=1, max=MAX_SIDE // multiple)
        dims = {0: n, 2: multiple * h, 3: multiple * w}
        dynamic_shapes = {"sar": dims, "optical": dims}
    with quiet_exporter():
        program = torch.onnx.export(
            deploy,
            (sar, optical),
            input_names=list(INPUT_NAMES),
            output_names=list(deploy.output_names),
            opset_version=opset,
            dynamic_shapes=dynamic_shapes,
            dynamo=True,
            verbose=False,
        )
    if program is None:  # torch returns None only for the TorchScript exporter, never with dynamo=True
        raise ModelError("torch.onnx.export returned no program")
    proto: onnx.ModelProto = program.model_proto
    return proto


# (category, message, module) of the warnings the exporter gives for what it handles itself
EXPORTER_WARNINGS: tuple[tuple[type[Warning], str, str], ...] = (
    (Warning, "", r"(torch\.onnx|torch\.export|torch\._export|onnxscript|onnx_ir)(\.|$)"),  # axis renames and kin
    (FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated", ""),  # torch's pytree, said from copyreg
)


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """Silence the exporter's own warnings and log lines (torchvision ops, axis renames, opset conversion), no other."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript")]  # onnxscript: version converter
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():  # the filters as they were come back at the end of the block
            for category, message, module in EXPORTER_WARNINGS:
                warnings.filterwarnings("ignore", message, category, module)
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def check_graph(model: onnx.ModelProto, out: Path) -> None:
    """onnx.checker full check and strict shape inference, as a ModelError naming `out`."""
    try:
        onnx.checker.check_model(model, full_check=True)
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ModelError(f"{out}: exported graph fails the ONNX checker ({reason}); nothing written") from None


def torch_runner(deploy: DeployModel) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Run the deploy form on numpy inputs; return the restored image."""

    def run(sar: np.ndarray, optical: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            output = deploy(torch.from_numpy(sar), torch.from_numpy(optical))
        restored: np.ndarray = (output[0] if isinstance(output, tuple) else output).numpy()
        return restored

    return run


def onnx_runner(model: onnx.ModelProto) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Run an ONNX model on ONNX Runtime's CPU provider; return the restored image."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])

    def run(sar: np.ndarray, optical: np.ndarray) -> np.ndarray:
        restored: np.ndarray = session.run([OUTPUT_NAME], {"sar": sar, "optical": optical})[0]
        return restored

    return run


def measure_float16(fp32: onnx.ModelProto, fp16: onnx.ModelProto, shapes: list[Shape]) -> Float16Report:
    """The FP16 graph against the FP32 graph, and the FP32 graph's activation ranges."""
    from ibhfn.metrics import psnr

    reference, candidate = onnx_runner(fp32), onnx_runner(fp16)
    cases = measure_parity(reference, candidate, shapes)
    sar, optical = generated_inputs(shapes[0])
    quality = float(psnr(candidate(sar, optical).astype(np.float64), reference(sar, optical)))
    ranges = activation_ranges(fp32, {"sar": sar, "optical": optical})
    return Float16Report(cases=cases, psnr_db=quality, tolerance=FP16_TOLERANCE, activations=ranges)


def io_shapes(model: onnx.ModelProto) -> dict[str, list[int | str]]:
    """Each graph input's and output's shape, symbolic dimensions by name."""

    def dims(value: onnx.ValueInfoProto) -> list[int | str]:
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    return {value.name: dims(value) for value in [*model.graph.input, *model.graph.output]}
