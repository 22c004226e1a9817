"""`calibrate`: an FP32 ONNX and a SEN12MS-CR tree in, a measured QDQ INT8 ONNX out.

    result = calibrate("model.onnx", "SEN12MSCR/", "model.int8.onnx", samples=512, method="percentile")

`form="tensorrt"` (the default) writes INT8 activations with zero point 0, what TensorRT builds;
`form="cpu"` writes UINT8 activations with zero points, which ONNX Runtime fuses into integer
convolutions on the CPU (`ibhfn.calibration.quantize.FORMS`).

Steps: read the FP32 model's metadata (its preprocessing builds the data reader); choose the
stratified calibration set; prepare the model and calibrate its ranges once; hold out val
patches and run FP32 on them; quantize with the precision-sensitive nodes in float and measure;
if the targets are missed, run the sensitivity pass and leave the worst layer groups in float.
Beside `out` go `<out>.calibration.json` (the chosen patches) and `<out>.report.json`. The model
is written (atomically, with `precision=int8` metadata) only when it meets the targets; otherwise
the report says why and `CalibrationResult.path` is None.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import onnx
import onnxruntime

from ibhfn.atomic import atomic_path, check_writable, refuse_overwriting
from ibhfn.calibration.accuracy import AccuracyReport, HeldOutSample, Targets, held_out_samples, measure
from ibhfn.calibration.quantize import Quantizer, calibration_method, default_float_nodes, prepare, quantization_form
from ibhfn.calibration.reader import Progress, SelectionReader
from ibhfn.calibration.selection import CalibrationSelection, check_split, select_patches
from ibhfn.calibration.sensitivity import SensitivityResult, Trial, exclude_until_met, layer_groups
from ibhfn.data import SEN12MSCR
from ibhfn.engine_metadata import EngineMetadata
from ibhfn.errors import InputError, ModelError, ShapeError
from ibhfn.export.onnx_metadata import read_metadata, set_metadata
from ibhfn.verify.samples import reader_preprocessing


@dataclass(frozen=True)
class CalibrationResult:
    """What `calibrate` wrote and measured."""

    path: Path | None  # the INT8 model, None when the targets were missed
    report_path: Path
    selection_path: Path
    selection: CalibrationSelection
    metadata: EngineMetadata  # of the INT8 model
    accuracy: AccuracyReport  # of the INT8 model as written (or the best found)
    default_float_nodes: tuple[str, ...]
    sensitivity: SensitivityResult | None  # None when the first model met the targets
    targets: Targets
    target_met: bool
    seconds: float

    @property
    def float_nodes(self) -> tuple[str, ...]:
        """Every node left in float."""
        return self.metadata.float32_nodes


def sidecar(out: str | os.PathLike[str], suffix: str) -> Path:
    """A file beside `out`: its name plus `suffix` (model.int8.onnx.report.json)."""
    out = Path(out)
    return out.with_name(out.name + suffix)


def calibrate(
    onnx_path: str | os.PathLike[str],
    data_root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    split: str = "train",
    samples: int = 512,
    method: str = "percentile",
    tile: int = 256,
    seed: int = 0,
    holdout: int = 32,
    targets: Targets = Targets(),
    progress: Progress | None = None,
    form: str = "tensorrt",
) -> CalibrationResult:
    """Calibrate and quantize an FP32 ONNX to QDQ INT8, measure it, and write it if it meets `targets`."""
    started = time.perf_counter()
    onnx_path, data_root, out = Path(onnx_path), Path(data_root), Path(out)
    outputs = (out, sidecar(out, ".calibration.json"), sidecar(out, ".report.json"))
    for output in outputs:
        refuse_overwriting(output, onnx_path)
    check_split(split)
    calibration_method(method)
    quant_form = quantization_form(form)
    source = read_metadata(onnx_path)
    if source.precision != "fp32":
        raise ModelError(f"{onnx_path}: is a {source.precision} model; calibrate the FP32 export")
    if tile < 1 or tile % source.size_multiple:
        raise ShapeError(
            f"tile size {tile} is not a positive multiple of the model's size multiple {source.size_multiple}"
        )
    if not data_root.is_dir():
        raise InputError(f"{data_root}: no such data folder (expected the SEN12MS-CR root)")
    preprocessing = reader_preprocessing(source.preprocessing, onnx_path)
    for output in outputs:
        check_writable(output)

    dataset = SEN12MSCR(data_root, split, preprocessing=preprocessing)
    selection = select_patches(dataset, samples, seed)
    held = held_out_samples(
        data_root, preprocessing, holdout, seed=seed, tile=tile, exclude=selection.keys, fp32=onnx_path
    )
    settings = {
        "method": method,
        "samples": str(len(selection.patches)),
        "seed": str(seed),
        "split": split,
        "tile": str(tile),
        "source_sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "quantizer": f"onnxruntime {onnxruntime.__version__} quantize_static QDQ, {quant_form.description}",
    }
    settings["form"] = quant_form.name

    with tempfile.TemporaryDirectory(prefix="ibhfn-calibrate-") as work_dir:
        work = Path(work_dir)
        model = prepare(onnx_path, work / "prepared.onnx")
        quantizer = Quantizer(
            work / "prepared.onnx",
            SelectionReader(dataset, selection, tile, progress),
            method,
            work / "ranges.json",
            quant_form,
        )
        defaults = default_float_nodes(model)
        trial = _trial(quantizer, work / "trial.onnx", source, held)
        accuracy, sensitivity, float_nodes = trial(defaults), None, tuple(defaults)
        if not accuracy.meets(targets):
            sensitivity = exclude_until_met(layer_groups(model), defaults, trial, targets)
            accuracy, float_nodes = sensitivity.accuracy, sensitivity.excluded_nodes
        target_met = accuracy.meets(targets)
        excluded_groups = sensitivity.excluded_groups if sensitivity else ()
        metadata = int8_metadata(source, float_nodes, {**settings, "float_groups": ",".join(excluded_groups)})
        written = None
        if target_met:
            with atomic_path(out) as tmp:
                quantizer.write(tmp, float_nodes)
                stamp(tmp, metadata)
            written = out

    result = CalibrationResult(
        path=written,
        report_path=outputs[2],
        selection_path=outputs[1],
        selection=selection,
        metadata=metadata,
        accuracy=accuracy,
        default_float_nodes=tuple(defaults),
        sensitivity=sensitivity,
        targets=targets,
        target_met=target_met,
        seconds=time.perf_counter() - started,
    )
    selection.write(result.selection_path)
    with atomic_path(result.report_path) as tmp:
        tmp.write_text(json.dumps(report_dict(result, onnx_path), indent=2) + "\n")
    return result


def _trial(quantizer: Quantizer, path: Path, source: EngineMetadata, held: list[HeldOutSample]) -> Trial:
    """Quantize with given nodes in float to `path` and measure it on the held-out samples."""

    def run(exclude: Sequence[str]) -> AccuracyReport:
        quantizer.write(path, exclude)
        stamp(path, replace(source, precision="int8", float32_nodes=tuple(exclude)))
        return measure(path, held, source.preprocessing)

    return run


def int8_metadata(source: EngineMetadata, float_nodes: Sequence[str], calibration: dict[str, str]) -> EngineMetadata:
    """The FP32 model's metadata marked INT8, with its float nodes and how it was calibrated."""
    extra = {**source.extra, **{f"calibration.{key}": value for key, value in calibration.items()}}
    return replace(source, precision="int8", float32_nodes=tuple(float_nodes), extra=extra)


def stamp(path: Path, metadata: EngineMetadata) -> None:
    """Rewrite the ONNX at `path` with `metadata` in its metadata_props."""
    model = onnx.load(os.fspath(path))
    set_metadata(model, metadata)
    onnx.save(model, os.fspath(path))


def report_dict(result: CalibrationResult, source: Path) -> dict[str, Any]:
    """The JSON report: settings, selection strata, accuracy, float nodes and the sensitivity pass."""
    return {
        "format": "ibhfn-calibration-report/1",
        "source": source.name,
        "output": result.path.name if result.path else None,
        "output_sha256": hashlib.sha256(result.path.read_bytes()).hexdigest() if result.path else None,
        "calibration": {
            key[len("calibration.") :]: value
            for key, value in result.metadata.extra.items()
            if key.startswith("calibration.")
        },
        "strata": result.selection.strata,
        "targets": {"delta_psnr_db": result.targets.delta_psnr, "delta_sam_deg": result.targets.delta_sam},
        "target_met": result.target_met,
        "accuracy": result.accuracy.to_dict(),
        "float_nodes": {"default": list(result.default_float_nodes), "all": list(result.float_nodes)},
        "sensitivity": result.sensitivity.to_dict() if result.sensitivity else None,
        "seconds": round(result.seconds, 2),
    }
