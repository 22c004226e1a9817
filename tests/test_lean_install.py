"""The lean install (`pip install ibhfn`, the runtime alone): the tools that need an extra say which, in one line.

Each console script of pyproject.toml runs in a fresh interpreter in which the extra's modules cannot be
imported: a sitecustomize on PYTHONPATH marks them absent in sys.modules, and Python's own import then
fails with ModuleNotFoundError, as where they are not installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ibhfn.console_scripts import TOOLS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
HIDE = """
import os, sys
for name in filter(None, os.environ.get("HIDDEN_MODULES", "").split(",")):
    sys.modules[name] = None  # `import name` now fails as for a module that is not installed
"""
RUN_SCRIPT = "import sys; from {module} import {function} as main; sys.argv = sys.argv[1:]; sys.exit(main())"


def run_script(tool: str, args: list[str], hidden: list[str], shim: Path) -> subprocess.CompletedProcess:
    """Run console script `tool` as pip's wrapper does, with `hidden` modules unimportable."""
    module, function = SCRIPTS[tool].split(":")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(shim), os.environ.get("PYTHONPATH", "")]),
        "HIDDEN_MODULES": ",".join(hidden),
        "COLUMNS": "120",
    }
    return subprocess.run(
        [sys.executable, "-c", RUN_SCRIPT.format(module=module, function=function), tool, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shim")
    (folder / "sitecustomize.py").write_text(HIDE)
    return folder


@pytest.mark.parametrize(
    ("tool", "hidden", "extra"),
    [
        ("ibhfn-train", ["torch"], "train"),
        ("ibhfn-eval", ["torch"], "train"),
        ("ibhfn-synth", ["scipy"], "train"),
        ("ibhfn-calibrate", ["onnx"], "calibrate"),
    ],
)
@pytest.mark.parametrize("args", [["--help"], ["--out", "run"]], ids=["help", "work"])
def test_a_tool_without_its_extra_names_the_extra_in_one_line(tool, hidden, extra, args, shim):
    done = run_script(tool, args, hidden, shim)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"error: {tool} needs the {extra} extra, and {hidden[0]} is not installed: pip install 'ibhfn[{extra}]'"
    )
    assert done.stdout == ""


def test_with_the_extra_the_tool_runs(shim):
    done = run_script("ibhfn-synth", ["--help"], [], shim)
    assert done.returncode == 0 and "tree" in done.stdout, done.stderr


def test_a_missing_module_outside_the_extra_is_not_blamed_on_it(shim):
    """A broken install (numpy missing) is not reported as a missing extra."""
    done = run_script("ibhfn-train", ["--help"], ["numpy"], shim)
    assert done.returncode == 1 and "numpy" in done.stderr and "extra" not in done.stderr


def test_the_extras_named_are_the_extras_pyproject_declares():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for tool, spec in TOOLS.items():
        assert SCRIPTS[tool].startswith("ibhfn.console_scripts:"), tool
        declared = {req.split(">")[0].split("=")[0].strip() for req in extras[spec.extra]}
        assert set(spec.needs) <= declared, (tool, spec)


def test_rich_is_declared_where_the_runtime_imports_it():
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(req.startswith("rich") for req in dependencies)


def test_export_onnx_without_torch_names_the_export_extra_and_trt_help_still_runs(shim, tmp_path):
    done = run_script("ibhfn-export", ["onnx", "--out", str(tmp_path / "m.onnx")], ["torch"], shim)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "error: ibhfn-export onnx needs the export extra, and torch is not installed: pip install 'ibhfn[export]'"
    )
    assert not (tmp_path / "m.onnx").exists()
    assert run_script("ibhfn-export", ["trt", "--help"], ["torch"], shim).returncode == 0
