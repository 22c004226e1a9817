"""Fixtures for the export tests: tiny networks, their checkpoints, and one export of each kind per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ibhfn.export.onnx_export import ExportReport, export_onnx
from ibhfn.model import build_model, save_checkpoint

TINY_IBHFN = dict(widths=(8, 16, 24), encoder_blocks=(1, 1, 1), fusion_blocks=1, gate_hidden=8)
TINY_DSEN2CR = dict(blocks=1, features=8)


def tiny_ibhfn() -> torch.nn.Module:
    """An IB-HFN edge network a few thousand parameters small, with non-trivial (seeded) weights."""
    torch.manual_seed(0)
    return build_model("edge", **TINY_IBHFN).eval()


def tiny_dsen2cr() -> torch.nn.Module:
    """A one-block DSen2-CR."""
    torch.manual_seed(1)
    return build_model("small", arch="dsen2cr", **TINY_DSEN2CR).eval()


@pytest.fixture(scope="session")
def ibhfn_model() -> torch.nn.Module:
    return tiny_ibhfn()


@pytest.fixture(scope="session")
def dsen2cr_model() -> torch.nn.Module:
    return tiny_dsen2cr()


@pytest.fixture(scope="session")
def ibhfn_checkpoint(tmp_path_factory: pytest.TempPathFactory, ibhfn_model) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "ibhfn.pt", ibhfn_model)


@pytest.fixture(scope="session")
def dsen2cr_checkpoint(tmp_path_factory: pytest.TempPathFactory, dsen2cr_model) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "dsen2cr.pt", dsen2cr_model)


@pytest.fixture(scope="session")
def fp32_export(tmp_path_factory: pytest.TempPathFactory, ibhfn_checkpoint) -> ExportReport:
    """The tiny IB-HFN exported to FP32 ONNX with dynamic N, H, W."""
    return export_onnx(ibhfn_checkpoint, tmp_path_factory.mktemp("onnx") / "model.onnx")


@pytest.fixture(scope="session")
def fp16_export(tmp_path_factory: pytest.TempPathFactory, ibhfn_checkpoint) -> ExportReport:
    """The tiny IB-HFN exported to FP16 ONNX with FP32 islands."""
    return export_onnx(ibhfn_checkpoint, tmp_path_factory.mktemp("onnx") / "model_fp16.onnx", precision="fp16")


@pytest.fixture(scope="session")
def static_dsen2cr_export(tmp_path_factory: pytest.TempPathFactory, dsen2cr_checkpoint) -> ExportReport:
    """The tiny DSen2-CR exported with a static 2 x 32 x 32 input."""
    return export_onnx(dsen2cr_checkpoint, tmp_path_factory.mktemp("onnx") / "dsen2cr.onnx", static_shape=(2, 32, 32))
