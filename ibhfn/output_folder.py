"""Whether an output folder can take a tool's outputs, asked once before any work.

Without this, an OUT that is a file or sits in a read-only folder fails every scene of a batch
in turn, each after its inputs were opened, or ends in a traceback (`ibhfn-run`); a training run
asks the same of its run folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from ibhfn.errors import InputError


def output_folder_problem(out_dir: Path, *, writable: bool = True) -> str | None:
    """Why `out_dir` cannot take a batch's outputs (a file, or under one, or not `writable`), or None; creates nothing.

    `--resume` asks without `writable`: a read-only batch whose scenes are all done is skipped, not refused.
    """
    folder = Path(out_dir)
    existing = nearest_existing(folder)
    if not existing.is_dir():
        return f"{existing}: is a file, not a folder" + ("" if existing == folder else f", so {folder} cannot be made")
    if writable and not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing}: not writable, so the outputs cannot be written" + (
            "" if existing == folder else f" to {folder}"
        )
    return None


def nearest_existing(path: Path) -> Path:
    """`path` itself if it exists, else its nearest ancestor that does: what decides whether it can be made."""
    return next(folder for folder in (path, *path.parents) if folder.exists())


def check_output_folder(out_dir: Path, *, writable: bool = True) -> None:
    """Stop a batch at once, with one line, when `out_dir` cannot take its outputs."""
    problem = output_folder_problem(out_dir, writable=writable)
    if problem is not None:
        raise InputError(problem)
