"""The engine under test and its reference, opened side by side and checked to be the same network.

The engine is any file the runtime opens (`.onnx`, `.plan`, `.engine`); the reference is an FP32
ONNX (runs anywhere the runtime does) or a PyTorch checkpoint (`.pt`, `.pth`, `.ckpt`; needs
torch, imported only then). Both must take the same inputs (bands, preprocessing, size multiple)
and come from the same network (arch, preset and, where both record it, checkpoint SHA-256);
otherwise their outputs differ for reasons that say nothing about the engine.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from ibhfn.engine_metadata import EngineMetadata
from ibhfn.errors import DependencyError, ModelError
from ibhfn.preprocessing import PREPROCESSING, Preprocessing
from ibhfn.runtime.engine import ENGINE_SUFFIXES, Engine, open_engine

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")  # as ibhfn.verify.reference, without importing torch


@dataclass
class EnginePair:
    """The engine under test and the reference it is compared with; a context manager."""

    engine: Engine
    reference: Engine

    def __enter__(self) -> EnginePair:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release both engines."""
        self.engine.close()
        self.reference.close()


def open_reference(path: Path, *, device: str = "auto", threads: int | None = None) -> Engine:
    """Open the reference: an FP32 engine file, or a PyTorch checkpoint when torch is installed."""
    path = Path(path)
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        if path.suffix.lower() not in ENGINE_SUFFIXES:
            known = ", ".join((*ENGINE_SUFFIXES, *CHECKPOINT_SUFFIXES))
            raise ModelError(f"{path}: unknown reference type; expected one of {known}")
        return open_engine(path, device=device, threads=threads)
    if not path.is_file():
        raise ModelError(f"{path}: reference checkpoint not found")
    try:
        from ibhfn.verify.reference import CheckpointEngine
    except ImportError:
        raise DependencyError(
            f"{path}: a checkpoint reference needs torch (pip install 'ibhfn[train]'); "
            "or give the FP32 ONNX as the reference"
        ) from None
    return CheckpointEngine(path, device=device, threads=threads)


def open_engine_pair(
    engine_path: Path, reference_path: Path, *, device: str = "auto", threads: int | None = None
) -> EnginePair:
    """Open the engine and the reference and check that they are the same network."""
    with ExitStack() as stack:
        engine = stack.enter_context(open_engine(Path(engine_path), device=device, threads=threads))
        reference = stack.enter_context(open_reference(Path(reference_path), device=device, threads=threads))
        check_same_network(engine, reference)
        stack.pop_all()
    return EnginePair(engine, reference)


def check_same_network(engine: Engine, reference: Engine) -> None:
    """Raise ModelError naming both files and the first fact in which they differ."""
    problem = _first_mismatch(engine.metadata, reference.metadata)
    if problem:
        raise ModelError(f"{reference.path} is not a reference for {engine.path}: {problem}")
    if reference.metadata.precision != "fp32":
        raise ModelError(f"{reference.path}: the reference must be FP32, it is {reference.metadata.precision}")


def _first_mismatch(engine: EngineMetadata, reference: EngineMetadata) -> str | None:
    """What differs between the two networks' metadata (None when nothing that matters does)."""
    facts = [
        ("architecture", engine.arch, reference.arch),
        ("preset", engine.preset, reference.preset),
        ("size multiple", engine.size_multiple, reference.size_multiple),
        ("S1 bands", engine.s1_bands, reference.s1_bands),
        ("S2 bands", engine.s2_bands, reference.s2_bands),
        ("preprocessing", _describe(engine.preprocessing), _describe(reference.preprocessing)),
    ]
    if engine.checkpoint_sha256 and reference.checkpoint_sha256:
        facts.append(("checkpoint SHA-256", engine.checkpoint_sha256[:12], reference.checkpoint_sha256[:12]))
    for name, ours, theirs in facts:
        if ours != theirs:
            return f"{name} {ours} (engine) differs from {theirs} (reference)"
    return None


def _describe(preprocessing: Preprocessing) -> str:
    """A preprocessing by name, with its constants when they are not the named method's."""
    if PREPROCESSING.get(preprocessing.method) == preprocessing:
        return repr(preprocessing.method)
    return preprocessing.to_json()
