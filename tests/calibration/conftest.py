"""Fixtures for the calibration tests: a tiny IB-HFN exported once, a small synthetic tree, one calibration."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ibhfn.calibration.calibrate import CalibrationResult, calibrate
from ibhfn.data.synthetic import write_tree
from ibhfn.export.onnx_export import export_onnx
from ibhfn.model import build_model

TINY_IBHFN = dict(widths=(8, 16, 24), encoder_blocks=(1, 1, 1), fusion_blocks=1, gate_hidden=8)
TILE = 64
SETTINGS = dict(samples=8, method="minmax", tile=TILE, holdout=4, seed=0)


@pytest.fixture(scope="session")
def fp32_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny IB-HFN (seeded, untrained) exported to FP32 ONNX with dynamic N, H, W."""
    torch.manual_seed(0)
    model = build_model("edge", **TINY_IBHFN).eval()
    return export_onnx(model, tmp_path_factory.mktemp("fp32") / "model.onnx").path


@pytest.fixture(scope="session")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SEN12MS-CR-layout tree of 64 px patches: 4 train, 2 val and 1 test scene of 4 patches each."""
    return write_tree(
        tmp_path_factory.mktemp("sen12mscr"), seed=0, scenes_per_split=(4, 2, 1), patches_per_scene=4, size=TILE
    )


@pytest.fixture(scope="session")
def calibrated(tmp_path_factory: pytest.TempPathFactory, fp32_onnx: Path, tree: Path) -> CalibrationResult:
    """The tiny model calibrated (min/max, 8 patches) and measured on 4 held-out val patches."""
    return calibrate(fp32_onnx, tree, tmp_path_factory.mktemp("int8") / "model.int8.onnx", **SETTINGS)
