"""The engine metadata an exported ONNX carries in `metadata_props`, written and read back."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import onnx
from google.protobuf.message import DecodeError

import ibhfn
from ibhfn.engine_metadata import INPUT_NAMES, EngineMetadata
from ibhfn.errors import ModelError

if TYPE_CHECKING:  # torch-free at run time, so building a plan on a Jetson needs no torch
    from ibhfn.export.model_source import ModelSource


def export_metadata(
    source: ModelSource,
    *,
    outputs: tuple[str, ...],
    precision: str,
    float32_nodes: tuple[str, ...] = (),
    extra: dict[str, str] | None = None,
) -> EngineMetadata:
    """The metadata of an engine exported from `source`."""
    return EngineMetadata(
        preprocessing=source.preprocessing,
        size_multiple=int(source.model.size_multiple),
        precision=precision,
        preset=source.preset,
        arch=source.arch,
        package_version=ibhfn.__version__,
        checkpoint_sha256=source.checkpoint_sha256,
        inputs=INPUT_NAMES,
        outputs=outputs,
        float32_nodes=float32_nodes,
        extra=dict(extra or {}),
    )


def set_metadata(model: onnx.ModelProto, metadata: EngineMetadata) -> None:
    """Replace the model's ibhfn `metadata_props` with `metadata` (other props are kept)."""
    kept = [(p.key, p.value) for p in model.metadata_props if not p.key.startswith("ibhfn.")]
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, {**dict(kept), **metadata.to_props()})


def read_metadata(path: str | os.PathLike[str]) -> EngineMetadata:
    """The engine metadata of an ONNX file (weights are not loaded)."""
    if not os.path.isfile(path):
        raise ModelError(f"{path}: ONNX file not found")
    try:
        model = onnx.load(os.fspath(path), load_external_data=False)
    except (OSError, DecodeError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise ModelError(f"{path}: not a readable ONNX model ({reason})") from None
    return EngineMetadata.from_props({p.key: p.value for p in model.metadata_props}, source=str(path))
