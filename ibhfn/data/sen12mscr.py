"""The SEN12MS-CR dataset as distributed: triplets of S1, cloud-free S2 and cloudy S2 patches.

Layout (`/work/shared/README.md`; scene folders matched exactly, never by substring)::

    <root>/ROIs1158_spring_s1/s1_106/ROIs1158_spring_s1_106_p30.tif
    <root>/ROIs1158_spring_s2/s2_106/ROIs1158_spring_s2_106_p30.tif
    <root>/ROIs1158_spring_s2_cloudy/s2_cloudy_106/ROIs1158_spring_s2_cloudy_106_p30.tif

A patch missing any of the files it needs is skipped; the count is kept in `skipped_incomplete` and
reported in one warning. Two conventions read folders that lack a modality, both explicit:

* `s1="constant"`: for real cloudy / clear pairs without Sentinel-1 (`../shared/data/
  sen12mscr_real_pairs`), every pixel's SAR is `CONSTANT_S1_DB` (VV -12 dB, VH -19 dB, typical of
  vegetated land), so the network gets no SAR information and restores from optical alone.
* `optical="clear"`: the clear image is also the input (no cloudy file needed), which measures how
  well a network passes clear sky through unchanged.

Indexing reads one triplet; a file that cannot be read raises
`CorruptSampleError` (naming the file). Iterating the reader, and `read_or_skip`, which the torch
wrapper uses, skip such samples instead, with one warning per file, so a long run goes on.
"""

from __future__ import annotations

import re
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioError

from ibhfn.data.cloud_mask import cloud_masker
from ibhfn.data.splits import ROI_SEASONS, SPLITS, load_splits
from ibhfn.errors import InputError
from ibhfn.preprocessing import Preprocessing, get_preprocessing

KINDS = ("s1", "s2", "s2_cloudy")
S1_SOURCES = ("files", "constant")
OPTICAL_INPUTS = ("cloudy", "clear")
CONSTANT_S1_DB = (-12.0, -19.0)  # VV, VH: typical vegetated land; the no-SAR convention of `s1="constant"`
_BANDS = {"s1": 2, "s2": 13, "s2_cloudy": 13}
_KIND_FOLDER = re.compile(r"^(?P<roi>ROIs\d+_(?:spring|summer|fall|winter))_(?P<kind>s1|s2|s2_cloudy)$")


class CorruptSampleError(InputError):
    """A file of a triplet cannot be read as the patch it should be; `path` names it."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)


@dataclass(frozen=True)
class Triplet:
    """The three files of one patch."""

    scene: str  # 'ROIs1158_spring/106'
    roi_season: str
    patch: int
    s1: Path
    s2: Path
    s2_cloudy: Path


@dataclass
class Sample:
    """One preprocessed patch: network-scale arrays and where on Earth they lie."""

    sar: np.ndarray  # (2, H, W) float32
    optical: np.ndarray  # (13, H, W) float32, cloudy
    target: np.ndarray  # (13, H, W) float32, cloud-free
    cloud_mask: np.ndarray | None  # (H, W) float32 in [0, 1]
    scene: str
    roi_season: str
    patch: int
    bounds: tuple[float, float, float, float]
    crs: str

    @property
    def coverage(self) -> float | None:
        """Fraction of cloudy pixels (mask above 0.5), or None without a mask."""
        return None if self.cloud_mask is None else float((self.cloud_mask > 0.5).mean())


def patch_paths(root: str | Path, scene: str, patch: int) -> tuple[Path, Path, Path]:
    """The S1, S2 and S2-cloudy paths of patch `patch` of `scene` ('ROIs1158_spring/106')."""
    roi_season, number = scene.split("/")
    folder = Path(root)
    s1, s2, s2_cloudy = (
        folder / f"{roi_season}_{kind}" / f"{kind}_{number}" / f"{roi_season}_{kind}_{number}_p{patch}.tif"
        for kind in KINDS
    )
    return s1, s2, s2_cloudy


def _patches_on_disk(root: Path) -> dict[str, set[tuple[str, int]]]:
    """Per modality, the (scene, patch) keys whose file exists, matching every name exactly."""
    found: dict[str, set[tuple[str, int]]] = {kind: set() for kind in KINDS}
    for kind_folder in sorted(root.iterdir()):
        match = _KIND_FOLDER.match(kind_folder.name)
        if match is None or not kind_folder.is_dir():
            continue
        roi, kind = match["roi"], match["kind"]
        scene_folder_name = re.compile(rf"^{kind}_(\d+)$")
        for scene_folder in kind_folder.iterdir():
            scene_match = scene_folder_name.match(scene_folder.name)
            if scene_match is None or not scene_folder.is_dir():
                continue
            number = scene_match[1]
            file_name = re.compile(rf"^{re.escape(roi)}_{kind}_{number}_p(\d+)\.tif$")
            for file in scene_folder.iterdir():
                file_match = file_name.match(file.name)
                if file_match is not None:
                    found[kind].add((f"{roi}/{number}", int(file_match[1])))
    return found


def _scene_key(scene: str, patch: int) -> tuple[str, int, int]:
    roi_season, number = scene.split("/")
    return roi_season, int(number), patch


class SkipsCorrupt(ABC):
    """`read_or_skip` for a reader whose `__getitem__` raises CorruptSampleError on an unreadable file."""

    _reported: set[Path]

    @abstractmethod
    def __getitem__(self, index: int) -> Sample:
        """Sample `index`, or CorruptSampleError naming the unreadable file."""

    def read_or_skip(self, index: int) -> Sample | None:
        """Sample `index`, or None after warning (once per file) that a file is unreadable."""
        try:
            return self[index]
        except CorruptSampleError as exc:
            if exc.path not in self._reported:
                self._reported.add(exc.path)
                warnings.warn(f"{exc}; sample skipped", stacklevel=2)
            return None


class SEN12MSCR(SkipsCorrupt):
    """A split of SEN12MS-CR on disk: `len()`, indexing (a `Sample`) and iteration.

    `split` is 'train', 'val', 'test' (the packaged scene splits) or 'all' (every scene found);
    `rois` limits to ROI-seasons such as 'ROIs1158_spring' and `scenes` to scenes such as
    'ROIs1158_spring/106'; `preprocessing` names a method of `ibhfn.preprocessing`; `cloud_mask` is
    'none', 'threshold' or 's2cloudless'; `s1` and `optical` as in the module docstring.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        rois: Iterable[str] | None = None,
        preprocessing: str = "default",
        cloud_mask: str = "threshold",
        s1: str = "files",
        optical: str = "cloudy",
        scenes: Iterable[str] | None = None,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"{self.root}: no such folder (expected the SEN12MS-CR root)")
        if split not in (*SPLITS, "all"):
            raise InputError(f"unknown split {split!r}; choose one of {', '.join((*SPLITS, 'all'))}")
        self.rois = tuple(rois) if rois is not None else ROI_SEASONS
        unknown = sorted(set(self.rois) - set(ROI_SEASONS))
        if unknown:
            raise InputError(f"unknown ROI-season {', '.join(unknown)}; choose from {', '.join(ROI_SEASONS)}")
        if s1 not in S1_SOURCES:
            raise InputError(f"unknown S1 source {s1!r}; choose one of {', '.join(S1_SOURCES)}")
        if optical not in OPTICAL_INPUTS:
            raise InputError(f"unknown optical input {optical!r}; choose one of {', '.join(OPTICAL_INPUTS)}")
        self.split = split
        self.s1 = s1
        self.optical = optical
        self.scenes = None if scenes is None else frozenset(scenes)
        absent = {"s1": s1 == "constant", "s2_cloudy": optical == "clear"}
        self.needed = tuple(kind for kind in KINDS if not absent.get(kind, False))  # the files each sample reads
        self.preprocessing: Preprocessing = get_preprocessing(preprocessing)
        self._masker = cloud_masker(cloud_mask)
        self._split_scenes = set(load_splits().get(split, ()))
        self._reported: set[Path] = set()
        self.triplets, self.skipped_incomplete = self._find_triplets()

    def _in_selection(self, scene: str) -> bool:
        if scene.split("/")[0] not in self.rois:
            return False
        if self.scenes is not None and scene not in self.scenes:
            return False
        return self.split == "all" or scene in self._split_scenes

    def _find_triplets(self) -> tuple[list[Triplet], int]:
        found = {
            kind: {key for key in keys if self._in_selection(key[0])}
            for kind, keys in _patches_on_disk(self.root).items()
            if kind in self.needed
        }
        every = set().union(*found.values())
        complete = set.intersection(*found.values())
        incomplete = sorted(every - complete, key=lambda key: _scene_key(*key))
        if incomplete:
            scene, patch = incomplete[0]
            paths = dict(zip(KINDS, patch_paths(self.root, scene, patch)))
            missing = [paths[kind] for kind in self.needed if not paths[kind].is_file()]
            lacking = "an S1, S2 or S2-cloudy file" if self.needed == KINDS else f"a {' or '.join(self.needed)} file"
            warnings.warn(
                f"{self.root}: skipped {len(incomplete)} incomplete triplet(s) lacking {lacking} "
                f"(first: {missing[0]} is missing)",
                stacklevel=3,
            )
        if not complete:
            what = "triplets" if self.needed == KINDS else f"samples (with {', '.join(self.needed)} files)"
            raise InputError(
                f"{self.root}: no complete SEN12MS-CR {what} in split {self.split!r} for {', '.join(self.rois)}"
            )
        triplets = [
            Triplet(scene, scene.split("/")[0], patch, *patch_paths(self.root, scene, patch))
            for scene, patch in sorted(complete, key=lambda key: _scene_key(*key))
        ]
        return triplets, len(incomplete)

    def __len__(self) -> int:
        return len(self.triplets)

    def __getitem__(self, index: int) -> Sample:
        """Read and preprocess one triplet; raises CorruptSampleError if a file is unreadable."""
        return self.read(self.triplets[index])

    def __iter__(self) -> Iterator[Sample]:
        """Every readable sample in order; corrupt ones are skipped with a warning."""
        for index in range(len(self)):
            sample = self.read_or_skip(index)
            if sample is not None:
                yield sample

    def read(self, triplet: Triplet) -> Sample:
        """Read and preprocess the files of a triplet this reader needs (see `s1` and `optical`)."""
        arrays: dict[str, np.ndarray] = {}
        georef: tuple[tuple[float, float, float, float], str] | None = None
        for kind, path in zip(KINDS, (triplet.s1, triplet.s2, triplet.s2_cloudy)):
            if kind in self.needed:
                arrays[kind], where = read_patch(path, _BANDS[kind])
                georef = georef or where
        shapes = {kind: array.shape[1:] for kind, array in arrays.items()}
        if len(set(shapes.values())) > 1:
            raise CorruptSampleError(triplet.s2_cloudy, f"sizes of the triplet differ: {shapes}")
        if self.s1 == "constant":
            arrays["s1"] = np.broadcast_to(
                np.asarray(CONSTANT_S1_DB, np.float32)[:, None, None], (2, *shapes["s2"])
            ).copy()
        if self.optical == "clear":
            arrays["s2_cloudy"] = arrays["s2"]
        assert georef is not None  # S2 is always read
        bounds, crs = georef
        return Sample(
            sar=self.preprocessing.sar(arrays["s1"]),
            optical=self.preprocessing.optical(arrays["s2_cloudy"]),
            target=self.preprocessing.optical(arrays["s2"]),
            cloud_mask=None if self._masker is None else self._masker(np.nan_to_num(arrays["s2_cloudy"])),
            scene=triplet.scene,
            roi_season=triplet.roi_season,
            patch=triplet.patch,
            bounds=bounds,
            crs=crs,
        )


def read_patch(path: Path, bands: int) -> tuple[np.ndarray, tuple[tuple[float, float, float, float], str]]:
    """All bands of a patch as float32, with its bounds and CRS, or CorruptSampleError."""
    try:
        with rasterio.open(path) as dataset:
            if dataset.count != bands:
                raise CorruptSampleError(path, f"has {dataset.count} bands; expected {bands}")
            array = dataset.read(out_dtype="float32")
            crs = dataset.crs.to_string() if dataset.crs else ""
            left, bottom, right, top = (float(v) for v in dataset.bounds)
            return array, ((left, bottom, right, top), crs)
    except RasterioError as exc:
        raise CorruptSampleError(path, f"cannot be read ({' '.join(str(exc).split())})") from None
