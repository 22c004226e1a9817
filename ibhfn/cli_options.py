"""The options ibhfn's command-line tools share, each declared once (as rasterio's `rio/options.py` and
Polygraphy's argument groups do), so an option means the same thing, with the same help, default and
checks, in every tool.

- `Command` and `Group`: the typer classes every tool uses. A bad option value is one `error:` line
  and exit code 2, as every other input error is (`ibhfn.cli_errors`), not a usage box; flags show
  no `<bool>` and arguments only their metavar in `--help`.
- `OneOf`, `AtLeast`: the checks of a choice and of a count, raising `InputError`.
- The shared `Annotated` types (`ThreadsOption`, `BlendOption`, ...): choices listed in `--help`,
  defaults taken from the library's dataclasses (`RunOptions`).
- `progress_bar`: the one rich progress bar on stderr, quiet when stderr is no terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Optional, get_args

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from ibhfn.cli_errors import one_line_errors
from ibhfn.cli_version import VersionOption
from ibhfn.errors import InputError
from ibhfn.runtime.blend import BLEND_WINDOWS
from ibhfn.runtime.engine import DEVICES
from ibhfn.runtime.writer import COMPRESSIONS

__all__ = [
    "BlendOption",
    "Command",
    "CompressOption",
    "EngineDeviceOption",
    "Group",
    "OverlapOption",
    "QuietOption",
    "S2OffsetOption",
    "SceneTileOption",
    "SeedOption",
    "ThreadsOption",
    "TorchDeviceOption",
    "VersionOption",
    "AtLeast",
    "OneOf",
    "choices_metavar",
    "new_app",
    "progress_bar",
]


def _plain_help(params: list[Any]) -> None:
    """Flags show no value type in --help, repeatable options their item's (not `<list[str]>`), arguments
    their metavar alone (not `<list[Path]>`)."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
        elif isinstance(param, TyperOption) and param.multiple and param.metavar is None:
            items = get_args(param.type_descriptor.annotation)
            param.metavar = f"<{getattr(items[0] if items else str, '__name__', 'str').lower()}>"
        elif isinstance(param, TyperArgument) and param.metavar is not None:
            param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]


class _OneLineParsing:
    """Parsing in which a bad option value is one `error:` line and exit code 2, as any input error."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        with one_line_errors():
            try:
                return super().make_context(info_name, args, parent=parent, **extra)  # type: ignore[misc]
            except typer.BadParameter as exc:
                raise InputError(" ".join(exc.format_message().split())) from None

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            _plain_help([option])
        return option


class Command(_OneLineParsing, TyperCommand):
    """A command of an ibhfn tool: `@app.command(cls=Command)`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _plain_help(self.params)


class Group(_OneLineParsing, TyperGroup):
    """An ibhfn tool of several commands: `new_app(...)` makes one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _plain_help(self.params)


def new_app(help: str | None = None) -> typer.Typer:
    """A typer app as every ibhfn tool makes it: no shell completion, help when run without arguments."""
    return typer.Typer(cls=Group, add_completion=False, no_args_is_help=True, help=help)


def choices_metavar(values: Sequence[str]) -> str:
    """`[a|b|c]`, how --help lists the values of a choice."""
    return f"[{'|'.join(values)}]"


@dataclass(frozen=True)
class OneOf:
    """An option callback refusing a value outside `values`: `unknown <noun> 'x'; choose one of ...`.

    Equal checks compare equal, so a test can tell that two tools check an option alike."""

    values: tuple[str, ...]
    noun: str

    def __call__(self, value: Any) -> Any:
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item is not None and item not in self.values:
                raise InputError(f"unknown {self.noun} {item!r}; choose one of {', '.join(self.values)}")
        return value


@dataclass(frozen=True)
class AtLeast:
    """An option callback refusing a number below `least`: `--name must be at least N, got V`."""

    least: int

    def __call__(self, param: typer.CallbackParam, value: Any) -> Any:
        if value is not None and value < self.least:
            raise InputError(f"{param.opts[0]} must be at least {self.least}, got {value}")
        return value


def progress_bar(
    label: str | None = None, *, quiet: bool = False, console: Console | None = None, remaining: bool = False
) -> Progress:
    """A transient bar on stderr (`label`, else each task's description), off when quiet or not on a terminal."""
    console = console or Console(stderr=True)
    columns = [TextColumn(label or "{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    if remaining:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=console, transient=True, disable=quiet or not console.is_terminal)


# Options every tool shares.
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar, and fewer lines (problems are always printed).")
]
SeedOption = Annotated[int, typer.Option(help="Random seed: the same seed draws the same numbers.")]
ThreadsOption = Annotated[
    Optional[int],
    typer.Option(
        callback=AtLeast(1),
        show_default=False,
        help="CPU threads: torch's, or ONNX Runtime's intra-op threads per stream (default: the library's choice).",
    ),
]
TorchDeviceOption = Annotated[
    str, typer.Option("--device", help="Torch device: auto (CUDA when torch has it), cpu, cuda or cuda:N.")
]
EngineDeviceOption = Annotated[
    str,
    typer.Option(
        "--device",
        metavar=choices_metavar(DEVICES),
        callback=OneOf(DEVICES, "device"),
        help="ONNX Runtime's device (auto: CUDA when it has it).",
    ),
]

# How scenes are tiled, blended and written (ibhfn-run, ibhfn-verify's scene mode, ibhfn-prepare): RunOptions.
SceneTileOption = Annotated[
    Optional[int], typer.Option("--tile", show_default=False, help="Tile size in px (default: the engine's, else 256).")
]
OverlapOption = Annotated[int, typer.Option(help="Pixels shared by neighbouring tiles.")]
BlendOption = Annotated[
    str,
    typer.Option(
        metavar=choices_metavar(BLEND_WINDOWS),
        callback=OneOf(BLEND_WINDOWS, "blend window"),
        help="Window that blends neighbouring tiles.",
    ),
]
CompressOption = Annotated[
    str,
    typer.Option(
        metavar=choices_metavar(COMPRESSIONS),
        callback=OneOf(COMPRESSIONS, "compression"),
        help="Output compression: deflate (read everywhere), zstd (a third of the CPU time; read by GDAL 2.3 and "
        "later, so QGIS and rasterio, not every other reader) or none.",
    ),
]
S2OffsetOption = Annotated[
    Optional[int],
    typer.Option(
        show_default=False,
        help="S2's radiometric add-offset in DN (RADIO_ADD_OFFSET): 0 for SEN12MS-CR and products before processing "
        "baseline 04.00, -1000 since (25 January 2022). Default: what each S2 file declares (band scale and offset, "
        "BOA_ADD_OFFSET, RADIO_ADD_OFFSET or PROCESSING_BASELINE metadata), else 0. uint16 output keeps it.",
    ),
]
