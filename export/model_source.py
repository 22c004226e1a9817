"""Where the network to export comes from: a checkpoint file, the bundled model, or a module in memory.

Export takes whatever architecture the checkpoint holds; `arch` (CLI `--arch`) asserts one, and a
checkpoint of another architecture is then refused before anything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from ibhfn.bundled import BUNDLED_CHECKPOINT, bundled_file
from ibhfn.errors import ModelError
from ibhfn.hashing import file_sha256
from ibhfn.model import ARCHITECTURES, read_checkpoint
from ibhfn.model.checkpoint import network_config, network_from
from ibhfn.preprocessing import Preprocessing, get_preprocessing


@dataclass(frozen=True)
class ModelSource:
    """A network in eval mode with the facts about it that travel into the engine's metadata."""

    model: nn.Module
    arch: str
    preset: str
    preprocessing: Preprocessing
    checkpoint_sha256: str  # "" for a module that never was a checkpoint
    origin: str  # the checkpoint path, or "<module>"


def load_source(
    checkpoint: str | os.PathLike[str] | nn.Module | None,
    *,
    arch: str | None = None,
    preprocessing: str = "default",
) -> ModelSource:
    """Load the network to export: a checkpoint path, the bundled checkpoint (None), or a module.

    `preprocessing` applies to a module only; a checkpoint names its own.
    """
    if arch is not None and arch not in ARCHITECTURES:
        raise ModelError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    if isinstance(checkpoint, nn.Module):
        config = network_config(checkpoint)
        if arch is not None and config["arch"] != arch:
            raise ModelError(f"<module>: holds a {config['arch']!r} network, expected {arch!r}")
        return ModelSource(
            checkpoint.eval(),
            config["arch"],
            str(config.get("preset", "")),
            get_preprocessing(preprocessing),
            "",
            "<module>",
        )
    path = bundled_file(BUNDLED_CHECKPOINT) if checkpoint is None else Path(checkpoint)
    if path.is_dir():
        raise ModelError(f"{path}: is a folder, not a checkpoint file")
    stored = read_checkpoint(path)
    model = network_from(path, stored, arch=arch)
    return ModelSource(
        model,
        stored["arch"],
        str(network_config(model).get("preset", "")),
        get_preprocessing(stored["preprocessing"]),
        file_sha256(path),
        str(path),
    )
