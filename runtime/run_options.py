"""What a run is asked and what it answers: the options of tiling, blending and writing, one scene's result,
and the progress a caller receives as scenes run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ibhfn.errors import IbhfnError
from ibhfn.preprocessing import S2_BASELINE_04_OFFSET, S2_DN_MAX
from ibhfn.runtime.blend import BLEND_WINDOWS
from ibhfn.runtime.engine import Engine
from ibhfn.runtime.raster_source import MAX_PIXELS
from ibhfn.runtime.s2_offset import is_offset
from ibhfn.runtime.writer import COMPRESSIONS, OUTPUT_DTYPES

DEFAULT_TILE = 256


@dataclass(frozen=True)
class RunOptions:
    """How scenes are tiled, blended and written."""

    tile_size: int | None = None  # None: the engine's fixed tile, else DEFAULT_TILE
    overlap: int = 32  # pixels shared by neighbouring tiles
    batch_size: int = 4  # tiles per engine call (capped by the engine's maximum)
    blend: str = "hann"  # one of BLEND_WINDOWS
    output_dtype: str = "uint16"  # uint16 DN (reflectance x 10000) or float32 reflectance
    cog: bool = False  # Cloud-Optimised GeoTIFF with overviews
    compress: str = "deflate"  # one of COMPRESSIONS
    prefetch: int = 1  # blocks waiting after each reading stage (read, preprocessed), besides those in hand
    block_width: int = 2048  # widest scene window read and blended at once: bounds memory, not output
    s2_offset: int | None = None  # S2's add-offset in DN (Preprocessing.optical), None: each file's (s2_offset.py)
    panel_width: int | None = None  # widest column panel restored top to bottom; None: PANEL_WIDTH past WIDE_SCENE
    max_pixels: int = MAX_PIXELS  # larger inputs are refused before anything is read (--max-pixels)

    def __post_init__(self) -> None:
        if self.blend not in BLEND_WINDOWS:
            raise IbhfnError(f"unknown blend window {self.blend!r}; choose one of {', '.join(BLEND_WINDOWS)}")
        if self.output_dtype not in OUTPUT_DTYPES:
            raise IbhfnError(f"unknown output type {self.output_dtype!r}; choose one of {', '.join(OUTPUT_DTYPES)}")
        if self.compress not in COMPRESSIONS:
            raise IbhfnError(f"unknown compression {self.compress!r}; choose one of {', '.join(COMPRESSIONS)}")
        for name, value, least in (
            ("tile", self.tile_size, 1),
            ("batch", self.batch_size, 1),
            ("overlap", self.overlap, 0),
            ("block width", self.block_width, 1),
            ("prefetch", self.prefetch, 1),
            ("panel width", self.panel_width, 1),
            ("max pixels", self.max_pixels, 1),
        ):
            if value is not None and value < least:
                raise IbhfnError(f"{name} {value}: give at least {least}")
        if self.s2_offset is not None and not is_offset(self.s2_offset):
            raise IbhfnError(
                f"S2 offset {self.s2_offset}: give the product's RADIO_ADD_OFFSET in DN, between "
                f"{1 - S2_DN_MAX:.0f} and 0 ({S2_BASELINE_04_OFFSET} since processing baseline 04.00)"
            )

    def tile_for(self, engine: Engine) -> int:
        """The tile size to run `engine` with, checked against it."""
        tile = self.tile_size or engine.tile_size or DEFAULT_TILE
        engine.check_tile(tile)
        if self.overlap >= tile:
            raise IbhfnError(f"overlap {self.overlap} px must be smaller than the {tile} px tile")
        return tile

    def output_settings(self, engine: Engine) -> dict[str, Any]:
        """The options that change the output's content (batch size, prefetch and block width do not)."""
        return {
            "tile_size": self.tile_for(engine),
            "overlap": self.overlap,
            "blend": self.blend,
            "output_dtype": self.output_dtype,
            "cog": self.cog,
            "compress": self.compress,
            **({"s2_offset": self.s2_offset} if self.s2_offset else {}),  # absent = 0: older records still match
            **({"gate": True} if engine.gate else {}),
        }


@dataclass
class SceneResult:
    """What happened to one scene."""

    name: str
    output: Path
    status: str  # "done", "skipped" (finished earlier, --resume) or "failed"
    message: str = ""  # the one-line error when failed
    warnings: list[str] = field(default_factory=list)
    tiles: int = 0  # tiles run through the engine
    empty_tiles: int = 0  # tiles skipped because all their pixels are nodata
    width: int = 0
    height: int = 0
    area_km2: float | None = None
    s2_offset: int = 0  # the add-offset S2 was read with
    s2_offset_from: str = ""  # where it came from (SceneOffset.origin); "" before S2 was opened
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, "total" included


class Progress(Protocol):
    """Receives progress as scenes run (the CLI draws bars from it)."""

    def scene_started(self, name: str, tiles: int) -> None: ...

    def tiles_done(self, name: str, count: int) -> None: ...

    def scene_finished(self, result: SceneResult) -> None: ...


class NoProgress:
    """Progress that goes nowhere."""

    def scene_started(self, name: str, tiles: int) -> None:
        """Ignore the start of a scene."""

    def tiles_done(self, name: str, count: int) -> None:
        """Ignore finished tiles."""

    def scene_finished(self, result: SceneResult) -> None:
        """Ignore the end of a scene."""
