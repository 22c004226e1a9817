"""TensorRT optimisation profiles from a tile size and a batch range, and the checks on both.

A plan takes square tiles of one size (the runtime reads the tile size from the profile) and a
batch between min and max, tuned for opt: `--tile 256 --batch 1:4:8` gives, for `optical`,
min (1, 13, 256, 256), opt (4, 13, 256, 256), max (8, 13, 256, 256).
"""

from __future__ import annotations

from dataclasses import dataclass

from ibhfn.engine_metadata import EngineMetadata
from ibhfn.errors import ShapeError

Dims = tuple[int, int, int, int]
DEFAULT_TILE = 256
DEFAULT_BATCH = (1, 4, 8)


@dataclass(frozen=True)
class TensorProfile:
    """Smallest, tuned-for and largest shape of one input tensor."""

    name: str
    min: Dims
    opt: Dims
    max: Dims

    def to_dict(self) -> dict[str, list[int]]:
        """JSON-ready form, as in the plan sidecar."""
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}


def parse_batch(text: str) -> tuple[int, int, int]:
    """Read `--batch`: 'min:opt:max', or one number for a fixed batch."""
    try:
        values = tuple(int(part) for part in text.split(":"))
    except ValueError:
        raise ShapeError(f"batch {text!r} is not of the form min:opt:max, for example 1:4:8") from None
    if len(values) == 1:
        values = values * 3
    if len(values) != 3:
        raise ShapeError(f"batch {text!r} is not of the form min:opt:max, for example 1:4:8")
    return check_batch((values[0], values[1], values[2]))


def check_batch(batch: tuple[int, int, int]) -> tuple[int, int, int]:
    """Raise ShapeError unless 1 <= min <= opt <= max."""
    low, opt, high = batch
    if not 1 <= low <= opt <= high:
        raise ShapeError(f"batch {low}:{opt}:{high} must satisfy 1 <= min <= opt <= max")
    return low, opt, high


def check_tile(tile: int, size_multiple: int) -> int:
    """Raise ShapeError unless the tile is a positive multiple of the network's size multiple."""
    if tile < 1 or tile % size_multiple:
        raise ShapeError(f"tile {tile} must be a positive multiple of the network's size multiple {size_multiple}")
    return tile


def derive_profile(
    metadata: EngineMetadata,
    *,
    tile: int = DEFAULT_TILE,
    batch: tuple[int, int, int] = DEFAULT_BATCH,
    static_inputs: dict[str, tuple[int, ...]] | None = None,
) -> list[TensorProfile]:
    """One profile entry per input (`sar`, `optical`): square tiles of `tile`, batch min:opt:max.

    `static_inputs` gives the fixed dimensions an ONNX declares (non-positive for dynamic ones);
    the profile must agree with them.
    """
    check_tile(tile, metadata.size_multiple)
    low, opt, high = check_batch(batch)
    bands = {"sar": len(metadata.s1_bands), "optical": len(metadata.s2_bands)}
    profiles = []
    for name in metadata.inputs:
        shapes = [(n, bands[name], tile, tile) for n in (low, opt, high)]
        fixed = (static_inputs or {}).get(name, ())
        for axis, dim in enumerate(fixed):
            if dim > 0 and any(shape[axis] != dim for shape in shapes):
                raise ShapeError(
                    f"the ONNX fixes {name} to {tuple(fixed)}; tile {tile} and batch {low}:{opt}:{high} do not fit it"
                )
        profiles.append(TensorProfile(name, *shapes))
    return profiles
