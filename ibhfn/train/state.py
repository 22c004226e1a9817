"""The training state beside a checkpoint (`last.state.pt`): what resume needs to continue exactly.

The network's weights live in `last.pt` (an ordinary `ibhfn.model` checkpoint); this file holds the
rest, as tensors and plain Python values so `torch.load(weights_only=True)` reads it:

    {"format": "ibhfn-train-state/1", "step", "epoch", "epoch_step", "best_val_loss", "best_epoch",
     "optimizer", "scheduler", "scaler", "rng": {"torch", "cuda", "numpy", "python"}}
"""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from ibhfn.atomic import atomic_path
from ibhfn.errors import InputError
from ibhfn.model.checkpoint import load_tensors

STATE_FORMAT = "ibhfn-train-state/1"


@dataclass
class TrainingState:
    """Where a run stands and the state of everything random or adaptive in it."""

    step: int  # optimiser steps done
    epoch: int  # the epoch in progress (0-based)
    epoch_step: int  # batches of that epoch already done
    best_val_loss: float
    best_epoch: int
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    scaler: dict[str, Any]
    rng: dict[str, Any]


def capture_rng() -> dict[str, Any]:
    """The global random states of torch (CPU and CUDA), numpy and Python."""
    # The legacy tuple of MT19937, numpy's global generator: ("MT19937", keys, pos, has_gauss, cached_gaussian)
    np_state = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state(legacy=True))
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": random.getstate(),
    }


def restore_rng(rng: dict[str, Any]) -> None:
    """Put back the random states `capture_rng` took."""
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    n = rng["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
    version, internal, gauss = rng["python"]
    random.setstate((version, tuple(internal), gauss))


def save_state(path: str | os.PathLike, state: TrainingState) -> Path:
    """Write the training state atomically; return the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"format": STATE_FORMAT, **asdict(state)}, tmp)
    return path


def load_state(path: str | os.PathLike) -> TrainingState:
    """Read a training state written by `save_state`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: training state not found; nothing to resume (start without --resume)")
    data = load_tensors(path, "a training state", InputError)
    if not isinstance(data, dict) or data.pop("format", None) != STATE_FORMAT:
        raise InputError(f"{path}: not a training state (expected format {STATE_FORMAT!r})")
    try:
        return TrainingState(**data)
    except TypeError as exc:
        raise InputError(f"{path}: training state is incomplete ({exc})") from None
