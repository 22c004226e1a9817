"""One command from a checkpoint to a verified deployment bundle (`ibhfn-deploy`), as MMDeploy's deploy.py does.

Export the FP32 ONNX (the reference), make the engine of the asked precision (FP16 ONNX, or QDQ INT8
calibrated on the data), build its TensorRT plan where TensorRT is installed (and say so where it is
not), verify the engine against the FP32 reference on the data, and write one folder: the models
with their sidecars, the verify report, `bundle.json` (every file with its SHA-256) and a short
model card. The bundle is built under a temporary name beside OUT and renamed when complete.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibhfn
from ibhfn.atomic import PARTIAL
from ibhfn.errors import DependencyError, InputError, ModelError
from ibhfn.hashing import file_sha256

if TYPE_CHECKING:  # torch, onnx and the quantizer load only when a bundle is made
    from ibhfn.calibration.calibrate import CalibrationResult
    from ibhfn.export.onnx_export import ExportReport
    from ibhfn.verify.runner import Verification

DEPLOY_PRECISIONS = ("fp16", "int8")
BUNDLE_FORMAT = "ibhfn-bundle/1"
REFERENCE = "model.onnx"  # the FP32 ONNX every engine of the bundle is verified against
VERIFY_FOLDER = "verify"


@dataclass
class Bundle:
    """What `deploy` wrote: the folder, the engine that was verified, the plan (or why none), the verdict."""

    folder: Path
    engine: Path
    plan: Path | None
    plan_note: str
    passed: bool
    verdict: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def tensorrt_available() -> bool:
    """Whether TensorRT's Python bindings are installed."""
    return importlib.util.find_spec("tensorrt") is not None


def deploy(
    checkpoint: Path | None,
    precision: str,
    data: Path,
    out: Path,
    *,
    samples: int = 32,
    calibration_samples: int = 128,
    tile: int = 256,
    split: str = "val",
    device: str = "auto",
) -> Bundle:
    """Export, calibrate (INT8), build (where TensorRT is), verify on `data`, and write the bundle folder `out`."""
    started = time.perf_counter()
    if precision not in DEPLOY_PRECISIONS:
        raise InputError(f"precision {precision!r}: choose one of {', '.join(DEPLOY_PRECISIONS)}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out}: exists and is not an empty folder; give a new folder for the bundle")
    if not Path(data).is_dir():
        raise InputError(f"{data}: no such folder; give the SEN12MS-CR root (or a synthetic tree) to verify on")
    try:
        from ibhfn.export.onnx_export import export_onnx
    except ImportError as exc:
        raise DependencyError(f"exporting a checkpoint needs {exc.name}; pip install 'ibhfn[export]'") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.with_name(f".{out.name}{PARTIAL}{os.getpid()}.{secrets.token_hex(4)}")
    work.mkdir()
    try:
        reference = export_onnx(checkpoint, work / REFERENCE, precision="fp32")
        calibration = None
        if precision == "fp16":
            with warnings.catch_warnings():  # weights below FP16's range, rounded: the FP16-vs-FP32 parity judges
                warnings.filterwarnings(
                    "ignore", "the float32 number .* will be truncated", UserWarning, r"onnxconverter_common\.float16$"
                )
                engine = export_onnx(checkpoint, work / "model.fp16.onnx", precision="fp16").path
        else:
            engine, calibration = _calibrate(
                work / REFERENCE, data, work / "model.int8.onnx", calibration_samples, tile
            )
        plan, plan_note = _plan(engine, precision, tile)
        verified = plan or engine
        verification = _verify(verified, work / REFERENCE, data, split, samples, device, work / VERIFY_FOLDER)
        bundle = Bundle(
            out,
            out / verified.name,
            None if plan is None else out / plan.name,
            plan_note,
            verification.verdict.passed,
            verification.verdict.message,
            [
                {"name": c.name, "value": c.value, "limit": c.limit, "op": c.op, "passed": c.passed}
                for c in verification.verdict.checks
            ],
        )
        bundle.seconds = time.perf_counter() - started
        _write_card(work, bundle, reference, precision, calibration, data, split, verification.summary.n_samples)
        _write_manifest(work, bundle, precision)
        os.replace(work, out)  # onto nothing, or onto an empty folder
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return bundle


def _calibrate(fp32: Path, data: Path, target: Path, samples: int, tile: int) -> tuple[Path, CalibrationResult]:
    """The QDQ INT8 model calibrated on `data` (ibhfn.calibration), or VerificationFailed when it misses its targets."""
    try:
        from ibhfn.calibration.calibrate import calibrate
    except ImportError as exc:
        raise DependencyError(f"INT8 calibration needs {exc.name}; pip install 'ibhfn[calibrate]'") from None
    result = calibrate(fp32, data, target, samples=samples, tile=tile, holdout=min(32, samples))
    if result.path is None:
        raise ModelError(
            f"{target}: INT8 misses its accuracy targets (delta PSNR {result.accuracy.delta_psnr:.3f} "
            f"dB, delta SAM {result.accuracy.delta_sam:.3f} deg); see {result.report_path.name}, or "
            "deploy --precision fp16"
        )
    return result.path, result


def _plan(engine: Path, precision: str, tile: int) -> tuple[Path | None, str]:
    """The TensorRT plan built from `engine` where TensorRT is installed, else None and the command to build it."""
    command = f"ibhfn-export trt --onnx {engine.name} --precision {precision} --tile {tile} --out model.plan"
    if not tensorrt_available():
        return None, f"TensorRT is not installed here: no plan was built; on the target device run: {command}"
    from ibhfn.export.trt_build import build_engine

    plan = build_engine(engine, engine.with_name("model.plan"), precision=precision, tile=tile)
    return plan, f"built with TensorRT here ({command}); a plan runs only on the GPU and TensorRT it was built with"


def _verify(
    engine: Path, reference: Path, data: Path, split: str, samples: int, device: str, folder: Path
) -> Verification:
    """The engine against the FP32 reference on `samples` patches of `data`, with its report written to `folder`."""
    from ibhfn.verify.engine_pair import open_engine_pair
    from ibhfn.verify.runner import verify_dataset
    from ibhfn.verify.thresholds import thresholds_for

    with open_engine_pair(engine, reference, device=device) as pair:
        result = verify_dataset(
            pair, data, split=split, count=samples, thresholds=thresholds_for(pair.engine.metadata.precision)
        )
    folder.mkdir()
    if importlib.util.find_spec("matplotlib") is not None:
        from ibhfn.verify.report import write_report

        write_report(result.summary, result.verdict, folder, meta=result.meta)
    else:  # the JSON alone: the HTML's figures need matplotlib (pip install 'ibhfn[verify]')
        from ibhfn.verify.report import JSON_NAME, report_dict

        (folder / JSON_NAME).write_text(
            json.dumps(report_dict(result.summary, result.verdict, meta=result.meta), indent=1, allow_nan=False) + "\n",
            encoding="utf-8",
        )
    return result


def _write_card(
    work: Path,
    bundle: Bundle,
    reference: ExportReport,
    precision: str,
    calibration: CalibrationResult | None,
    data: Path,
    split: str,
    samples: int,
) -> None:
    """MODEL_CARD.md: what the bundle holds, how it was made and verified, and how to run it."""
    meta = reference.metadata
    checks = "\n".join(
        f"| {c['name']} | {c['value']:.4g} | {c['op']} {c['limit']:.4g} | {'pass' if c['passed'] else 'FAIL'} |"
        for c in bundle.checks
    )
    calibrated = (
        ""
        if calibration is None
        else (
            f"\nINT8: QDQ, calibrated on stratified patches of the train split of {data}; on held-out val patches "
            f"delta PSNR {calibration.accuracy.delta_psnr:.3f} dB, delta SAM {calibration.accuracy.delta_sam:.3f} deg "
            "against FP32.\n"
        )
    )
    card = f"""# Model card: IB-HFN {meta.preset} ({precision})

SAR-assisted cloud removal for Sentinel-2 (13 bands, DN = reflectance x 10000) with Sentinel-1 (VV, VH in dB).

| | |
|---|---|
| source | {reference.source} |
| architecture | {meta.arch} {meta.preset}; H and W multiples of {meta.size_multiple} |
| engine | `{bundle.engine.name}` ({precision}) |
| reference | `{REFERENCE}` (FP32, SHA-256 {reference.onnx_sha256[:16]}...) |
| TensorRT plan | {"`" + bundle.plan.name + "`" if bundle.plan else "none"}: {bundle.plan_note} |
| made by | ibhfn {ibhfn.__version__} (`ibhfn-deploy`) in {bundle.seconds:.0f} s |
{calibrated}
## Verification: {"PASSED" if bundle.passed else "FAILED"}

`{bundle.engine.name}` against `{REFERENCE}` on {samples} patches of the {split} split of {data}
({VERIFY_FOLDER}/verify_report.json): {bundle.verdict}

| check | value | limit | |
|---|---|---|---|
{checks}

## Run

```
ibhfn-run --engine {bundle.engine.name} IN/ OUT/
ibhfn-verify --engine {bundle.engine.name} --reference {REFERENCE} --data ROOT
```

Limits: trained and verified on SEN12MS-CR-like data; scores on other sensors, seasons or processing
baselines are not measured here. Verification compares the engine with its FP32 reference, not with
the ground truth.
"""
    (work / "MODEL_CARD.md").write_text(card, encoding="utf-8")


def _write_manifest(work: Path, bundle: Bundle, precision: str) -> None:
    """bundle.json: the bundle's format, verdict and every file with its size and SHA-256."""
    files = {
        path.relative_to(work).as_posix(): {"size_bytes": path.stat().st_size, "sha256": file_sha256(path)}
        for path in sorted(work.rglob("*"))
        if path.is_file()
    }
    document = {
        "format": BUNDLE_FORMAT,
        "ibhfn": ibhfn.__version__,
        "precision": precision,
        "engine": bundle.engine.name,
        "reference": REFERENCE,
        "plan": None if bundle.plan is None else bundle.plan.name,
        "plan_note": bundle.plan_note,
        "verify": {"passed": bundle.passed, "verdict": bundle.verdict, "checks": bundle.checks},
        "files": files,
    }
    (work / "bundle.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
