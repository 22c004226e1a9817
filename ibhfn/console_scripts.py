"""The console scripts of the tools that need an optional extra: where the extra is not installed (the lean
`pip install ibhfn`, the runtime alone), one line names the extra to install, even for `--help`, instead of
an import traceback. Each script then runs its tool's `main()`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import NamedTuple

from ibhfn.cli_errors import print_error
from ibhfn.errors import DependencyError


class Tool(NamedTuple):
    """A tool that needs an extra: its CLI module, the extra, and the modules only that extra installs."""

    module: str
    extra: str
    needs: tuple[str, ...]


TOOLS = {
    "ibhfn-synth": Tool("ibhfn.data.cli", "train", ("scipy",)),
    "ibhfn-train": Tool("ibhfn.train.cli", "train", ("torch", "scipy")),
    "ibhfn-eval": Tool("ibhfn.evaluate.cli", "train", ("torch", "scipy")),
    "ibhfn-calibrate": Tool("ibhfn.calibration.cli", "calibrate", ("onnx", "scipy")),
}


def tool_main(name: str) -> Callable[[], None]:
    """The tool's `main`; DependencyError naming the extra when a module of that extra cannot be imported."""
    tool = TOOLS[name]
    return import_tool_module(name, tool).main


def import_tool_module(name: str, tool: Tool) -> ModuleType:
    """`tool.module`, or DependencyError naming its extra when one of the modules only it installs is missing."""
    try:
        return importlib.import_module(tool.module)
    except ImportError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in tool.needs:
            raise
        raise DependencyError(
            f"{name} needs the {tool.extra} extra, and {missing} is not installed: pip install 'ibhfn[{tool.extra}]'"
        ) from None


def _run(name: str) -> None:
    try:
        main = tool_main(name)
    except DependencyError as exc:
        print_error(exc)
        raise SystemExit(exc.exit_code) from None
    main()


def synth() -> None:
    """`ibhfn-synth`."""
    _run("ibhfn-synth")


def train() -> None:
    """`ibhfn-train`."""
    _run("ibhfn-train")


def evaluate() -> None:
    """`ibhfn-eval`."""
    _run("ibhfn-eval")


def calibrate() -> None:
    """`ibhfn-calibrate`."""
    _run("ibhfn-calibrate")
