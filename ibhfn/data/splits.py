"""The scene-level SEN12MS-CR splits shipped with the package (`resources/sen12mscr_splits.json`).

A split holds whole scenes (`<ROI>_<season>/<scene>`, e.g. 'ROIs1158_spring/106'), never single
patches, so no place and date is seen in training and in testing. Source: resources/SOURCE.md.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

from ibhfn.errors import InputError

SPLITS = ("train", "val", "test")
ROI_SEASONS = ("ROIs1158_spring", "ROIs1868_summer", "ROIs1970_fall", "ROIs2017_winter")


@functools.cache
def _splits() -> dict[str, tuple[str, ...]]:
    text = (resources.files("ibhfn.data") / "resources" / "sen12mscr_splits.json").read_text()
    return {name: tuple(scenes) for name, scenes in json.loads(text)["splits"].items()}


def load_splits() -> dict[str, list[str]]:
    """The train, val and test scene lists (a fresh copy the caller may change)."""
    return {name: list(scenes) for name, scenes in _splits().items()}


@functools.cache
def _scene_to_split() -> dict[str, str]:
    return {scene: name for name, scenes in _splits().items() for scene in scenes}


def scene_split(scene: str) -> str:
    """The split ('train', 'val' or 'test') a scene such as 'ROIs1158_spring/106' belongs to."""
    try:
        return _scene_to_split()[scene]
    except KeyError:
        raise InputError(f"scene {scene!r} is in no SEN12MS-CR split") from None
