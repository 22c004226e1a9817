"""Saving and loading trained networks (format `ibhfn-checkpoint/1`, see docs/contracts.md).

A checkpoint is a plain dictionary of tensors, strings and numbers, loaded with
`torch.load(weights_only=True)` only, so opening one never runs code:

    {"format": "ibhfn-checkpoint/1", "arch": "ibhfn" | "dsen2cr", "config": model.config,
     "preprocessing": "default", "state_dict": {...}, "meta": {...}}
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from ibhfn.atomic import atomic_path
from ibhfn.bundled import BUNDLED_CHECKPOINT, bundled_file
from ibhfn.errors import IbhfnError, ModelError
from ibhfn.model.registry import Network, build
from ibhfn.preprocessing import get_preprocessing

CHECKPOINT_FORMAT = "ibhfn-checkpoint/1"
REQUIRED_KEYS = ("arch", "config", "preprocessing", "state_dict")


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    preprocessing: str = "default",
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write `model` (built by `ibhfn.model.build`) with its config, preprocessing and `meta`; return the path."""
    get_preprocessing(preprocessing)
    config = network_config(model)
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "arch": config["arch"],
        "config": config,
        "preprocessing": preprocessing,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": dict(meta or {}),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)
    return path


def load_tensors(path: Path, what: str, error: type[IbhfnError]) -> Any:
    """`torch.load(weights_only=True)` on the CPU; a file that is not a torch.save of plain data is `error`,
    one line naming the file as not `what` (for example "an ibhfn checkpoint")."""
    if not zipfile.is_zipfile(path):
        raise error(f"{path}: not {what} (not a file written by torch.save)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        RuntimeError,
        EOFError,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        UnicodeDecodeError,
    ) as exc:
        # torch.load's unpickler raises any of these on files it cannot read (a text file: KeyError)
        raise error(f"{path}: not {what} ({load_failure(exc)})") from None


def network_config(model: nn.Module) -> dict[str, Any]:
    """The config a network of `ibhfn.model` was built from (its arch, preset and options), as a new dict."""
    return dict(cast(dict[str, Any], model.config))


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint dictionary, checked for the format and its keys (tensors on the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: checkpoint not found")
    checkpoint = load_tensors(path, "an ibhfn checkpoint", ModelError)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        found = checkpoint.get("format") if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ModelError(f"{path}: not an ibhfn checkpoint (format {found!r}, expected {CHECKPOINT_FORMAT!r})")
    missing = [key for key in REQUIRED_KEYS if key not in checkpoint]
    if missing:
        raise ModelError(f"{path}: checkpoint is incomplete, missing {', '.join(missing)}")
    checkpoint.setdefault("meta", {})
    return checkpoint


def load_failure(exc: Exception) -> str:
    """Why torch.load refused a torch.save file, in a few words (torch's own messages run to paragraphs)."""
    if isinstance(exc, pickle.UnpicklingError) and "Weights only load failed" in str(exc):
        return "it holds code or objects, not only tensors, and is never unpickled here"
    return (str(exc).splitlines() or [type(exc).__name__])[0][:120] or type(exc).__name__


def load_checkpoint(path: str | os.PathLike, *, arch: str | None = None) -> Network:
    """Rebuild the network a checkpoint holds, with its weights, in eval mode on the CPU."""
    return network_from(path, read_checkpoint(path), arch=arch)


def network_from(path: str | os.PathLike, checkpoint: dict[str, Any], *, arch: str | None = None) -> Network:
    """The network of a checkpoint dictionary `read_checkpoint(path)` returned, in eval mode on the CPU."""
    if arch is not None and checkpoint["arch"] != arch:
        raise ModelError(f"{path}: checkpoint holds a {checkpoint['arch']!r} network, expected {arch!r}")
    try:
        model = build(checkpoint["arch"], checkpoint["config"])
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None
    _check_state_dict(path, model, checkpoint["state_dict"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()


def load_pretrained() -> Network:
    """The bundled IB-HFN edge network, trained on synthetic clouds, in eval mode."""
    return load_checkpoint(bundled_file(BUNDLED_CHECKPOINT))


def _check_state_dict(path: str | os.PathLike, model: nn.Module, state_dict: dict) -> None:
    """Raise ModelError naming (a few of) the missing, unexpected and mis-shaped weights."""
    expected = model.state_dict()
    problems = []
    for label, names in (
        ("missing", [k for k in expected if k not in state_dict]),
        ("unexpected", [k for k in state_dict if k not in expected]),
        (
            "wrong shape",
            [k for k in expected if k in state_dict and tuple(state_dict[k].shape) != tuple(expected[k].shape)],
        ),
    ):
        if names:
            shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
            problems.append(f"{len(names)} {label} ({shown})")
    if problems:
        arch = network_config(model)["arch"]
        raise ModelError(f"{path}: weights do not match the {arch} network in its config: {'; '.join(problems)}")
