"""A PyTorch checkpoint as a reference engine: the full-precision network behind the runtime's `Engine`.

The verifier runs the engine and the reference through the same interface, so a checkpoint can
stand wherever an engine file can, the tiled scene pipeline included. Its metadata is what an
FP32 export of the checkpoint would carry (preprocessing, size multiple, arch, preset, SHA-256),
which is what the verifier matches the engine against. This module imports torch; the verifier
imports it only when the reference is a checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ibhfn.engine_metadata import EngineMetadata
from ibhfn.errors import DependencyError
from ibhfn.hashing import file_sha256
from ibhfn.model import load_checkpoint, read_checkpoint
from ibhfn.preprocessing import get_preprocessing
from ibhfn.runtime.engine import Engine


class CheckpointEngine(Engine):
    """The checkpoint's network in eval mode (z = mu, no sampling), float32, on the CPU or CUDA."""

    def __init__(self, path: Path, *, device: str = "auto", threads: int | None = None) -> None:
        path = Path(path)
        if device == "cuda" and not torch.cuda.is_available():
            raise DependencyError(f"{path}: torch has no CUDA device here; run with --device cpu")
        self._device = torch.device("cuda" if device != "cpu" and torch.cuda.is_available() else "cpu")
        if threads is not None:
            torch.set_num_threads(threads)
        stored = read_checkpoint(path)
        self._model = load_checkpoint(path).to(self._device).float().eval()
        config = self._model.config
        metadata = EngineMetadata(
            preprocessing=get_preprocessing(stored["preprocessing"]),
            size_multiple=int(self._model.size_multiple),
            precision="fp32",
            preset=str(config.get("preset", "")),
            arch=str(config["arch"]),
            checkpoint_sha256=file_sha256(path),
        )
        super().__init__(path, metadata, backend=f"torch ({self._device.type})")

    def _infer_impl(self, sar: np.ndarray, optical: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            restored = self._model(
                torch.from_numpy(np.ascontiguousarray(sar)).to(self._device),
                torch.from_numpy(np.ascontiguousarray(optical)).to(self._device),
            )
        return restored.float().cpu().numpy()
