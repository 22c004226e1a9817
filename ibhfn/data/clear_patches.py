"""Real cloud-free Sentinel-2 patches as pass-through training samples: input and target both clear.

The SEN12MS-CR-TS cloud-free patches of `../shared` (`s2_ROIs2017_146_ImgNo_0_2018-01-06_patch_17.tif`)
cover every season of one scene, winter and snow included, which the real cloudy / clear pairs
lack. The network learns from them to leave clear ground unchanged. They have no S1, so S1 is
`CONSTANT_S1_DB`; the scene is read from the file name, so a split by scene stays explicit.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ibhfn.data.sen12mscr import CONSTANT_S1_DB, Sample, SkipsCorrupt, read_patch
from ibhfn.errors import InputError
from ibhfn.preprocessing import get_preprocessing

_NAME = re.compile(r"^s2_(?P<roi>ROIs\d+)_(?P<number>\d+)_.*patch_(?P<patch>\d+)\.tif$")


class ClearPatches(SkipsCorrupt):
    """The 13-band cloud-free patches of a folder, read as samples whose input is their target."""

    split = "all"

    def __init__(self, root: str | Path, preprocessing: str = "default") -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"{self.root}: folder of clear patches not found")
        self.paths = sorted(p for p in self.root.glob("*.tif") if _NAME.match(p.name))
        if not self.paths:
            raise InputError(f"{self.root}: no clear patches named like s2_ROIs2017_146_..._patch_17.tif")
        self.preprocessing = get_preprocessing(preprocessing)
        self._reported: set[Path] = set()

    @property
    def scenes(self) -> list[str]:
        """The scenes of the folder, 'ROIs2017/146' (SEN12MS-CR-TS names carry no season)."""
        return sorted({scene_of(path) for path in self.paths})

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Sample:
        path = self.paths[index]
        s2, (bounds, crs) = read_patch(path, 13)
        s1 = np.broadcast_to(np.asarray(CONSTANT_S1_DB, np.float32)[:, None, None], (2, *s2.shape[1:]))
        clear = self.preprocessing.optical(s2)
        return Sample(
            sar=self.preprocessing.sar(s1.copy()),
            optical=clear,
            target=clear.copy(),
            cloud_mask=None,
            scene=scene_of(path),
            roi_season=scene_of(path).split("/")[0],
            patch=int(_name_parts(path)["patch"]),
            bounds=bounds,
            crs=crs,
        )


def scene_of(path: Path) -> str:
    """'ROIs2017/146' from 's2_ROIs2017_146_ImgNo_0_2018-01-06_patch_17.tif'."""
    match = _name_parts(path)
    return f"{match['roi']}/{match['number']}"


def _name_parts(path: Path) -> re.Match[str]:
    match = _NAME.match(path.name)
    if match is None:
        raise InputError(f"{path}: not a SEN12MS-CR-TS patch name")
    return match
