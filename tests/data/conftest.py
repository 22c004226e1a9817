"""Fixtures for the data tests: synthetic SEN12MS-CR trees and the real sample beside the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibhfn.data.synthetic import write_tree

# The real SEN12MS-CR triplet (scene ROIs2017_winter/112, patch 797) in ../shared beside the repo.
REAL_SAMPLE = Path(__file__).parents[2].parent / "shared" / "data" / "sen12mscr_sample"


@pytest.fixture(scope="session")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only SEN12MS-CR-layout tree: 3 train, 2 val, 2 test scenes of 2 full-size patches."""
    return write_tree(tmp_path_factory.mktemp("sen12mscr"), seed=0, patches_per_scene=2)


@pytest.fixture
def small_tree(tmp_path: Path) -> Path:
    """A small tree of 64 x 64 patches that a test may damage: 2 train scenes of 3 patches."""
    return write_tree(tmp_path / "sen12mscr", seed=1, scenes_per_split=(2, 0, 0), patches_per_scene=3, size=64)


@pytest.fixture(scope="session")
def real_sample() -> Path:
    """The real sample's root, or a skip when ../shared is not beside the checkout."""
    if not REAL_SAMPLE.is_dir():
        pytest.skip(f"the real SEN12MS-CR sample is not at {REAL_SAMPLE} (../shared beside the checkout)")
    return REAL_SAMPLE
