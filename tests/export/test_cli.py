import importlib.util
import shutil

import pytest
from typer.testing import CliRunner

from ibhfn.export.cli import app

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_onnx_export_prints_a_short_report(dsen2cr_checkpoint, tmp_path):
    result = invoke(
        "onnx", "--checkpoint", dsen2cr_checkpoint, "--out", tmp_path / "m.onnx", "--static-shape", "1x16x16"
    )
    assert result.exit_code == 0, result.output
    assert "dsen2cr small, fp32, opset 18, 1x16x16" in result.output
    assert "1 x 16 x 16: max" in result.output and "PASSED" in result.output
    assert (tmp_path / "m.onnx").is_file() and (tmp_path / "m.onnx.json").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--checkpoint", "{tmp}/missing.pt"], "missing.pt: checkpoint not found"),
        (["--checkpoint", "{junk}"], "junk.pt: not an ibhfn checkpoint"),
        (["--checkpoint", "{dsen2cr}", "--arch", "ibhfn"], "holds a 'dsen2cr' network, expected 'ibhfn'"),
        (["--checkpoint", "{dsen2cr}", "--static-shape", "1by16"], "not of the form NxHxW"),
        (["--checkpoint", "{dsen2cr}", "--with-gate"], "has no gate"),
        (["--checkpoint", "{dsen2cr}", "--arch", "foo"], "unknown arch 'foo'; choose one of ibhfn, dsen2cr"),
        (["--checkpoint", "{dsen2cr}", "--opset", "999"], "opset 999 is newer than onnx"),
    ],
)
def test_bad_onnx_requests_exit_2_with_one_line(args, message, tmp_path, dsen2cr_checkpoint):
    junk = tmp_path / "junk.pt"
    junk.write_text("hello")
    args = [a.format(tmp=tmp_path, junk=junk, dsen2cr=dsen2cr_checkpoint) for a in args]
    result = invoke("onnx", *args, "--out", tmp_path / "m.onnx")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m.onnx").exists()


def test_onnx_over_its_checkpoint_is_refused(dsen2cr_checkpoint, tmp_path):
    checkpoint = shutil.copy(dsen2cr_checkpoint, tmp_path / "c.pt")
    before = checkpoint.read_bytes()
    result = invoke("onnx", "--checkpoint", checkpoint, "--out", checkpoint)
    assert result.exit_code == 2 and "is also an input" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and checkpoint.read_bytes() == before


def test_onnx_with_a_folder_at_its_report_writes_nothing(dsen2cr_checkpoint, tmp_path):
    (tmp_path / "m.onnx.json").mkdir()
    result = invoke("onnx", "--checkpoint", dsen2cr_checkpoint, "--out", tmp_path / "m.onnx")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'm.onnx.json'}: is a folder, not a file"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx.json"]


@pytest.mark.parametrize("onnx_name", ["m.onnx", None])
def test_trt_over_its_onnx_is_refused(fp32_export, tmp_path, onnx_name):
    onnx_path = shutil.copy(fp32_export.path, tmp_path / "m.onnx")
    args = ["--onnx", onnx_path] if onnx_name else []
    result = invoke("trt", *args, "--precision", "fp32", "--out", onnx_path)
    assert result.exit_code == 2 and "m.onnx: is also an input" in result.stderr
    assert onnx_path.read_bytes() == fp32_export.path.read_bytes()


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed")
def test_trt_without_tensorrt_exits_2_saying_how_to_get_it(fp32_export, tmp_path):
    result = invoke("trt", "--onnx", fp32_export.path, "--precision", "fp32", "--out", tmp_path / "m.plan")
    assert result.exit_code == 2
    assert "TensorRT is not installed" in result.stderr and "JetPack" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m.plan").exists()


BUILD_A_PLAN = """
from ibhfn.export.cli import main
sys.argv = ["ibhfn-export", "trt", "--onnx", sys.argv[1], "--precision", "fp32", "--out", sys.argv[2]]
main()
"""


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed")
def test_trt_from_an_onnx_needs_no_torch(fp32_export, tmp_path, without_torch):
    """On a Jetson without torch, building a plan gets as far as TensorRT itself."""
    done = without_torch(BUILD_A_PLAN, fp32_export.path, tmp_path / "m.plan")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().startswith("error: TensorRT is not installed")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--precision", "int8"], "ibhfn-calibrate"),
        (["--onnx", "{fp32}", "--precision", "int8"], "INT8 plan needs the QDQ ONNX"),
        (["--onnx", "{fp32}", "--precision", "fp32", "--batch", "8:1:1"], "min <= opt <= max"),
        (["--onnx", "{fp32}", "--precision", "fp32", "--tile", "250"], "multiple of the network's size multiple"),
    ],
)
def test_bad_trt_requests_exit_2_before_any_build(args, message, fp32_export, tmp_path):
    args = [a.format(fp32=fp32_export.path) for a in args]
    result = invoke("trt", *args, "--out", tmp_path / "m.plan")
    assert result.exit_code == 2 and message in result.stderr
