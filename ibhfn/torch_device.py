"""The torch device a training or evaluation run asks for, checked before any work."""

from __future__ import annotations

import torch

from ibhfn.errors import InputError


def torch_device(name: str) -> torch.device:
    """`auto` (CUDA when torch has it, else the CPU) or any torch device name (cpu, cuda, cuda:1, mps)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise InputError(f"--device {name!r} is not a device torch knows; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"--device {name}: no CUDA GPU is available to torch here; use --device cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"--device {name}: torch sees {torch.cuda.device_count()} CUDA GPU(s)")
    return device
