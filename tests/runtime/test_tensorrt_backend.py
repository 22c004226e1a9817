"""TensorRT backend: what can be checked without TensorRT here, the real plan run where it is installed."""

import importlib.util
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from ibhfn.errors import DependencyError, ModelError
from ibhfn.runtime.cli import app
from ibhfn.runtime.cuda_memory import open_cuda_memory
from ibhfn.runtime.engine import open_engine
from ibhfn.runtime.engine_sidecar import sidecar_path

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
HAS_CUDA_BINDINGS = any(importlib.util.find_spec(name) is not None for name in ("cuda", "pycuda"))
needs_tensorrt = pytest.mark.skipif(not HAS_TENSORRT, reason="TensorRT not installed")


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed")
def test_plan_without_tensorrt_says_how_to_install_it(tmp_path):
    plan = tmp_path / "model.plan"
    plan.write_bytes(b"plan")
    hint = r"TensorRT is not installed: on Jetson it comes with JetPack .*pypi.nvidia.com"
    with pytest.raises(DependencyError, match=hint):
        open_engine(plan)


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed")
def test_cli_with_a_plan_and_no_tensorrt_exits_2_with_one_line(tmp_path):
    plan = tmp_path / "model.plan"
    plan.write_bytes(b"plan")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a_s1.tif").write_bytes(b"x")
    (tmp_path / "in" / "a_s2.tif").write_bytes(b"x")
    result = CliRunner().invoke(app, ["--engine", str(plan), str(tmp_path / "in"), str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: TensorRT is not installed")
    assert len(result.stderr.strip().splitlines()) == 1


def test_plan_on_the_cpu_is_refused(tmp_path):
    plan = tmp_path / "model.engine"
    plan.write_bytes(b"plan")
    with pytest.raises(ModelError, match="runs on an NVIDIA GPU"):
        open_engine(plan, device="cpu")


@pytest.mark.skipif(HAS_CUDA_BINDINGS, reason="cuda-python or pycuda is installed")
def test_no_cuda_bindings_is_a_dependency_error():
    with pytest.raises(DependencyError, match="neither cuda-python nor pycuda"):
        open_cuda_memory()


def build_plan(onnx_path, plan_path, tile_range=(32, 64, 128), max_batch=4):
    """Build a dynamic-shape plan from the stand-in ONNX and write its sidecar, as export does."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse(onnx_path.read_bytes())
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    low, opt, high = tile_range
    for name, bands in (("sar", 2), ("optical", 13)):
        profile.set_shape(name, (1, bands, low, low), (max_batch, bands, opt, opt), (max_batch, bands, high, high))
    config.add_optimization_profile(profile)
    plan_path.write_bytes(bytes(builder.build_serialized_network(network, config)))
    with open_cuda_memory() as cuda:
        gpu_name, capability = cuda.gpu()
    import onnx

    props = {p.key: p.value for p in onnx.load(onnx_path).metadata_props}
    sidecar_path(plan_path).write_text(
        json.dumps(
            {
                "metadata": props,
                "tensorrt_version": trt.__version__,
                "gpu_name": gpu_name,
                "compute_capability": list(capability),
                "precision": "fp32",
            }
        )
    )
    return plan_path


@pytest.fixture
def batches():
    """Three batches of 64 px tiles, the first at the plans' largest batch, the others partial."""
    rng = np.random.default_rng(0)
    return [
        (rng.random((n, 2, 64, 64), dtype=np.float32), rng.random((n, 13, 64, 64), dtype=np.float32)) for n in (4, 3, 1)
    ]


@pytest.mark.tensorrt
@needs_tensorrt
def test_plan_matches_onnx_runtime_over_double_buffered_batches(tmp_path, onnx_engine_path, batches):
    plan = build_plan(onnx_engine_path, tmp_path / "standin.plan")
    with open_engine(onnx_engine_path, device="cpu") as reference, open_engine(plan) as engine:
        assert engine.max_batch == 4 and engine.tile_size is None
        engine.check_tile(64)
        restored = list(engine.infer_batches(batches))
        expected = [reference.infer(*b) for b in batches]
    for got, want in zip(restored, expected):
        np.testing.assert_allclose(got, want, atol=1e-3)


@pytest.mark.tensorrt
@needs_tensorrt
def test_a_plan_with_a_gate_runs_with_and_without_it(tmp_path, gate_engine_path, batches):
    plan = build_plan(gate_engine_path, tmp_path / "gate.plan")
    with open_engine(gate_engine_path, device="cpu", gate=True) as reference:
        expected = [reference.infer(*b) for b in batches]
    with open_engine(plan, gate=True) as gated, open_engine(plan) as plain:  # every output needs an address
        both = list(gated.infer_batches(batches))
        restored = list(plain.infer_batches(batches))
    for got, alone, want in zip(both, restored, expected):
        assert got.shape[1] == 14 and alone.shape[1] == 13
        np.testing.assert_allclose(got, want, atol=1e-3)
        np.testing.assert_allclose(alone, want[:, :13], atol=1e-3)


@pytest.mark.tensorrt
@needs_tensorrt
def test_plan_built_elsewhere_is_refused(tmp_path, onnx_engine_path):
    plan = build_plan(onnx_engine_path, tmp_path / "standin.plan")
    sidecar = json.loads(sidecar_path(plan).read_text())
    sidecar["tensorrt_version"] = "9.0.0"
    sidecar_path(plan).write_text(json.dumps(sidecar))
    with pytest.raises(ModelError, match="built for TensorRT 9.0.0"):
        open_engine(plan)
