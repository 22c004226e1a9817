"""One interface over the inference backends, and the choice of backend by the engine file.

`.onnx` runs on ONNX Runtime (CPU by default, CUDA when present), `.plan` / `.engine` on TensorRT.
With no file, the bundled model's ONNX runs on ONNX Runtime. Engines are context managers in the
Polygraphy manner: public `infer` checks the batch and calls the backend's `_infer_impl`.
Backends are imported only when chosen, so `import ibhfn.runtime` stays light and torch-free.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from ibhfn.bundled import BUNDLED_ONNX, bundled_file
from ibhfn.engine_metadata import GATE_OUTPUT_NAME, OUTPUT_NAME, EngineMetadata
from ibhfn.errors import ModelError, ShapeError
from ibhfn.hashing import file_sha256

ENGINE_SUFFIXES: dict[str, str] = {".onnx": "onnxruntime", ".plan": "tensorrt", ".engine": "tensorrt"}
DEVICES = ("auto", "cpu", "cuda")

Batch = tuple[np.ndarray, np.ndarray]
BROKEN_ENGINE = "the engine is broken: export it again with `ibhfn-export onnx` (and build any plan from that ONNX)"


class Engine(ABC):
    """A loaded engine: float32 (N, C, h, w) `sar` and `optical` batches in, `restored` out.

    Opened with `gate`, it also returns the network's clear-sky gate G, as one more channel.
    """

    def __init__(
        self,
        path: Path,
        metadata: EngineMetadata,
        *,
        backend: str,
        tile_size: int | None = None,
        max_batch: int | None = None,
        fixed_batch: bool = False,
        gate: bool = False,
    ) -> None:
        check_metadata(path, metadata)
        self.path = path
        self.metadata = metadata
        self.backend = backend  # what runs it, for messages and scene records
        self.gate = gate  # whether results carry the gate as channel len(s2_bands)
        self.tile_size = tile_size  # fixed by a static engine, else None
        self.max_batch = max_batch  # the largest batch the engine takes, None when unbounded
        # True on a GPU, where a call whose batch size differs from the last one costs a new plan
        # (ONNX Runtime's cuDNN search, docs/benchmarks.md): callers pad partial batches.
        self.fixed_batch = fixed_batch
        self.warnings: list[str] = []  # what the user should know about how it runs, said once

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 - a hook, not abstract: a backend that holds nothing keeps this no-op
        """Release the backend's resources."""

    @cached_property
    def sha256(self) -> str:
        """SHA-256 of the engine file, recorded beside every scene it restores."""
        return file_sha256(self.path)

    def check_tile(self, tile: int) -> None:
        """Raise ShapeError unless the engine takes square tiles of `tile` pixels."""
        multiple = self.metadata.size_multiple
        if self.tile_size is not None and tile != self.tile_size:
            raise ShapeError(f"{self.path}: the engine takes {self.tile_size} px tiles only, not {tile}")
        if tile % multiple:
            raise ShapeError(f"tile size {tile} is not a multiple of the engine's size multiple {multiple}")

    def infer(self, sar: np.ndarray, optical: np.ndarray) -> np.ndarray:
        """Restore one batch: (N, 2, h, w) and (N, 13, h, w) float32 in, (N, 13, h, w) float32 out.

        With `gate`, (N, 14, h, w): the gate follows the restored bands. The result is a new array,
        never a view of the inputs: callers fill those again afterwards.
        """
        self._check_batch(sar, optical)
        restored = self._infer_impl(sar, optical)
        expected = _output_shape(optical.shape, len(self.metadata.s2_bands) + self.gate)
        if restored.shape != expected:
            raise self._output_error("its result", restored.shape, optical.shape, expected)
        return restored

    def infer_batches(self, batches: Iterable[Batch]) -> Iterator[np.ndarray]:
        """Restore a stream of batches in order; backends that can overlap batches override this.

        A batch's input arrays are the engine's until its result is yielded, then the caller's again.
        """
        for sar, optical in batches:
            yield self.infer(sar, optical)

    def check_output(self, name: str, shape: Sequence[int], optical_shape: Sequence[int]) -> None:
        """Raise ModelError unless output `name` of a batch of `optical_shape` has the batch's size and its bands."""
        expected = _output_shape(optical_shape, tensor_channels(self.metadata)[name])
        if tuple(shape) != expected:
            raise self._output_error(f"its output {name}", shape, optical_shape, expected)

    def _output_error(
        self, what: str, shape: Sequence[int], optical_shape: Sequence[int], expected: Sequence[int]
    ) -> ModelError:
        return ModelError(
            f"{self.path}: {what} is {_dims(shape)} for an optical batch of {_dims(optical_shape)}, "
            f"not {_dims(expected)}; {BROKEN_ENGINE}"
        )

    @abstractmethod
    def _infer_impl(self, sar: np.ndarray, optical: np.ndarray) -> np.ndarray:
        """Run one checked batch on the backend."""

    def _check_batch(self, sar: np.ndarray, optical: np.ndarray) -> None:
        meta = self.metadata
        for name, array, bands in (("sar", sar, meta.s1_bands), ("optical", optical, meta.s2_bands)):
            if array.dtype != np.float32 or array.ndim != 4 or array.shape[1] != len(bands):
                raise ShapeError(f"{name} must be float32 (N, {len(bands)}, H, W), got {array.dtype} {array.shape}")
        if sar.shape[0] != optical.shape[0] or sar.shape[2:] != optical.shape[2:]:
            raise ShapeError(f"sar {sar.shape} and optical {optical.shape} differ in batch or size")
        height, width = optical.shape[2:]
        if height % meta.size_multiple or width % meta.size_multiple:
            raise ShapeError(f"tile {height} x {width} is not a multiple of {meta.size_multiple}")
        if self.max_batch is not None and optical.shape[0] > self.max_batch:
            raise ShapeError(f"batch of {optical.shape[0]} exceeds the engine's maximum {self.max_batch}")


def _dims(shape: Sequence[object]) -> str:
    return " x ".join(str(dim) for dim in shape)


def _output_shape(optical_shape: Sequence[int], channels: int) -> tuple[int, ...]:
    batch, _, height, width = optical_shape
    return batch, channels, height, width


def tensor_channels(metadata: EngineMetadata) -> dict[str, int]:
    """The channels of each input and output tensor of an engine with `metadata`."""
    return {
        "sar": len(metadata.s1_bands),
        "optical": len(metadata.s2_bands),
        OUTPUT_NAME: len(metadata.s2_bands),
        GATE_OUTPUT_NAME: 1,
    }


def check_metadata(path: Path, metadata: EngineMetadata) -> None:
    """Raise ModelError, naming the engine file, if its metadata cannot describe a network the runtime can run."""
    if metadata.size_multiple < 1:
        raise ModelError(
            f"{path}: its metadata give size_multiple {metadata.size_multiple}, not a whole number of "
            f"pixels of at least 1; {BROKEN_ENGINE}"
        )
    for name, bands in (("S1", metadata.s1_bands), ("S2", metadata.s2_bands)):
        if not bands:
            raise ModelError(f"{path}: its metadata name no {name} bands; {BROKEN_ENGINE}")


def check_declared_shapes(path: Path, metadata: EngineMetadata, shapes: Mapping[str, Sequence[object]]) -> None:
    """Raise ModelError unless the tensors' declared (N, C, H, W) fit `metadata`; unknown sizes are not judged.

    A size is known when it is a positive int (not a symbolic name, None or -1): channels must be the
    metadata's bands, an output's height and width the inputs'.
    """
    check_metadata(path, metadata)
    known = {
        name: [dim if isinstance(dim, int) and dim > 0 else None for dim in shape] for name, shape in shapes.items()
    }
    for name, channels in tensor_channels(metadata).items():
        shape = known.get(name)
        if shape is None:
            continue
        if len(shape) != 4:
            raise ModelError(f"{path}: {name} has {len(shape)} dimensions, not 4 (N, C, H, W); {BROKEN_ENGINE}")
        if shape[1] not in (None, channels):
            raise ModelError(
                f"{path}: {name} has {shape[1]} channels, but its metadata name {channels} bands; {BROKEN_ENGINE}"
            )
    size = known["optical"][2:]
    for name in (OUTPUT_NAME, GATE_OUTPUT_NAME):
        if name in known and any(None not in pair and pair[0] != pair[1] for pair in zip(known[name][2:], size)):
            raise ModelError(
                f"{path}: {name} is {_dims(shapes[name][2:])} px for inputs of "
                f"{_dims(shapes['optical'][2:])} px; {BROKEN_ENGINE}"
            )


def available_cpus() -> int:
    """CPUs this process may run on (its affinity, which containers and `taskset` narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def backend_for(path: Path) -> str:
    """Name the backend that runs an engine file, by its suffix."""
    try:
        return ENGINE_SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise ModelError(f"{path}: unknown engine type; expected one of {', '.join(ENGINE_SUFFIXES)}") from None


def open_engine(
    path: Path | None = None, *, device: str = "auto", threads: int | None = None, streams: int = 1, gate: bool = False
) -> Engine:
    """Load an engine file (the bundled ONNX when `path` is None) on the backend its suffix names.

    `device` is 'auto' (CUDA when ONNX Runtime has it), 'cpu' or 'cuda'; `threads` sets ONNX
    Runtime's intra-op threads per session (None: its default, or the CPUs shared among the
    streams); `streams` is how many batches ONNX Runtime runs at once on the CPU; `gate` asks for
    the clear-sky gate too (an engine exported `--with-gate`).
    """
    if device not in DEVICES:
        raise ModelError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if streams < 1:
        raise ModelError(f"{streams} streams: give at least 1")
    path = bundled_file(BUNDLED_ONNX) if path is None else Path(path)
    backend = backend_for(path)
    if not path.is_file():
        raise ModelError(f"{path}: engine file not found")
    if backend == "tensorrt":
        if device == "cpu":
            raise ModelError(f"{path}: a TensorRT engine runs on an NVIDIA GPU; use an .onnx engine on the CPU")
        from .tensorrt_backend import TensorRTEngine  # relative, so mypy sees the class

        engine = TensorRTEngine(path, gate=gate)
        if streams > 1:
            engine.warnings.append(f"{path}: streams are for ONNX Runtime on the CPU; TensorRT overlaps batches itself")
        return engine
    from .onnxruntime_backend import OnnxRuntimeEngine  # relative, so mypy sees the class

    return OnnxRuntimeEngine(path, device=device, threads=threads, streams=streams, gate=gate)


def no_gate_error(path: Path) -> ModelError:
    """The error for an engine asked for a gate it does not output."""
    return ModelError(
        f"{path}: the engine has no {GATE_OUTPUT_NAME} output; export it with "
        "`ibhfn-export onnx --with-gate` (and build the plan from that ONNX)"
    )
