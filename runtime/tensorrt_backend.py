"""The TensorRT backend (TensorRT 10.x and 11.x): a deserialised plan, fed from page-locked buffers.

Two buffer slots share one execution context and one CUDA stream: while the GPU works on batch k
in one slot, the host copies batch k+1 into the other and enqueues it, then waits on batch k's
event only, so host-side preparation overlaps device work. Enqueues on one stream run in order,
so the slots never race for the context's activation memory. TensorRT is imported only here.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ibhfn.engine_metadata import GATE_OUTPUT_NAME, INPUT_NAMES, OUTPUT_NAME
from ibhfn.errors import DependencyError, ModelError, ShapeError
from ibhfn.runtime.cuda_memory import CudaMemory, open_cuda_memory
from ibhfn.runtime.engine_sidecar import REBUILD_HINT, check_plan_sidecar, read_plan_sidecar

# relative, so that mypy, which checks this folder as `runtime`, sees the Engine class
from .engine import Batch, Engine, check_declared_shapes, no_gate_error, tensor_channels

TENSORRT_HINT = (
    "TensorRT is not installed: on Jetson it comes with JetPack (TensorRT 10.3 in JetPack 6); "
    "on x86-64 `pip install tensorrt --extra-index-url https://pypi.nvidia.com`"
)
TENSOR_NAMES = (*INPUT_NAMES, OUTPUT_NAME)


def import_tensorrt() -> ModuleType:
    """Import the tensorrt module, or raise DependencyError saying how to install it."""
    try:
        return importlib.import_module("tensorrt")
    except ImportError:
        raise DependencyError(TENSORRT_HINT) from None


def _create_runtime(trt: ModuleType, logger: object) -> Any:
    """A TensorRT runtime, or DependencyError when TensorRT cannot start on this machine's GPU."""
    try:
        return trt.Runtime(logger)
    except TypeError:  # the binding's constructor returned nullptr
        raise DependencyError("TensorRT cannot create a runtime: no usable NVIDIA GPU or CUDA driver") from None


@dataclass
class _Slot:
    """Page-locked host and device buffers for one batch of every I/O tensor."""

    host: dict[str, np.ndarray]
    device: dict[str, int]
    done: object  # CUDA event recorded after the slot's output copy
    shape: tuple[int, int, int] = (0, 0, 0)  # batch, height, width of the batch in flight


class TensorRTEngine(Engine):
    """A TensorRT plan on the GPU, with its sidecar checked against this machine first."""

    def __init__(self, path: Path, *, gate: bool = False) -> None:
        trt = import_tensorrt()
        sidecar = read_plan_sidecar(path)
        self._cuda: CudaMemory = open_cuda_memory()
        try:
            gpu_name, capability = self._cuda.gpu()
            check_plan_sidecar(
                path, sidecar, tensorrt_version=trt.__version__, compute_capability=capability, gpu_name=gpu_name
            )
            self._logger = trt.Logger(trt.Logger.WARNING)
            self._runtime = _create_runtime(trt, self._logger)
            if sidecar.version_compatible:  # the plan carries TensorRT's lean runtime: host code to allow
                self._runtime.engine_host_code_allowed = True
            self._engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
            if self._engine is None:
                raise ModelError(f"{path}: TensorRT could not deserialise the plan; {REBUILD_HINT}")
            self._dtypes = self._tensor_dtypes(trt, path)
            check_declared_shapes(
                path,
                sidecar.metadata,  # before buffers are sized by the metadata's bands
                {name: tuple(self._engine.get_tensor_shape(name)) for name in self._dtypes},
            )
            min_shape, max_shape = self._profile_limits()
            tile_size = max_shape[2] if min_shape[2:] == max_shape[2:] else None
            super().__init__(
                path,
                sidecar.metadata,
                backend=f"tensorrt {trt.__version__} ({gpu_name}, {self._cuda.name})",
                tile_size=tile_size,
                max_batch=max_shape[0],
                fixed_batch=True,
                gate=gate,
            )
            if gate and GATE_OUTPUT_NAME not in self._dtypes:
                raise no_gate_error(path)
            self._min_shape, self._max_shape = min_shape, max_shape
            self._context = self._engine.create_execution_context()
            if self._context is None:
                raise ModelError(
                    f"{path}: TensorRT could not create an execution context; free GPU memory, or rebuild the "
                    "plan with a smaller --batch max or --tile"
                )
            self._stream = self._cuda.stream()
            self._slots = [self._allocate_slot() for _ in range(2)]
        except BaseException:
            self._cuda.close()
            raise

    def _tensor_dtypes(self, trt: ModuleType, path: Path) -> dict[str, np.dtype]:
        """The numpy type of each I/O tensor (the gate too, where the plan has it), after checking the tensors."""
        numpy_types: dict[Any, np.dtype] = {
            trt.DataType.FLOAT: np.dtype(np.float32),
            trt.DataType.HALF: np.dtype(np.float16),
        }
        names = {self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)}
        if not set(TENSOR_NAMES) <= names:
            raise ModelError(f"{path}: expected tensors {', '.join(TENSOR_NAMES)}, found {', '.join(sorted(names))}")
        dtypes: dict[str, np.dtype] = {}
        for name in TENSOR_NAMES + ((GATE_OUTPUT_NAME,) if GATE_OUTPUT_NAME in names else ()):
            trt_type = self._engine.get_tensor_dtype(name)
            if trt_type not in numpy_types:
                raise ModelError(f"{path}: tensor {name} is {trt_type}; the runtime feeds float32 or float16")
            expected = trt.TensorIOMode.INPUT if name in INPUT_NAMES else trt.TensorIOMode.OUTPUT
            if self._engine.get_tensor_mode(name) != expected:
                raise ModelError(f"{path}: tensor {name} should be an {expected}")
            dtypes[name] = numpy_types[trt_type]
        return dtypes

    def _profile_limits(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The smallest and largest (N, C, H, W) of `optical` in optimisation profile 0."""
        shape = tuple(self._engine.get_tensor_shape("optical"))
        if all(dim > 0 for dim in shape):
            return shape, shape
        smallest, _, largest = self._engine.get_tensor_profile_shape("optical", 0)
        return tuple(smallest), tuple(largest)

    def _allocate_slot(self) -> _Slot:
        """Buffers for the largest batch of the largest tile the plan takes."""
        batch, _, height, width = self._max_shape
        bands = tensor_channels(self.metadata)
        host, device = {}, {}
        for name in self._dtypes:
            host[name] = self._cuda.host_empty((batch, bands[name], height, width), self._dtypes[name])
            device[name] = self._cuda.device_empty(host[name].nbytes)
        return _Slot(host, device, self._cuda.event())

    def check_tile(self, tile: int) -> None:
        """Also require the tile to lie within the plan's optimisation profile."""
        super().check_tile(tile)
        low, high = self._min_shape[2], self._max_shape[2]
        if not low <= tile <= high:
            raise ShapeError(f"{self.path}: tile {tile} lies outside the plan's profile of {low}..{high} px")

    def close(self) -> None:
        """Free the buffers and the stream, then the TensorRT objects."""
        self._cuda.close()
        self._slots = []
        self._context = None
        self._engine = None

    def _infer_impl(self, sar: np.ndarray, optical: np.ndarray) -> np.ndarray:
        return next(self.infer_batches([(sar, optical)]))

    def infer_batches(self, batches: Iterable[Batch]) -> Iterator[np.ndarray]:
        """Restore batches in order, enqueuing batch k+1 before waiting for batch k."""
        pending: list[_Slot] = []
        for index, (sar, optical) in enumerate(batches):
            self._check_batch(sar, optical)
            pending.append(self._enqueue(self._slots[index % 2], sar, optical))
            if len(pending) == 2:
                yield self._collect(pending.pop(0))
        for slot in pending:
            yield self._collect(slot)

    def _enqueue(self, slot: _Slot, sar: np.ndarray, optical: np.ndarray) -> _Slot:
        """Copy a batch into the slot's page-locked buffers and enqueue upload, inference, download."""
        batch, _, height, width = optical.shape
        for name, array in (("sar", sar), ("optical", optical)):
            view = slot.host[name].reshape(-1)[: array.size].reshape(array.shape)
            np.copyto(view, array, casting="same_kind")
            if not self._context.set_input_shape(name, array.shape):
                raise ShapeError(f"{self.path}: the plan does not take {name} of shape {array.shape}")
            self._context.set_tensor_address(name, slot.device[name])
            self._cuda.copy_to_device(slot.device[name], view, self._stream)
        outputs = [name for name in self._dtypes if name not in INPUT_NAMES]  # restored, and gate where the plan
        for name in outputs:  # has one: TensorRT needs an address for every output, wanted or not
            self.check_output(name, tuple(self._context.get_tensor_shape(name)), optical.shape)
            self._context.set_tensor_address(name, slot.device[name])
        if not self._context.execute_async_v3(self._cuda.stream_handle(self._stream)):
            raise ModelError(f"{self.path}: TensorRT failed to enqueue the batch")
        slot.shape = (batch, height, width)
        for name in (OUTPUT_NAME, GATE_OUTPUT_NAME) if self.gate else (OUTPUT_NAME,):
            self._cuda.copy_to_host(self._output_view(slot, name), slot.device[name], self._stream)
        self._cuda.record(slot.done, self._stream)
        return slot

    def _output_view(self, slot: _Slot, name: str) -> np.ndarray:
        batch, height, width = slot.shape
        shape = (batch, slot.host[name].shape[1], height, width)
        return slot.host[name].reshape(-1)[: int(np.prod(shape))].reshape(shape)

    def _collect(self, slot: _Slot) -> np.ndarray:
        """Wait for the slot's batch only, and return its output (copied: the slot will be reused)."""
        self._cuda.wait(slot.done)
        if self.gate:
            views = [self._output_view(slot, name) for name in (OUTPUT_NAME, GATE_OUTPUT_NAME)]
            return np.concatenate(views, axis=1, dtype=np.float32)
        return self._output_view(slot, OUTPUT_NAME).astype(np.float32, copy=True)
