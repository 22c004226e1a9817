"""Fixtures for the network tests: small inputs and a tiny IB-HFN that trains in seconds."""

from __future__ import annotations

import pytest
import torch

from ibhfn.model import build_model

TINY = dict(widths=(8, 16, 24), encoder_blocks=(1, 1, 1), fusion_blocks=1, gate_hidden=8)


def random_inputs(batch: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A (sar, optical) pair of uniform [0, 1] tensors."""
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.rand(batch, 2, size, size, generator=generator),
        torch.rand(batch, 13, size, size, generator=generator),
    )


@pytest.fixture
def inputs():
    """`random_inputs(batch, size, seed=0)`."""
    return random_inputs


@pytest.fixture
def tiny_model() -> torch.nn.Module:
    """A tiny IB-HFN (3 resolutions, 8-24 maps), freshly initialised with seed 0."""
    torch.manual_seed(0)
    return build_model("edge", **TINY)
