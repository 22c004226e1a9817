"""Where a scene's files go in OUT: its restored GeoTIFF, its JSON record and its gate."""

from __future__ import annotations

from pathlib import Path

from ibhfn.runtime.pairing import ScenePair
from ibhfn.runtime.scene_record import record_path

OUTPUT_SUFFIX = ".tif"
GATE_FOLDER = "gate"  # beside the restored scenes, with an engine opened for the gate


def output_path(out_dir: Path, pair: ScenePair) -> Path:
    """Where a scene's restored GeoTIFF goes: `<out_dir>/<name>.tif`."""
    return Path(out_dir) / f"{pair.name}{OUTPUT_SUFFIX}"


def gate_path(output: Path) -> Path:
    """Where the gate of the scene restored into `output` goes: `gate/<name>.tif` beside it.

    A folder of its own keeps `OUT/*.tif` to restored scenes, and no scene's name can clash with a gate's.
    """
    return output.parent / GATE_FOLDER / output.name


def scene_outputs(out_dir: Path, pair: ScenePair) -> list[Path]:
    """Every file a run writes or replaces for `pair` in `out_dir`: its GeoTIFF, its record and its gate."""
    output = output_path(out_dir, pair)
    return [output, record_path(output), gate_path(output)]  # a run without the gate removes an earlier one
