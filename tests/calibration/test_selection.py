"""The calibration set: stratified over ROI-season and coverage, deterministic, never from test."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from ibhfn.calibration.calibrate import calibrate
from ibhfn.calibration.selection import check_split, select_patches
from ibhfn.data import SEN12MSCR, coverage_bucket
from ibhfn.errors import InputError


@pytest.fixture(scope="module")
def train(tree) -> SEN12MSCR:
    return SEN12MSCR(tree, "train")


def test_every_stratum_of_the_split_is_represented(train):
    present = {f"{s.roi_season} {coverage_bucket(s.coverage)}" for s in train}
    assert len(present) > 3  # the tree has several seasons and coverage buckets to cover
    selection = select_patches(train, samples=len(present), seed=3)
    assert set(selection.strata) == present
    assert len(selection.patches) == len(present)


def test_more_samples_than_strata_take_strata_in_turn(train):
    available = Counter(f"{s.roi_season} {coverage_bucket(s.coverage)}" for s in train)
    selection = select_patches(train, samples=12, seed=0)
    taken = selection.strata
    assert len(selection.patches) == 12
    assert len({(p.scene, p.patch) for p in selection.patches}) == 12  # no patch twice
    most = max(taken.values())
    for stratum, count in taken.items():  # a stratum falls behind only when it has run out
        assert count >= most - 1 or count == available[stratum], stratum


def test_same_seed_same_choice_other_seed_other_order(train):
    first, again = select_patches(train, 6, seed=1), select_patches(train, 6, seed=1)
    other = select_patches(train, 6, seed=2)
    assert first.to_dict() == again.to_dict()
    assert [p.index for p in other.patches] != [p.index for p in first.patches]


def test_negative_seed_is_refused(train):
    with pytest.raises(InputError, match="--seed must be 0 or more, got -1"):
        select_patches(train, 4, seed=-1)


@pytest.mark.parametrize("split", ["test", "all"])
def test_test_split_is_refused(split, fp32_onnx, tree, tmp_path):
    with pytest.raises(InputError, match="leak"):
        check_split(split)
    with pytest.raises(InputError, match=f"split '{split}'"):
        calibrate(fp32_onnx, tree, tmp_path / "m.onnx", split=split, samples=2, tile=64)
    assert list(tmp_path.iterdir()) == []


def test_chosen_patches_are_saved_beside_the_model(calibrated):
    saved = json.loads(calibrated.selection_path.read_text())
    assert calibrated.selection_path.name == "model.int8.onnx.calibration.json"
    assert saved["split"] == "train" and saved["seed"] == 0
    assert [(p["scene"], p["patch"]) for p in saved["patches"]] == [
        (p.scene, p.patch) for p in calibrated.selection.patches
    ]
    assert sum(saved["strata"].values()) == len(saved["patches"]) == 8
