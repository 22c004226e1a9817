"""Scene mode: engine and reference each restore whole scenes through the tiled runtime, then compared.

Both run `ibhfn.runtime.pipeline.run_scene` with the same options into uncompressed float32
reflectance GeoTIFFs in a temporary folder, so tiling, blending and the output encoding are verified along
with the engine. The two outputs are then compared window by window (bounded memory at any scene
size); each window is one sample `<scene>@<row>,<col>`. Pixels the reference leaves empty
(nodata) are set to 0 in every array, so they count as agreement, not as error.

Ground truth beside a scene, as `ibhfn-synth scene` writes it, is used when present:
`<name>_target.tif` (cloud-free S2 DN) and `<name>_cloudmask.tif` (cloud opacity in [0, 1],
above `CLOUD_THRESHOLD` counting as cloud) for the coverage of each window.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from ibhfn.errors import InputError
from ibhfn.preprocessing import Preprocessing
from ibhfn.runtime.engine import Engine
from ibhfn.runtime.pairing import ScenePair
from ibhfn.runtime.pipeline import GDAL_CACHE_BYTES, run_scene
from ibhfn.runtime.raster_source import open_raster
from ibhfn.runtime.run_options import Progress, RunOptions
from ibhfn.runtime.s2_offset import NOT_DECLARED, SceneOffset, scene_offset

TARGET_SUFFIX = "_target.tif"
CLOUD_MASK_SUFFIX = "_cloudmask.tif"
CLOUD_THRESHOLD = 0.5  # cloud opacity above which a pixel counts as cloudy
DEFAULT_WINDOW = 512  # pixels on a side of each compared window


@dataclass(frozen=True)
class SceneWindow:
    """One window of a scene, every array (13, h, w) float32 reflectance."""

    sample_id: str
    engine: np.ndarray
    reference: np.ndarray
    cloudy: np.ndarray
    truth: np.ndarray | None
    coverage: float | None


@dataclass(frozen=True)
class RestoredScene:
    """A scene's inputs and the two restored outputs."""

    pair: ScenePair
    engine_output: Path
    reference_output: Path
    warnings: tuple[str, ...] = ()  # what the runtime noticed about the inputs (partial S1 cover, ...)
    cloudy_offset: SceneOffset = SceneOffset(0, NOT_DECLARED)  # the add-offset the cloudy S2 is read with
    target_offset: SceneOffset | None = None  # and the target's, where there is one

    @property
    def target(self) -> Path | None:
        """The cloud-free target beside the cloudy S2 file, if there is one."""
        path = self.pair.s2.with_name(f"{self.pair.name}{TARGET_SUFFIX}")
        return path if path.is_file() else None

    @property
    def cloud_mask(self) -> Path | None:
        """The cloud-opacity mask beside the cloudy S2 file, if there is one."""
        path = self.pair.s2.with_name(f"{self.pair.name}{CLOUD_MASK_SUFFIX}")
        return path if path.is_file() else None


def restore_scene(
    engine: Engine,
    reference: Engine,
    pair: ScenePair,
    work_dir: Path,
    options: RunOptions,
    progress: Progress | None = None,
) -> RestoredScene:
    """Run engine and reference over one scene into float32 reflectance GeoTIFFs under `work_dir`."""
    # uncompressed: lossless compression of a temporary file would only cost time
    float_options = dataclasses.replace(options, output_dtype="float32", cog=False, compress="none")
    outputs, warnings = {}, []
    for role, runner in (("engine", engine), ("reference", reference)):
        outputs[role] = Path(work_dir) / role / f"{pair.name}.tif"
        result = run_scene(
            runner, pair.s1, pair.s2, outputs[role], float_options, name=f"{pair.name} ({role})", progress=progress
        )
        warnings += [w for w in result.warnings if w not in warnings]
    scene = RestoredScene(
        pair,
        outputs["engine"],
        outputs["reference"],
        cloudy_offset=SceneOffset(result.s2_offset, result.s2_offset_from),
    )  # as the runtime read it
    if scene.target is None:
        return dataclasses.replace(scene, warnings=tuple(warnings))
    with open_raster(scene.target) as target:
        target_offset = scene_offset(scene.target, target, options.s2_offset)
    return dataclasses.replace(scene, warnings=(*warnings, *target_offset.warnings), target_offset=target_offset)


def scene_windows(
    scene: RestoredScene, preprocessing: Preprocessing, size: int = DEFAULT_WINDOW
) -> Iterator[SceneWindow]:
    """The scene's windows, row by row, with nodata set to 0 and truth and coverage where known."""
    with ExitStack() as stack:
        # each output block is read once; GDAL's default cache (5 % of RAM) would keep them all
        stack.enter_context(rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES))
        engine, reference, cloudy = (
            stack.enter_context(open_raster(path))
            for path in (scene.engine_output, scene.reference_output, scene.pair.s2)
        )
        target = _open_matching(stack, scene.target, reference, 13)
        mask = _open_matching(stack, scene.cloud_mask, reference, 1)
        for row in range(0, reference.height, size):
            for col in range(0, reference.width, size):
                window = Window(col, row, min(size, reference.width - col), min(size, reference.height - row))
                reference_out = reference.read(window=window)
                empty = ~np.isfinite(reference_out).all(axis=0)
                coverage = None
                if mask is not None:
                    cloud = mask.read(1, window=window)[~empty]
                    coverage = float(np.mean(cloud > CLOUD_THRESHOLD)) if cloud.size else 0.0
                yield SceneWindow(
                    sample_id=f"{scene.pair.name}@{row},{col}",
                    engine=_blank(engine.read(window=window), empty),
                    reference=_blank(reference_out, empty),
                    cloudy=_read_s2(cloudy, window, preprocessing, empty, scene.cloudy_offset.dn),
                    truth=None
                    if target is None or scene.target_offset is None
                    else _read_s2(target, window, preprocessing, empty, scene.target_offset.dn),
                    coverage=coverage,
                )


def _open_matching(stack: ExitStack, path: Path | None, grid, bands: int):
    """Open a file that must lie on the output's grid with `bands` bands (None when there is no file)."""
    if path is None:
        return None
    dataset = stack.enter_context(open_raster(path))
    if (dataset.count, dataset.height, dataset.width) != (bands, grid.height, grid.width) or (
        dataset.transform != grid.transform
    ):
        raise InputError(
            f"{path}: {dataset.count} bands of {dataset.height} x {dataset.width} px do not lie on the "
            f"scene's grid ({bands} bands of {grid.height} x {grid.width} px, same transform)"
        )
    return dataset


def _read_s2(dataset, window: Window, preprocessing: Preprocessing, empty: np.ndarray, s2_offset: int) -> np.ndarray:
    """A window of an S2 DN file as reflectance, through the engine's preprocessing (clip included)."""
    optical = preprocessing.optical(dataset.read(window=window), offset=s2_offset, in_place=True)
    return _blank(preprocessing.reflectance(optical, in_place=True), empty)


def _blank(values: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """(C, h, w) as float32 with the empty pixels set to 0, in place (each caller passes an array just read)."""
    values = np.asarray(values, dtype=np.float32)
    if empty.any():
        values[:, empty] = 0.0
    return values
