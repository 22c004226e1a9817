"""SHA-256 of files: checkpoints and ONNX recorded by exported engines, inputs compared by `--resume`."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path


class HashingStopped(Exception):
    """Raised when hashing was told to stop before the end of the file."""


def file_sha256(path: Path, chunk: int = 1 << 20, stop: threading.Event | None = None) -> str:
    """SHA-256 of a file, read into one reused buffer, so that memory stays one chunk for multi-GB scenes.

    Setting `stop` (from another thread) ends it within a chunk, with HashingStopped.
    """
    digest = hashlib.sha256()
    buffer = bytearray(chunk)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while size := handle.readinto(buffer):
            if stop is not None and stop.is_set():
                raise HashingStopped(str(path))
            digest.update(view[:size])
    return digest.hexdigest()
