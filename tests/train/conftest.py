"""Fixtures for the trainer tests: a small generated SEN12MS-CR tree and configs for a tiny network."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ibhfn.data.synthetic import write_tree
from ibhfn.losses import LossSchedule
from ibhfn.train import TrainConfig, TrainResult, train

TINY = dict(widths=(8, 16, 24), encoder_blocks=(1, 1, 1), fusion_blocks=1, gate_hidden=8)
# Every loss term and the KL come in within the first few steps, so short runs exercise them all.
FAST_SCHEDULE = LossSchedule(l1_warmup_steps=2, ramp_steps=4, kl_warmup_steps=4)

MakeConfig = Callable[..., TrainConfig]


@pytest.fixture(scope="session")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only tree of 64 x 64 patches: 3 train, 2 val, 2 test scenes of 2 patches (6, 4, 4 samples)."""
    return write_tree(tmp_path_factory.mktemp("sen12mscr"), seed=0, patches_per_scene=2, size=64)


@pytest.fixture(scope="session")
def make_config(tree: Path) -> MakeConfig:
    """TrainConfig for a tiny IB-HFN on `tree` (3 steps per epoch of 32 px crops); keywords override."""

    def make(out: Path, **changes: Any) -> TrainConfig:
        values = dict(
            out=out,
            data=tree,
            model_overrides=TINY,
            epochs=3,
            batch_size=2,
            crop=32,
            lr=2e-3,
            warmup_steps=2,
            loss_schedule=FAST_SCHEDULE,
            seed=0,
        )
        return TrainConfig(**{**values, **changes})

    return make


@pytest.fixture(scope="package")
def trained(make_config: MakeConfig, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """A finished 4-epoch run of the tiny IB-HFN (12 steps)."""
    return train(make_config(tmp_path_factory.mktemp("run"), epochs=4))
