"""CUDA memory and streams behind one small interface, on cuda-python or on pycuda.

TensorRT's Python samples use cuda-python (`cuda.bindings`, wheels for x86-64 and aarch64);
JetPack images often carry pycuda. The runtime takes whichever is installed, cuda-python first.
Both work on device 0 of the process (choose the GPU with CUDA_VISIBLE_DEVICES) and in the CUDA
primary context, the one TensorRT uses. Everything allocated through an instance is freed by
`close`.
"""

from __future__ import annotations

import ctypes
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ibhfn.errors import DependencyError, ModelError

INSTALL_HINT = (
    "neither cuda-python nor pycuda is installed: `pip install cuda-python` (or pycuda, as on many JetPack images)"
)


def cuda_error(name: str) -> ModelError:
    """The one-line error for a failed CUDA call, `name` saying what failed."""
    return ModelError(
        f"CUDA error {name}; if the GPU is out of memory, use a plan built with a smaller --batch max or --tile"
    )


class CudaMemory(ABC):
    """Page-locked host buffers, device buffers and streams on one GPU."""

    name: str

    def __enter__(self) -> CudaMemory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @abstractmethod
    def gpu(self) -> tuple[str, tuple[int, int]]:
        """The GPU's name and compute capability (major, minor)."""

    @abstractmethod
    def host_empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A numpy array in page-locked host memory, for asynchronous copies."""

    @abstractmethod
    def device_empty(self, nbytes: int) -> int:
        """Allocate device memory; return its address."""

    @abstractmethod
    def stream(self) -> object:
        """Create a CUDA stream."""

    @abstractmethod
    def stream_handle(self, stream: object) -> int:
        """The stream's raw handle, as TensorRT's `execute_async_v3` takes it."""

    @abstractmethod
    def copy_to_device(self, device: int, host: np.ndarray, stream: object) -> None:
        """Enqueue a copy of `host` (page-locked) to the device address on `stream`."""

    @abstractmethod
    def copy_to_host(self, host: np.ndarray, device: int, stream: object) -> None:
        """Enqueue a copy from the device address into `host` (page-locked) on `stream`."""

    @abstractmethod
    def event(self) -> object:
        """Create a CUDA event."""

    @abstractmethod
    def record(self, event: object, stream: object) -> None:
        """Mark the point reached so far on `stream` with `event`."""

    @abstractmethod
    def wait(self, event: object) -> None:
        """Wait until the work before `event`'s mark has finished, not what was enqueued after it."""

    @abstractmethod
    def close(self) -> None:
        """Free every buffer and stream this instance created."""


class CudaPython(CudaMemory):
    """The interface on NVIDIA's cuda-python runtime bindings."""

    name = "cuda-python"

    def __init__(self) -> None:
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            from cuda import cudart  # cuda-python before 12.6 exposes the runtime here
        try:
            from cuda.bindings.utils import get_cuda_native_handle
        except ImportError:
            get_cuda_native_handle = int  # before 12.9.1 / 13.0, which deprecate int() for this
        self._rt = cudart
        self._native_handle = get_cuda_native_handle
        self._host: list[int] = []
        self._device: list[int] = []
        self._streams: list[object] = []
        self._events: list[object] = []

    def _call(self, result: tuple[Any, ...]) -> Any:
        error, *values = result
        if error != self._rt.cudaError_t.cudaSuccess:
            _, name = self._rt.cudaGetErrorName(error)
            name = name.decode() if isinstance(name, bytes) else name
            raise cuda_error(name)
        return values[0] if len(values) == 1 else None

    def gpu(self) -> tuple[str, tuple[int, int]]:
        props = self._call(self._rt.cudaGetDeviceProperties(0))
        name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
        return name.rstrip("\x00"), (props.major, props.minor)

    def host_empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        address: int = self._call(self._rt.cudaMallocHost(nbytes))
        self._host.append(address)
        buffer = (ctypes.c_byte * nbytes).from_address(address)
        return np.frombuffer(memoryview(buffer), dtype=dtype).reshape(shape)

    def device_empty(self, nbytes: int) -> int:
        address: int = self._call(self._rt.cudaMalloc(nbytes))
        self._device.append(address)
        return address

    def stream(self) -> object:
        stream = self._call(self._rt.cudaStreamCreate())
        self._streams.append(stream)
        return stream

    def stream_handle(self, stream: object) -> int:
        return int(self._native_handle(stream))

    def copy_to_device(self, device: int, host: np.ndarray, stream: object) -> None:
        kind = self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._call(self._rt.cudaMemcpyAsync(device, host.ctypes.data, host.nbytes, kind, stream))

    def copy_to_host(self, host: np.ndarray, device: int, stream: object) -> None:
        kind = self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._call(self._rt.cudaMemcpyAsync(host.ctypes.data, device, host.nbytes, kind, stream))

    def event(self) -> object:
        event = self._call(self._rt.cudaEventCreate())
        self._events.append(event)
        return event

    def record(self, event: object, stream: object) -> None:
        self._call(self._rt.cudaEventRecord(event, stream))

    def wait(self, event: object) -> None:
        self._call(self._rt.cudaEventSynchronize(event))

    def close(self) -> None:
        for stream in self._streams:
            self._rt.cudaStreamSynchronize(stream)
            self._rt.cudaStreamDestroy(stream)
        for event in self._events:
            self._rt.cudaEventDestroy(event)
        for address in self._device:
            self._rt.cudaFree(address)
        for address in self._host:
            self._rt.cudaFreeHost(address)
        self._streams, self._events, self._device, self._host = [], [], [], []


class PyCuda(CudaMemory):
    """The interface on pycuda's driver bindings, in the device's primary context."""

    name = "pycuda"

    def __init__(self) -> None:
        import pycuda.driver as driver

        self._driver = driver
        with self._errors():
            driver.init()
            self._device_handle = driver.Device(0)
            self._context = self._device_handle.retain_primary_context()
            self._context.push()
        self._owned: list[Any] = []  # pycuda's buffers, allocations and streams (pycuda ships no types)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn pycuda's exceptions into the same one-line ModelError as cuda-python's error codes."""
        try:
            yield
        except self._driver.Error as exc:
            raise cuda_error(str(exc)) from None

    def gpu(self) -> tuple[str, tuple[int, int]]:
        return self._device_handle.name(), tuple(self._device_handle.compute_capability())

    def host_empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        with self._errors():
            array: np.ndarray = self._driver.pagelocked_empty(shape, dtype)
        self._owned.append(array.base)
        return array

    def device_empty(self, nbytes: int) -> int:
        with self._errors():
            allocation = self._driver.mem_alloc(nbytes)
        self._owned.append(allocation)
        return int(allocation)

    def stream(self) -> object:
        with self._errors():
            stream = self._driver.Stream()
        self._owned.append(stream)
        return stream

    def stream_handle(self, stream: Any) -> int:
        return int(stream.handle)

    def copy_to_device(self, device: int, host: np.ndarray, stream: object) -> None:
        with self._errors():
            self._driver.memcpy_htod_async(device, host, stream)

    def copy_to_host(self, host: np.ndarray, device: int, stream: object) -> None:
        with self._errors():
            self._driver.memcpy_dtoh_async(host, device, stream)

    def event(self) -> object:
        with self._errors():
            return self._driver.Event()

    def record(self, event: Any, stream: object) -> None:
        with self._errors():
            event.record(stream)

    def wait(self, event: Any) -> None:
        with self._errors():
            event.synchronize()

    def close(self) -> None:
        if self._context is None:
            return
        for item in reversed(self._owned):
            if isinstance(item, self._driver.Stream):
                item.synchronize()
            else:
                item.free()
        self._owned = []
        self._context.pop()
        self._context = None


def open_cuda_memory() -> CudaMemory:
    """The interface on cuda-python when it is installed, else on pycuda; DependencyError if neither."""
    try:
        return CudaPython()
    except ImportError:
        pass
    try:
        return PyCuda()
    except ImportError:
        raise DependencyError(INSTALL_HINT) from None
