"""An engine (ONNX Runtime or TensorRT) scored by `ibhfn-eval` exactly as a checkpoint is, as MMDeploy's test.py does.

`opened_network` gives what `evaluate` runs: a checkpoint's network, or an `EngineNetwork` (the
engine behind the module call `evaluate` makes), with the preprocessing it was trained with (the
checkpoint's, or the engine's metadata). The images, metrics and identity baseline are the same, so
a deployed engine's table can be read beside its checkpoint's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from ibhfn.model.checkpoint import network_from, read_checkpoint
from ibhfn.runtime.engine import ENGINE_SUFFIXES, Engine, open_engine


class EngineNetwork(nn.Module):
    """An engine as a module: `(sar, optical) -> restored` on CPU tensors, its size multiple and names for the table."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        meta = engine.metadata
        self.size_multiple = meta.size_multiple
        self.config = {
            "arch": meta.arch,
            "preset": f"{meta.preset} ({engine.path.name}, {meta.precision}, {engine.backend})",
        }

    def forward(self, sar: torch.Tensor, optical: torch.Tensor) -> torch.Tensor:
        """The engine's restoration of a batch."""
        restored = self.engine.infer(sar.detach().cpu().numpy(), optical.detach().cpu().numpy())
        return torch.from_numpy(restored)


def is_engine(path: str | os.PathLike[str]) -> bool:
    """Whether `path` names an engine file (.onnx, .plan, .engine) rather than a checkpoint."""
    return Path(path).suffix.lower() in ENGINE_SUFFIXES


@contextmanager
def opened_network(path: str | os.PathLike[str], device: str = "cpu") -> Iterator[tuple[nn.Module, str]]:
    """(network, preprocessing name) of a checkpoint or an engine file; an engine is closed on leaving.

    `device` is the torch device asked for: an engine runs on CUDA where it names one, else on the CPU.
    """
    if is_engine(path):
        with open_engine(Path(path), device="cuda" if str(device).startswith("cuda") else "cpu") as engine:
            yield EngineNetwork(engine), engine.metadata.preprocessing.method
    else:
        stored = read_checkpoint(path)
        yield network_from(path, stored), stored["preprocessing"]
