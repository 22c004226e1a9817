"""The ONNX Runtime backend: the embedded default, on the CPU provider or CUDA when present."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from ibhfn.engine_metadata import INPUT_NAMES, OUTPUT_NAME, EngineMetadata
from ibhfn.errors import DependencyError, ModelError
from ibhfn.runtime.engine import Engine

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
_ORT_ERRORS = (
    ort_state.Fail,
    ort_state.InvalidArgument,
    ort_state.InvalidGraph,
    ort_state.InvalidProtobuf,
    ort_state.NoSuchFile,
    ort_state.RuntimeException,
)


def _providers(device: str) -> list[str]:
    available = ort.get_available_providers()
    if device == "cuda" and CUDA not in available:
        raise DependencyError(
            "ONNX Runtime has no CUDA provider here: install onnxruntime-gpu, or run with --device cpu"
        )
    return [CUDA, CPU] if device != "cpu" and CUDA in available else [CPU]


def _preload_cuda_libraries() -> str:
    """Load CUDA and cuDNN from pip's nvidia-* packages when present, as onnxruntime-gpu asks; its messages.

    Without this, a CUDA installed by `pip install onnxruntime-gpu[cuda,cudnn]` is found only when
    torch was imported first. ONNX Runtime before 1.21 has no preload: its loader's paths apply.
    """
    preload = getattr(ort, "preload_dlls", None)
    messages = io.StringIO()
    if preload is not None:
        with contextlib.redirect_stdout(messages):
            preload()
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", messages.getvalue()).split())  # without colour codes


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _fixed(dim: object) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


class OnnxRuntimeEngine(Engine):
    """An ONNX engine on an `onnxruntime.InferenceSession`, fed through I/O binding."""

    def __init__(self, path: Path, *, device: str = "auto", threads: int | None = None) -> None:
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        providers = _providers(device)
        preload_messages = _preload_cuda_libraries() if CUDA in providers else ""
        try:
            self._session = ort.InferenceSession(str(path), options, providers=providers)
        except _ORT_ERRORS as exc:
            raise ModelError(f"{path}: ONNX Runtime cannot load it ({_first_line(exc)})") from None
        provider = self._session.get_providers()[0]
        if device == "cuda" and provider != CUDA:
            raise DependencyError(
                f"{path}: ONNX Runtime could not start its CUDA provider ({preload_messages or 'see its log above'})"
            )
        metadata = EngineMetadata.from_props(
            self._session.get_modelmeta().custom_metadata_map, source=str(path)
        )
        inputs = {arg.name: arg.shape for arg in self._session.get_inputs()}
        outputs = [arg.name for arg in self._session.get_outputs()]
        if set(INPUT_NAMES) - set(inputs) or OUTPUT_NAME not in outputs:
            raise ModelError(
                f"{path}: expected inputs {', '.join(INPUT_NAMES)} and output {OUTPUT_NAME}; "
                f"found inputs {', '.join(inputs)} and outputs {', '.join(outputs)}"
            )
        batch, _, height, width = inputs["optical"]
        if (_fixed(height) or _fixed(width)) and height != width:
            raise ModelError(f"{path}: fixed input size {height} x {width} is not a square tile")
        super().__init__(
            path,
            metadata,
            backend=f"onnxruntime ({provider})",
            tile_size=_fixed(height),
            max_batch=_fixed(batch),
            fixed_batch=provider == CUDA,
        )
        self._output_device = "cuda" if provider == CUDA else "cpu"
        if CUDA in providers and provider != CUDA:  # --device auto: fall back, but say so
            self.warnings.append(
                f"{path}: ONNX Runtime's CUDA provider is installed but did not start "
                f"({preload_messages or 'see its log above'}); running on the CPU"
            )

    def _infer_impl(self, sar: np.ndarray, optical: np.ndarray) -> np.ndarray:
        binding = self._session.io_binding()
        binding.bind_cpu_input("sar", np.ascontiguousarray(sar))
        binding.bind_cpu_input("optical", np.ascontiguousarray(optical))
        binding.bind_output(OUTPUT_NAME, self._output_device)
        try:
            self._session.run_with_iobinding(binding)
        except _ORT_ERRORS as exc:
            raise ModelError(f"{self.path}: inference failed ({_first_line(exc)})") from None
        return binding.copy_outputs_to_cpu()[0].astype(np.float32, copy=False)
