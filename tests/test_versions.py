import platform
import sys
from importlib import metadata

import pytest
from typer.testing import CliRunner

import ibhfn
from ibhfn.calibration.cli import app as calibrate_app
from ibhfn.data.cli import app as synth_app
from ibhfn.evaluate.cli import app as eval_app
from ibhfn.export.cli import app as export_app
from ibhfn.runtime.cli import app as run_app
from ibhfn.runtime.prepare_cli import app as prepare_app
from ibhfn.train.cli import app as train_app
from ibhfn.verify.cli import app as verify_app
from ibhfn.versions import LIBRARIES, UNIMPORTABLE, installed_version, tensorrt_version, version_lines

RUN_VERSION = """
from ibhfn.runtime.cli import main
sys.argv = ["ibhfn-run", "--version"]
try:
    main()
except SystemExit as done:
    assert not done.code, done.code
"""


def test_the_lines_name_ibhfn_python_and_every_library():
    lines = version_lines()
    assert lines[:2] == [f"ibhfn {ibhfn.__version__}", f"python {platform.python_version()}"]
    assert [line.split()[0] for line in lines[2:]] == [
        "numpy",
        "rasterio",
        "gdal",
        "onnxruntime",
        "tensorrt",
        "cuda-python",
        "pycuda",
        "torch",
    ]
    assert f"onnxruntime {installed_version(LIBRARIES['onnxruntime'])}" in lines  # onnxruntime-gpu on a GPU host
    assert f"torch {metadata.version('torch')}" in lines
    assert len(LIBRARIES) == len(lines) - 3  # GDAL is told with rasterio


@pytest.mark.parametrize(
    "app",
    [run_app, verify_app, export_app, calibrate_app, synth_app, train_app, eval_app, prepare_app],
    ids=["run", "verify", "export", "calibrate", "synth", "train", "eval", "prepare"],
)
def test_every_cli_tells_its_versions(app):
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == version_lines()


def test_the_runtime_tells_its_versions_without_importing_torch(without_torch):
    done = without_torch(RUN_VERSION)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"ibhfn {ibhfn.__version__}\n") and "\nonnxruntime " in done.stdout


def test_a_tensorrt_that_cannot_be_imported_is_said_not_raised(tmp_path, monkeypatch):
    (tmp_path / "tensorrt.py").write_text("raise ImportError('libnvinfer.so.10: cannot open shared object file')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tensorrt", raising=False)  # a real one imported earlier would answer instead
    monkeypatch.setattr("ibhfn.versions.installed_version", lambda distributions: None)  # as JetPack's system module
    assert tensorrt_version() == UNIMPORTABLE
