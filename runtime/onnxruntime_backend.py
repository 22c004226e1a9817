"""The ONNX Runtime backend: the embedded default, on the CPU provider or CUDA when present.

On the CPU it can run several batches at once (`streams`), each on a session of its own with
fewer threads, so that the reader and writer threads delay one batch rather than stalling every
parallel operator of a shared session (measured in docs/benchmarks.md).
"""

from __future__ import annotations

import re
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from ibhfn.engine_metadata import GATE_OUTPUT_NAME, INPUT_NAMES, OUTPUT_NAME, EngineMetadata
from ibhfn.errors import DependencyError, ModelError

# relative, so that mypy, which checks this folder as `runtime`, sees the Engine class
from .engine import BROKEN_ENGINE, Batch, Engine, available_cpus, check_declared_shapes, no_gate_error
from .thread_stdout import captured_stdout

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
_RUN_ERRORS = (*_ORT_ERRORS, ort_state.EPFail, RuntimeError)  # a run through I/O binding raises plain RuntimeError
_OUT_OF_MEMORY = re.compile(r"failed to allocate memory|bad.alloc|out of memory", re.IGNORECASE)
_SOURCE_LOCATION = re.compile(r"\S*onnxruntime_src/\S+:\d+ .*?\) ")  # where in ONNX Runtime's code, and the function


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
    if preload is None:
        return ""
    with captured_stdout() as messages:  # this thread's prints only: a progress display elsewhere prints on
        preload()
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", messages.getvalue()).split())  # without colour codes


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _run_failure(path: Path, exc: Exception, optical_shape: tuple[int, ...]) -> ModelError:
    """The one-line error of a failed run: out of memory (lower --batch or --tile), or a broken engine."""
    reason = _SOURCE_LOCATION.sub("", _first_line(exc).removeprefix("Error in execution: "))
    batch, _, height, width = optical_shape
    tiles = f"{batch} tile{'s' if batch != 1 else ''}"
    where = f"{path}: inference failed on a batch of {tiles} of {height} x {width} px ({reason})"
    if _OUT_OF_MEMORY.search(reason):
        return ModelError(f"{where}; out of memory: lower --batch or --tile")
    return ModelError(f"{where}; {BROKEN_ENGINE}")


def _fixed(dim: object) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


def _session_options(threads: int | None, streams: int) -> ort.SessionOptions:
    """Intra-op threads as given; with several streams and none given, the CPUs shared among them."""
    options = ort.SessionOptions()
    if threads is None and streams > 1:
        threads = max(1, available_cpus() // streams)
    if threads is not None:
        options.intra_op_num_threads = threads
    return options


class OnnxRuntimeEngine(Engine):
    """An ONNX engine on `onnxruntime.InferenceSession`s, fed through I/O binding.

    `streams` > 1 on the CPU provider: that many sessions, batches handed to them in turn.
    """

    def __init__(
        self, path: Path, *, device: str = "auto", threads: int | None = None, streams: int = 1, gate: bool = False
    ) -> None:
        if streams < 1:
            raise ModelError(f"{streams} streams: give at least 1")
        providers = _providers(device)
        preload_messages = _preload_cuda_libraries() if CUDA in providers else ""
        cpu_options = _session_options(threads, streams)
        self._session = self._load(path, _session_options(threads, 1) if CUDA in providers else cpu_options, providers)
        provider = self._session.get_providers()[0]
        if device == "cuda" and provider != CUDA:
            raise DependencyError(
                f"{path}: ONNX Runtime could not start its CUDA provider ({preload_messages or 'see its log above'})"
            )
        if CUDA in providers and provider != CUDA and streams > 1:  # fell back: share the CPUs among the streams
            self._session = self._load(path, cpu_options, [CPU])
        metadata = EngineMetadata.from_props(self._session.get_modelmeta().custom_metadata_map, source=str(path))
        inputs = {arg.name: arg.shape for arg in self._session.get_inputs()}
        outputs = {arg.name: arg.shape for arg in self._session.get_outputs()}
        if set(INPUT_NAMES) - set(inputs) or OUTPUT_NAME not in outputs:
            raise ModelError(
                f"{path}: expected inputs {', '.join(INPUT_NAMES)} and output {OUTPUT_NAME}; "
                f"found inputs {', '.join(inputs)} and outputs {', '.join(outputs)}"
            )
        if gate and GATE_OUTPUT_NAME not in outputs:
            raise no_gate_error(path)
        check_declared_shapes(path, metadata, {**inputs, **outputs})
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
            gate=gate,
        )
        self._output_device = "cuda" if provider == CUDA else "cpu"
        self._run_options = ort.RunOptions()
        self._run_options.log_severity_level = 4  # fatal only: a failed run is the one line raised, not a log too
        if CUDA in providers and provider != CUDA:  # --device auto: fall back, but say so
            self.warnings.append(
                f"{path}: ONNX Runtime's CUDA provider is installed but did not start "
                f"({preload_messages or 'see its log above'}); running on the CPU"
            )
        if streams > 1 and provider == CUDA:
            self.warnings.append(f"{path}: streams are for the CPU; on CUDA one session runs the batches")
            streams = 1
        self._sessions = [self._session] + [self._load(path, cpu_options, [CPU]) for _ in range(streams - 1)]
        self._pool: ThreadPoolExecutor | None = None
        if streams > 1:
            self._pool = ThreadPoolExecutor(streams, thread_name_prefix="ibhfn-onnxruntime")
            self.backend = f"onnxruntime ({provider}, {streams} streams)"

    @staticmethod
    def _load(path: Path, options: ort.SessionOptions, providers: list[str]) -> ort.InferenceSession:
        try:
            with warnings.catch_warnings():  # a provider that did not start is said once, as the engine's warning
                warnings.filterwarnings("ignore", message="Specified provider", category=UserWarning)
                return ort.InferenceSession(str(path), options, providers=providers)
        except _ORT_ERRORS as exc:
            raise ModelError(f"{path}: ONNX Runtime cannot load it ({_first_line(exc)})") from None

    def close(self) -> None:
        """Wait for the streams' threads to end."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def infer_batches(self, batches: Iterable[Batch]) -> Iterator[np.ndarray]:
        """Restore batches in order; with several streams, each session takes the next batch in turn."""
        if self._pool is None:
            yield from super().infer_batches(batches)
            return
        running: deque[Future[np.ndarray]] = deque()
        try:
            for index, (sar, optical) in enumerate(batches):
                self._check_batch(sar, optical)
                session = self._sessions[index % len(self._sessions)]
                running.append(self._pool.submit(self._run, session, sar, optical))
                if len(running) == len(self._sessions):
                    yield self._next_result(running)
            while running:
                yield self._next_result(running)
        finally:  # a caller that stops early or fails leaves no batch running behind it
            wait(running)

    @staticmethod
    def _next_result(running: deque[Future[np.ndarray]]) -> np.ndarray:
        result = running[0].result()  # still in `running` while waited for, so an interrupt waits for it too
        running.popleft()
        return result

    def _infer_impl(self, sar: np.ndarray, optical: np.ndarray) -> np.ndarray:
        return self._run(self._session, sar, optical)

    def _run(self, session: ort.InferenceSession, sar: np.ndarray, optical: np.ndarray) -> np.ndarray:
        names = (OUTPUT_NAME, GATE_OUTPUT_NAME) if self.gate else (OUTPUT_NAME,)
        try:
            binding = session.io_binding()
            binding.bind_cpu_input("sar", np.ascontiguousarray(sar))
            binding.bind_cpu_input("optical", np.ascontiguousarray(optical))
            for name in names:
                binding.bind_output(name, self._output_device)
            session.run_with_iobinding(binding, self._run_options)
            outputs = binding.copy_outputs_to_cpu()
        except _RUN_ERRORS as exc:
            raise _run_failure(self.path, exc, optical.shape) from None
        for name, output in zip(names, outputs):
            self.check_output(name, output.shape, optical.shape)
        if self.gate:
            return np.concatenate(outputs, axis=1, dtype=np.float32)
        restored: np.ndarray = outputs[0].astype(np.float32, copy=False)
        return restored
