"""The guards of `build_engine` that run before TensorRT is imported: tested here, where TensorRT is absent."""

import dataclasses
import importlib.util
import shutil

import onnx
import pytest

from ibhfn.errors import DependencyError, InputError, ModelError
from ibhfn.export.onnx_metadata import read_metadata, set_metadata
from ibhfn.export.trt_build import build_engine, check_build_request

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


def test_a_plan_over_its_own_onnx_is_refused_and_the_onnx_kept(fp32_export, tmp_path):
    onnx_path = shutil.copy(fp32_export.path, tmp_path / "m.onnx")
    with pytest.raises(InputError, match="m.onnx: is also an input"):
        build_engine(onnx_path, onnx_path, precision="fp32")
    assert onnx_path.read_bytes() == fp32_export.path.read_bytes()


def test_a_plan_over_its_timing_cache_is_refused(fp32_export, tmp_path):
    cache = tmp_path / "timing.cache"
    cache.write_bytes(b"cache")
    with pytest.raises(InputError, match="timing.cache: is also an input"):
        build_engine(fp32_export.path, cache, timing_cache=cache)
    assert cache.read_bytes() == b"cache"


def test_an_implicit_export_would_not_replace_the_onnx_named_like_the_plan(fp32_export, tmp_path):
    """Without an ONNX the bundled model is exported to <out>.onnx: an --out of that name is refused."""
    onnx_path = shutil.copy(fp32_export.path, tmp_path / "m.onnx")
    with pytest.raises(InputError, match="is also an input"):
        build_engine(None, onnx_path, precision="fp32")
    assert onnx_path.read_bytes() == fp32_export.path.read_bytes()


def test_int8_without_the_calibrated_onnx_is_refused_before_any_export(tmp_path):
    with pytest.raises(ModelError, match="INT8 plan needs the QDQ ONNX: write it with ibhfn-calibrate"):
        build_engine(None, tmp_path / "m.plan", precision="int8")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed: the export would go on")
def test_without_tensorrt_no_onnx_is_exported_for_a_plan_that_cannot_be_built(tmp_path):
    exported = []
    with pytest.raises(DependencyError, match="TensorRT is not installed"):
        build_engine(None, tmp_path / "m.plan", precision="fp16", on_export=exported.append)
    assert exported == [] and list(tmp_path.iterdir()) == []


def test_an_int8_onnx_of_the_cpu_form_is_refused_naming_the_tensorrt_form(fp32_export, tmp_path):
    """`ibhfn-calibrate --form cpu` writes UINT8 activations with zero points, which TensorRT does not build."""
    model = onnx.load(fp32_export.path)
    metadata = read_metadata(fp32_export.path)
    cpu_form = dataclasses.replace(metadata, precision="int8", extra={**metadata.extra, "calibration.form": "cpu"})
    set_metadata(model, cpu_form)
    onnx_path = tmp_path / "m.int8.onnx"
    onnx.save(model, onnx_path)
    with pytest.raises(ModelError) as refused:
        build_engine(onnx_path, tmp_path / "m.plan")
    message = str(refused.value)
    assert message.startswith(f"{onnx_path}: ") and "`ibhfn-calibrate --form tensorrt`" in message
    assert "\n" not in message and sorted(path.name for path in tmp_path.iterdir()) == ["m.int8.onnx"]
    tensorrt_form = dataclasses.replace(cpu_form, extra={**metadata.extra, "calibration.form": "tensorrt"})
    set_metadata(model, tensorrt_form)
    onnx.save(model, onnx_path)
    assert check_build_request(onnx_path).precision == "int8"  # the symmetric form passes this guard
