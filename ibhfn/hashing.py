"""SHA-256 of files: checkpoints and ONNX recorded by exported engines, inputs compared by `--resume`."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read into one reused buffer, so that memory stays one chunk for multi-GB scenes."""
    digest = hashlib.sha256()
    buffer = bytearray(chunk)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while size := handle.readinto(buffer):
            digest.update(view[:size])
    return digest.hexdigest()
