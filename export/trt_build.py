"""`build_engine`: a TensorRT plan from an exported ONNX, with the sidecar the runtime checks.

Precision is decided in the ONNX (FP32, FP16 with FP32 islands, or the QDQ INT8 model from
ibhfn-calibrate); this layer only builds it. TensorRT 10 builds a strongly typed network
(`NetworkDefinitionCreationFlag.STRONGLY_TYPED`); TensorRT 11 builds every network strongly typed
and has deprecated that flag, so none is passed. TensorRT 8.x (JetPack 5) has no strongly typed
mode: the FP16 / INT8 builder flags are set and the ONNX's FP32 islands (metadata `float32_nodes`)
are pinned to FP32 with `OBEY_PRECISION_CONSTRAINTS`; TensorRT 11 has removed the weak-typing APIs,
these builder flags among them. TensorRT is imported only when a plan is built.

The argument checks, the profile and the sidecar content are plain functions, tested without
TensorRT; `build_engine` itself needs TensorRT and an NVIDIA GPU.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import onnx

from ibhfn.atomic import atomic_path, refuse_overwriting
from ibhfn.engine_metadata import EngineMetadata
from ibhfn.errors import DependencyError, ModelError
from ibhfn.export.onnx_metadata import read_metadata
from ibhfn.export.trt_profiles import DEFAULT_BATCH, DEFAULT_TILE, TensorProfile, derive_profile
from ibhfn.hashing import file_sha256
from ibhfn.runtime.engine_sidecar import AMPERE, PlanSidecar, sidecar_path
from ibhfn.runtime.tensorrt_backend import import_tensorrt

if TYPE_CHECKING:  # the exporter imports torch, which a plan built from an existing ONNX never needs
    from ibhfn.export.onnx_export import ExportReport

PLAN_PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class BuildRequest:
    """A checked request to build a plan: the ONNX, what it says about itself, and the profile."""

    onnx_path: Path
    metadata: EngineMetadata
    precision: str
    profiles: list[TensorProfile]
    onnx_sha256: str


def check_build_request(
    onnx_path: str | os.PathLike[str],
    *,
    precision: str | None = None,
    tile: int = DEFAULT_TILE,
    batch: tuple[int, int, int] = DEFAULT_BATCH,
) -> BuildRequest:
    """Check the ONNX and the arguments before any TensorRT work; `precision` None takes the ONNX's."""
    path = Path(onnx_path)
    metadata = read_metadata(path)
    precision = precision or metadata.precision
    if precision not in PLAN_PRECISIONS:
        raise ModelError(f"precision {precision!r} is not one of {', '.join(PLAN_PRECISIONS)}")
    if precision != metadata.precision:
        if precision == "int8":
            raise ModelError(
                f"{path}: an INT8 plan needs the QDQ ONNX written by ibhfn-calibrate; this ONNX is {metadata.precision}"
            )
        raise ModelError(
            f"{path}: is an {metadata.precision} ONNX and precision lives in the ONNX; export it with "
            f"`ibhfn-export onnx --precision {precision}` or build with --precision {metadata.precision}"
        )
    if metadata.extra.get("calibration.form") == "cpu":
        raise ModelError(
            f"{path}: is the CPU form of INT8 (UINT8 activations with zero points), which TensorRT cannot build; "
            "calibrate the FP32 export again with `ibhfn-calibrate --form tensorrt`"
        )
    model = onnx.load(os.fspath(path), load_external_data=False)
    static = {
        value.name: tuple(d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim)
        for value in model.graph.input
    }
    profiles = derive_profile(metadata, tile=tile, batch=batch, static_inputs=static)
    return BuildRequest(path, metadata, precision, profiles, file_sha256(path))


def plan_sidecar(
    request: BuildRequest,
    *,
    tensorrt_version: str,
    gpu_name: str,
    compute_capability: tuple[int, int],
    tensors: list[dict[str, Any]],
    hardware_compat: bool = False,
    version_compatible: bool = False,
) -> PlanSidecar:
    """The runtime's sidecar record for a plan built from `request` on this GPU."""
    return PlanSidecar(
        metadata=request.metadata,
        tensorrt_version=tensorrt_version,
        gpu_name=gpu_name,
        compute_capability=(compute_capability[0], compute_capability[1]),
        precision=request.precision,
        onnx_sha256=request.onnx_sha256,
        profiles=[{p.name: p.to_dict() for p in request.profiles}],
        tensors=tensors,
        hardware_compat=hardware_compat,
        version_compatible=version_compatible,
    )


def sidecar_json(sidecar: PlanSidecar, **build_facts: object) -> dict[str, Any]:
    """The JSON `ibhfn.runtime.engine_sidecar.read_plan_sidecar` reads, plus how the plan was built."""
    return {
        "metadata": sidecar.metadata.to_props(),
        "tensorrt_version": sidecar.tensorrt_version,
        "gpu_name": sidecar.gpu_name,
        "compute_capability": ".".join(map(str, sidecar.compute_capability)),
        "precision": sidecar.precision,
        "onnx_sha256": sidecar.onnx_sha256,
        "profiles": sidecar.profiles,
        "tensors": sidecar.tensors,
        "build": {
            "hardware_compat": sidecar.hardware_compat,
            "version_compatible": sidecar.version_compatible,
            **build_facts,
        },
    }


def write_sidecar(plan: Path, sidecar: PlanSidecar, **build_facts: object) -> Path:
    """Write `<plan>.json` atomically; return its path."""
    path: Path = sidecar_path(plan)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(sidecar_json(sidecar, **build_facts), indent=2) + "\n")
    return path


def build_engine(
    onnx_path: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    *,
    precision: str | None = None,
    tile: int = DEFAULT_TILE,
    batch: tuple[int, int, int] = DEFAULT_BATCH,
    workspace_gb: float | None = None,
    timing_cache: str | os.PathLike[str] | None = None,
    hardware_compat: bool = False,
    version_compatible: bool = False,
    on_export: Callable[[ExportReport], None] | None = None,
) -> Path:
    """Build and write a TensorRT plan and its sidecar `<plan>.json`; return the plan's path.

    `onnx_path` None exports the bundled model to `<out>.onnx` first (FP32 or FP16, never INT8, whose
    QDQ ONNX only ibhfn-calibrate writes) and hands its report to `on_export`. A plan is never written
    over the ONNX or timing cache it comes from; these checks, and TensorRT's presence, come before
    any export.
    """
    out = Path(out)
    source = out.with_suffix(".onnx") if onnx_path is None else Path(onnx_path)
    refuse_overwriting(out, source, *([] if timing_cache is None else [timing_cache]))
    if onnx_path is None:
        if precision == "int8":
            raise ModelError("an INT8 plan needs the QDQ ONNX: write it with ibhfn-calibrate and pass it with --onnx")
        import_tensorrt()  # before a minute of export for a plan that could not be built
        from ibhfn.export.onnx_export import export_onnx  # imports torch: only when there is no ONNX yet

        report = export_onnx(None, source, precision=precision or "fp32")
        if on_export is not None:
            on_export(report)
    request = check_build_request(source, precision=precision, tile=tile, batch=batch)
    if workspace_gb is not None and workspace_gb <= 0:
        raise ModelError(f"workspace {workspace_gb} GB must be positive")
    trt = import_tensorrt()
    gpu_name, capability = _gpu()
    _check_compatibility_flags(trt, hardware_compat, version_compatible, gpu_name, capability)
    logger = trt.Logger(trt.Logger.WARNING)
    try:
        builder = trt.Builder(logger)
    except TypeError:  # the binding's constructor returned nullptr
        raise DependencyError("TensorRT cannot create a builder: no usable NVIDIA GPU or CUDA driver") from None
    flags, strongly_typed = _network_flags(trt)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(request.onnx_path.read_bytes(), str(request.onnx_path)):
        raise ModelError(f"{request.onnx_path}: TensorRT cannot parse it: {_parser_errors(parser)}")

    config = builder.create_builder_config()
    if workspace_gb is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    if not strongly_typed:
        _pin_precision(trt, network, config, request.precision, request.metadata.float32_nodes)
    profile = builder.create_optimization_profile()
    for entry in request.profiles:
        profile.set_shape(entry.name, entry.min, entry.opt, entry.max)
    config.add_optimization_profile(profile)
    cache_path = Path(timing_cache) if timing_cache is not None else None
    cache: Any = _attach_timing_cache(config, cache_path) if cache_path is not None else None
    if hardware_compat:
        config.hardware_compatibility_level = trt.HardwareCompatibilityLevel.AMPERE_PLUS
    if version_compatible:
        config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)

    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise ModelError(f"{request.onnx_path}: TensorRT failed to build the plan; see its log above")
    with atomic_path(out) as tmp:
        tmp.write_bytes(bytes(plan))
    if cache_path is not None:
        with atomic_path(cache_path) as tmp:
            tmp.write_bytes(bytes(cache.serialize()))
    sidecar = plan_sidecar(
        request,
        tensorrt_version=trt.__version__,
        gpu_name=gpu_name,
        compute_capability=capability,
        tensors=_network_tensors(network),
        hardware_compat=hardware_compat,
        version_compatible=version_compatible,
    )
    write_sidecar(
        out,
        sidecar,
        strongly_typed=strongly_typed,
        tile=tile,
        batch=list(batch),
        workspace_gb=workspace_gb,
        source_onnx=request.onnx_path.name,
    )
    return out


def _gpu() -> tuple[str, tuple[int, int]]:
    """The name and compute capability of GPU 0, through the runtime's CUDA bindings."""
    from ibhfn.runtime.cuda_memory import open_cuda_memory

    with open_cuda_memory() as cuda:
        gpu: tuple[str, tuple[int, int]] = cuda.gpu()
        return gpu


def _check_compatibility_flags(
    trt: ModuleType, hardware_compat: bool, version_compatible: bool, gpu_name: str, capability: tuple[int, int]
) -> None:
    """Refuse --hardware-compat / --version-compatible where this TensorRT or this GPU cannot build them."""
    if (hardware_compat or version_compatible) and not hasattr(trt, "HardwareCompatibilityLevel"):
        raise ModelError(
            f"--hardware-compat and --version-compatible need TensorRT 8.6 or later; this is {trt.__version__}"
        )
    if hardware_compat and tuple(capability) < AMPERE:
        here = ".".join(map(str, capability))
        raise ModelError(f"--hardware-compat builds for Ampere and newer GPUs; this GPU is {here} ({gpu_name})")


def _network_flags(trt: ModuleType) -> tuple[int, bool]:
    """The create_network flags for this TensorRT, and whether the network they make is strongly typed."""
    kinds = trt.NetworkDefinitionCreationFlag
    if int(trt.__version__.split(".")[0]) >= 11:  # always strongly typed; STRONGLY_TYPED is deprecated, ignored
        return 0, True
    if hasattr(kinds, "STRONGLY_TYPED"):  # TensorRT 10 (and 9)
        return 1 << int(kinds.STRONGLY_TYPED), True
    return 1 << int(kinds.EXPLICIT_BATCH), False  # TensorRT 8.x: the ONNX parser requires explicit batch


def _attach_timing_cache(config: Any, path: Path) -> Any:
    """Attach the timing cache stored at `path`, or a new one if there is none or TensorRT rejects it; return it.

    TensorRT's objects here (and in the helpers below) are typed Any: TensorRT ships no type information.
    """
    # TensorRT rejects a cache written by another TensorRT release or GPU: start afresh, overwrite the file after.
    cache = config.create_timing_cache(path.read_bytes() if path.is_file() else b"")
    if cache is None or not config.set_timing_cache(cache, False):
        cache = config.create_timing_cache(b"")
        config.set_timing_cache(cache, False)
    return cache


def _parser_errors(parser: Any) -> str:
    """Every ONNX parser error on one line, each with the node it concerns."""
    messages = []
    for index in range(parser.num_errors):
        error = parser.get_error(index)
        if error.node() < 0:  # an error about the whole model, not one node
            messages.append(error.desc())
            continue
        where = f"node {error.node()}"
        if hasattr(error, "node_name"):  # TensorRT 10 and later name the node and its operator
            where += f" ({error.node_name()}, {error.node_operator()})"
        messages.append(f"{where}: {error.desc()}")
    return "; ".join(messages) or "no error reported"


def _pin_precision(trt: ModuleType, network: Any, config: Any, precision: str, float32_nodes: tuple[str, ...]) -> None:
    """TensorRT 8.x: allow FP16 (and INT8) kernels, and keep the ONNX's FP32 islands in FP32."""
    if precision == "fp32":
        return
    config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
    config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        if any(layer.name == node or layer.name.startswith(f"{node}_") for node in float32_nodes):
            layer.precision = trt.float32
            for output in range(layer.num_outputs):
                layer.set_output_type(output, trt.float32)


def _network_tensors(network: Any) -> list[dict[str, Any]]:
    """Name, direction, type and (symbolic -1) shape of every network input and output."""
    tensors = []
    for mode, count, get in (
        ("input", network.num_inputs, network.get_input),
        ("output", network.num_outputs, network.get_output),
    ):
        for index in range(count):
            tensor = get(index)
            tensors.append({"name": tensor.name, "mode": mode, "dtype": str(tensor.dtype), "shape": list(tensor.shape)})
    return tensors
