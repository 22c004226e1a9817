"""Where the bundled model ships inside the package: the embedded default of every tool.

Torch-free, so the runtime can find the bundled ONNX without the training stack.
"""

from __future__ import annotations

from pathlib import Path

from ibhfn.errors import ModelError

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
BUNDLED_CHECKPOINT = PRETRAINED_DIR / "ibhfn_edge_synthetic.pt"
BUNDLED_ONNX = PRETRAINED_DIR / "ibhfn_edge_synthetic.onnx"
MODEL_CARD = PRETRAINED_DIR / "MODEL_CARD.md"


def bundled_file(path: Path) -> Path:
    """Return a bundled file's path, or explain that the installation is missing it."""
    if not path.is_file():
        raise ModelError(f"{path}: bundled model file is missing; reinstall ibhfn")
    return path
