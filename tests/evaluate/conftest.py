"""Fixtures for the evaluation tests: a small generated tree and tiny networks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from ibhfn.data import SEN12MSCR
from ibhfn.data.synthetic import write_tree
from ibhfn.model import build_model, save_checkpoint

TINY = dict(widths=(8, 16, 24), encoder_blocks=(1, 1, 1), fusion_blocks=1, gate_hidden=8)


@pytest.fixture(scope="session")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only tree of 64 x 64 patches: 3 train, 2 val, 2 test scenes of 3 patches."""
    return write_tree(tmp_path_factory.mktemp("sen12mscr"), seed=3, patches_per_scene=3, size=64)


@pytest.fixture(scope="session")
def test_reader(tree: Path) -> SEN12MSCR:
    return SEN12MSCR(tree, "test")


@pytest.fixture
def unreadable_tree(tree: Path, tmp_path: Path) -> Path:
    """A copy of `tree` whose every test-split S2 file is damaged, so no test sample can be read."""
    damaged = shutil.copytree(tree, tmp_path / "damaged")
    for triplet in SEN12MSCR(damaged, "test").triplets:
        triplet.s2.write_bytes(b"not a GeoTIFF")
    return damaged


@pytest.fixture
def tiny_model() -> nn.Module:
    """A tiny, untrained IB-HFN (seed 0)."""
    torch.manual_seed(0)
    return build_model("edge", **TINY)


@pytest.fixture
def checkpoint(tiny_model: nn.Module, tmp_path: Path) -> Path:
    """`tiny_model` saved as a checkpoint."""
    return save_checkpoint(tmp_path / "tiny.pt", tiny_model)


@pytest.fixture
def identity_model() -> nn.Module:
    """A DSen2-CR whose residual branch is zero, so its output is exactly the cloudy input."""
    model = build_model("small", arch="dsen2cr", blocks=1, features=4)
    nn.init.zeros_(model.tail.weight)
    nn.init.zeros_(model.tail.bias)
    return model
