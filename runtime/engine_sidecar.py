"""The JSON sidecar beside a TensorRT plan, and whether the plan can run on this machine.

A plan is compiled for one TensorRT version and one GPU architecture, unless it was built
version-compatible (it then runs on that TensorRT release or a later one) or hardware-compatible
(any Ampere or newer GPU). Export writes `<plan>.json` (for `model.plan`, `model.plan.json`)
holding the engine metadata and what the plan was built with; the runtime reads it before
deserialising, so a mismatch gives an actionable message instead of TensorRT's deserialisation
error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ibhfn.engine_metadata import EngineMetadata
from ibhfn.errors import ModelError

REBUILD_HINT = "rebuild the plan from its ONNX on this machine"
AMPERE = (8, 0)  # HardwareCompatibilityLevel.AMPERE_PLUS plans run on this compute capability and later


@dataclass(frozen=True)
class PlanSidecar:
    """What a plan's sidecar says about the plan."""

    metadata: EngineMetadata
    tensorrt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]
    precision: str
    onnx_sha256: str = ""
    profiles: list[dict[str, Any]] = field(default_factory=list)  # one {input name: its shapes} per profile
    tensors: list[Any] | dict[str, Any] = field(default_factory=list)  # as export recorded them
    hardware_compat: bool = False
    version_compatible: bool = False


def sidecar_path(plan: Path) -> Path:
    """The sidecar of `plan`: the plan's file name plus `.json`."""
    return plan.with_name(plan.name + ".json")


def parse_compute_capability(value: object, source: str = "sidecar") -> tuple[int, int]:
    """Read a compute capability written as "8.7" or [8, 7]; `source` names the file in errors."""
    try:
        if isinstance(value, str):
            parts: list[Any] = value.split(".")
        elif isinstance(value, Iterable):
            parts = list(value)
        else:
            raise TypeError(value)
        major, minor = (int(part) for part in parts)
    except (TypeError, ValueError):
        raise ModelError(f"{source}: compute capability {value!r} is not of the form 8.7") from None
    return major, minor


def read_plan_sidecar(plan: Path) -> PlanSidecar:
    """Read and validate the sidecar of `plan`."""
    path = sidecar_path(plan)
    if not path.is_file():
        raise ModelError(f"{plan}: its sidecar {path.name} is missing; export writes both, keep them together")
    try:
        data = json.loads(path.read_text())
        build = data.get("build", {})
        return PlanSidecar(
            metadata=EngineMetadata.from_props(data["metadata"], source=str(path)),
            tensorrt_version=str(data["tensorrt_version"]),
            gpu_name=str(data["gpu_name"]),
            compute_capability=parse_compute_capability(data["compute_capability"], str(path)),
            precision=str(data["precision"]),
            onnx_sha256=str(data.get("onnx_sha256", "")),
            profiles=list(data.get("profiles", [])),
            tensors=data.get("tensors", []),
            hardware_compat=bool(build.get("hardware_compat", False)),
            version_compatible=bool(build.get("version_compatible", False)),
        )
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: cannot read the plan sidecar ({exc})") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise ModelError(f"{path}: plan sidecar is incomplete or malformed (missing {exc})") from None


def _release(version: str) -> tuple[int, ...]:
    """major.minor.patch of a TensorRT version, as numbers: "10.3.0.30" -> (10, 3, 0)."""
    return tuple(int(number) for number in re.findall(r"\d+", version)[:3])


def check_plan_sidecar(
    plan: Path,
    sidecar: PlanSidecar,
    *,
    tensorrt_version: str,
    compute_capability: tuple[int, int],
    gpu_name: str,
) -> None:
    """Raise ModelError unless this TensorRT release and this GPU architecture can run the plan."""
    built_cc = ".".join(map(str, sidecar.compute_capability))
    here_cc = ".".join(map(str, compute_capability))
    built, here = _release(sidecar.tensorrt_version), _release(tensorrt_version)
    problems = []
    if sidecar.version_compatible and here < built:
        problems.append(
            f"TensorRT {sidecar.tensorrt_version} or later (version-compatible), this machine has {tensorrt_version}"
        )
    if not sidecar.version_compatible and here != built:
        problems.append(f"TensorRT {sidecar.tensorrt_version}, this machine has {tensorrt_version}")
    if sidecar.hardware_compat and tuple(compute_capability) < AMPERE:
        problems.append(f"Ampere or newer GPUs (hardware-compatible), this GPU is {here_cc} ({gpu_name})")
    if not sidecar.hardware_compat and sidecar.compute_capability != tuple(compute_capability):
        problems.append(f"compute capability {built_cc} ({sidecar.gpu_name}), this GPU is {here_cc} ({gpu_name})")
    if problems:
        raise ModelError(f"{plan}: built for {'; and for '.join(problems)}: {REBUILD_HINT}")
