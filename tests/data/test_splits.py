from __future__ import annotations

import pytest

from ibhfn.data import ROI_SEASONS, load_splits, scene_split
from ibhfn.errors import InputError


def test_splits_hold_the_published_scene_counts():
    splits = load_splits()
    assert {name: len(scenes) for name, scenes in splits.items()} == {"train": 155, "val": 10, "test": 10}


def test_no_scene_is_in_two_splits():
    splits = load_splits()
    every = [scene for scenes in splits.values() for scene in scenes]
    assert len(every) == len(set(every)) == 175
    assert all(scene.split("/")[0] in ROI_SEASONS for scene in every)


def test_scene_split_uses_exact_scene_ids():
    assert scene_split("ROIs1158_spring/106") == "test"
    assert scene_split("ROIs1158_spring/1") == "train"  # not confused with 106, 123, 140
    assert scene_split("ROIs2017_winter/112") == "train"
    with pytest.raises(InputError, match="ROIs1158_spring/999"):
        scene_split("ROIs1158_spring/999")


def test_load_splits_returns_a_copy():
    load_splits()["test"].clear()
    assert len(load_splits()["test"]) == 10
