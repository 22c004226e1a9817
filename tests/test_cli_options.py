"""Every option means the same thing in every tool: one help text, default and check per option name.

The apps are walked through their click commands (typer.main.get_command), so what is compared is
what a user gets, not what the source says. Names whose meaning differs from tool to tool are listed
with the reason; every other name declared twice must be declared alike.
"""

from __future__ import annotations

import importlib
import io
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import typer.main
from rich.console import Console
from typer.testing import CliRunner

from ibhfn.cli_options import Command, Group, progress_bar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
APPS = {  # console script -> the module whose `app` it runs
    "ibhfn-synth": "ibhfn.data.cli",
    "ibhfn-train": "ibhfn.train.cli",
    "ibhfn-eval": "ibhfn.evaluate.cli",
    "ibhfn-export": "ibhfn.export.cli",
    "ibhfn-deploy": "ibhfn.export.deploy_cli",
    "ibhfn-calibrate": "ibhfn.calibration.cli",
    "ibhfn-run": "ibhfn.runtime.cli",
    "ibhfn-prepare": "ibhfn.runtime.prepare_cli",
    "ibhfn-verify": "ibhfn.verify.cli",
}
MEANING_DIFFERS = {  # option -> why its tools cannot share one declaration
    "--out": "each tool writes its own kind of output: a run folder, a JSON, an ONNX, a plan",
    "--data": "required where it is the only input (eval, calibrate), optional beside another (train, verify)",
    "--split": "each tool has its own default split (eval: test, calibrate: train, verify: val)",
    "--samples": "eval takes the first N, calibrate draws N stratified (default 512), verify spreads N",
    "--batch": "tiles per engine call (run, verify) or the plan's min:opt:max batch range (export trt)",
    "--batch-size": "samples per optimiser step and process (train) or per forward pass (eval)",
    "--tile": "tiles of a scene (run, verify), the plan's profile (export trt), the calibration crop",
    "--precision": "the ONNX to write (fp32, fp16), the plan to build (int8 too), or verify's thresholds",
    "--arch": "train builds this network; export refuses a checkpoint that holds another",
    "--checkpoint": "required by eval; export falls back to the bundled model",
    "--engine": "optional for run (the bundled model), required by verify",
    "--resume": "train continues its run exactly; run skips scenes already done",
    "--name": "a synthetic scene's name (synth) or a prepared product's (prepare)",
    "--size": "synth tree takes a patch side, synth scene HxW",
    "--s1": "eval: how S1 is read (files, constant); run: a single scene's S1 file",
    "--device": "torch takes any torch device (cuda:N, mps); ONNX Runtime auto, cpu or cuda",
    "--onnx": "calibrate needs the FP32 ONNX; export trt exports the bundled model when none is given",
}


def commands():
    """(tool, command path, click command) for every command of every tool."""
    for tool, module in APPS.items():
        root = typer.main.get_command(importlib.import_module(module).app)
        if isinstance(root, Group):
            for name, command in root.commands.items():
                yield tool, f"{tool} {name}", command
        else:
            yield tool, tool, root


def declaration(param) -> tuple:
    """What makes an option mean what it means: help, default, type, check, metavar, flag, requiredness."""
    info = param.type_descriptor.parameter_info
    return tuple(
        map(
            repr,
            (
                param.help,
                param.default,
                param.required,
                param.is_flag,
                param.multiple,
                param.metavar,
                param.type_descriptor.annotation,
                info.callback,
                param.min,
                param.max,
            ),
        )
    )


def test_every_console_script_is_walked():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == set(APPS)


def test_every_command_takes_the_shared_error_path():
    for _, where, command in commands():
        assert isinstance(command, Command), f"{where}: declare it with @app.command(cls=Command)"
        for param in command.params:
            assert getattr(param, "min", None) is None and getattr(param, "max", None) is None, (
                f"{where} {param.opts}: check ranges with cli_options.AtLeast, whose error is one line"
            )


def test_no_option_is_declared_twice_with_different_help_default_or_check():
    seen: dict[str, dict[tuple, list[str]]] = defaultdict(lambda: defaultdict(list))
    for _, where, command in commands():
        for param in command.params:
            if param.param_type_name == "option":
                seen[param.opts[0]][declaration(param)].append(where)
    differing = {
        name: sorted(map(sorted, decls.values()))
        for name, decls in seen.items()
        if len(decls) > 1 and name not in MEANING_DIFFERS
    }
    assert differing == {}, "declare these once in ibhfn.cli_options"
    stale = [name for name in MEANING_DIFFERS if len(seen.get(name, {})) < 2]
    assert stale == [], "these are declared alike (or once) now: drop them from MEANING_DIFFERS"


@pytest.mark.parametrize("tool", sorted(APPS))
def test_help_shows_choices_not_python_types_and_no_machine_facts(tool):
    app = importlib.import_module(APPS[tool]).app
    root = typer.main.get_command(app)
    names = [[]] + ([[name] for name in root.commands] if isinstance(root, Group) else [])
    for name in names:
        result = CliRunner().invoke(app, [*name, "--help"], env={"COLUMNS": "200"}, prog_name=tool)
        assert result.exit_code == 0, result.output
        for bad in ("<bool>", "<list[", "{paths}", "2-core", "this machine"):
            assert bad not in result.output, f"{tool} {' '.join(name)} --help shows {bad!r}"


@pytest.mark.parametrize(
    ("tool", "args", "message"),
    [
        (
            "ibhfn-eval",
            ["--data", "d", "--checkpoint", "c", "--split", "dev"],
            "error: unknown split 'dev'; choose one of train, val, test, all",
        ),
        ("ibhfn-train", ["--out", "o", "--threads", "0"], "error: --threads must be at least 1, got 0"),
        ("ibhfn-train", ["--out", "o", "--epochs", "ten"], "error: Invalid value for '--epochs': "),
        (
            "ibhfn-synth",
            ["scene", "o", "--season", "monsoon"],
            "error: unknown season 'monsoon'; choose one of spring, summer, fall, winter",
        ),
        (
            "ibhfn-prepare",
            ["s2", "p", "o", "--compress", "lzw"],
            "error: unknown compression 'lzw'; choose one of deflate, zstd, none",
        ),
    ],
)
def test_a_bad_option_value_is_one_line_and_exit_2_in_every_tool(tool, args, message, tmp_path):
    result = CliRunner().invoke(importlib.import_module(APPS[tool]).app, args)
    assert result.exit_code == 2 and result.stderr.startswith(message), result.output
    assert len(result.stderr.strip().splitlines()) == 1 and not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("terminal", "quiet", "shown"), [(True, False, True), (True, True, False), (False, False, False)]
)
def test_the_progress_bar_shows_only_on_a_terminal_and_not_when_quiet(terminal, quiet, shown):
    stream = io.StringIO()
    bar = progress_bar("work", quiet=quiet, console=Console(file=stream, force_terminal=terminal))
    with bar:
        bar.update(bar.add_task("work", total=2), completed=2)
    assert bar.disable is not shown and (stream.getvalue() != "") is shown
