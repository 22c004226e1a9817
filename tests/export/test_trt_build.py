import importlib.util
import json

import numpy as np
import pytest

from ibhfn.errors import DependencyError, ModelError, ShapeError
from ibhfn.export.trt_build import build_engine, check_build_request, plan_sidecar, write_sidecar
from ibhfn.export.trt_profiles import derive_profile, parse_batch
from ibhfn.hashing import file_sha256
from ibhfn.runtime.engine_sidecar import check_plan_sidecar, read_plan_sidecar, sidecar_path

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
needs_tensorrt = pytest.mark.skipif(not HAS_TENSORRT, reason="TensorRT not installed")


@pytest.mark.parametrize("text, expected", [("1:4:8", (1, 4, 8)), ("2", (2, 2, 2)), ("3:3:16", (3, 3, 16))])
def test_batch_ranges_are_read(text, expected):
    assert parse_batch(text) == expected


@pytest.mark.parametrize("text", ["8:4:1", "0:1:2", "1:2", "a:b:c", "1:2:3:4"])
def test_bad_batch_ranges_are_refused(text):
    with pytest.raises(ShapeError, match="batch"):
        parse_batch(text)


def test_profile_is_square_tiles_over_the_batch_range(fp32_export):
    profiles = {p.name: p for p in derive_profile(fp32_export.metadata, tile=128, batch=(1, 4, 8))}
    assert set(profiles) == {"sar", "optical"}
    assert profiles["optical"].min == (1, 13, 128, 128)
    assert profiles["optical"].opt == (4, 13, 128, 128)
    assert profiles["sar"].max == (8, 2, 128, 128)


def test_tile_must_be_a_multiple_of_the_size_multiple(fp32_export):
    with pytest.raises(ShapeError, match="multiple of the network's size multiple 4"):
        derive_profile(fp32_export.metadata, tile=130)


def test_a_static_onnx_takes_only_its_own_shape(static_dsen2cr_export):
    request = check_build_request(static_dsen2cr_export.path, tile=32, batch=(2, 2, 2))
    assert request.profiles[1].max == (2, 13, 32, 32)
    with pytest.raises(ShapeError, match="the ONNX fixes sar to"):
        check_build_request(static_dsen2cr_export.path, tile=64, batch=(2, 2, 2))


def test_precision_must_be_the_onnx_precision(fp32_export, fp16_export):
    assert check_build_request(fp16_export.path).precision == "fp16"
    with pytest.raises(ModelError, match="is an fp32 ONNX and precision lives in the ONNX.*--precision fp16"):
        check_build_request(fp32_export.path, precision="fp16")
    with pytest.raises(ModelError, match="INT8 plan needs the QDQ ONNX written by ibhfn-calibrate"):
        check_build_request(fp16_export.path, precision="int8")


def test_a_missing_onnx_is_named(tmp_path):
    with pytest.raises(ModelError, match="nothing.onnx: ONNX file not found"):
        check_build_request(tmp_path / "nothing.onnx")


def test_sidecar_is_what_the_runtime_reads_and_checks(fp16_export, tmp_path):
    request = check_build_request(fp16_export.path, tile=64, batch=(1, 2, 4))
    plan = tmp_path / "model.plan"
    plan.write_bytes(b"plan")
    tensors = [{"name": "sar", "mode": "input", "dtype": "DataType.FLOAT", "shape": [-1, 2, -1, -1]}]
    written = plan_sidecar(
        request, tensorrt_version="10.3.0.30", gpu_name="Orin", compute_capability=(8, 7), tensors=tensors
    )
    assert write_sidecar(plan, written, tile=64) == sidecar_path(plan)
    read = read_plan_sidecar(plan)
    assert read == written
    assert read.metadata.float32_nodes == fp16_export.metadata.float32_nodes
    assert read.onnx_sha256 == file_sha256(fp16_export.path) == fp16_export.onnx_sha256
    assert read.profiles == [
        {
            "sar": {"min": [1, 2, 64, 64], "opt": [2, 2, 64, 64], "max": [4, 2, 64, 64]},
            "optical": {"min": [1, 13, 64, 64], "opt": [2, 13, 64, 64], "max": [4, 13, 64, 64]},
        }
    ]
    assert json.loads(sidecar_path(plan).read_text())["build"] == {
        "hardware_compat": False,
        "version_compatible": False,
        "tile": 64,
    }
    check_plan_sidecar(plan, read, tensorrt_version="10.3.0.26", compute_capability=(8, 7), gpu_name="Orin")
    with pytest.raises(ModelError, match="rebuild the plan"):
        check_plan_sidecar(plan, read, tensorrt_version="10.3.0", compute_capability=(9, 0), gpu_name="H100")


def test_compatible_plans_say_so_in_their_sidecar(fp16_export, tmp_path):
    request = check_build_request(fp16_export.path, tile=64, batch=(1, 2, 4))
    plan = tmp_path / "model.plan"
    plan.write_bytes(b"plan")
    written = plan_sidecar(
        request,
        tensorrt_version="10.3.0.30",
        gpu_name="A100",
        compute_capability=(8, 0),
        tensors=[],
        hardware_compat=True,
        version_compatible=True,
    )
    write_sidecar(plan, written)
    assert json.loads(sidecar_path(plan).read_text())["build"] == {"hardware_compat": True, "version_compatible": True}
    read = read_plan_sidecar(plan)
    assert read == written
    check_plan_sidecar(plan, read, tensorrt_version="10.8.0.43", compute_capability=(9, 0), gpu_name="H100")


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed")
def test_build_without_tensorrt_says_how_to_install_it(fp32_export, tmp_path):
    with pytest.raises(DependencyError, match="TensorRT is not installed.*JetPack.*pypi.nvidia.com"):
        build_engine(fp32_export.path, tmp_path / "model.plan")
    assert not list(tmp_path.iterdir())


@needs_tensorrt
@pytest.mark.tensorrt
def test_fp16_plan_builds_and_matches_onnx_runtime(fp16_export, tmp_path):
    from ibhfn.export.parity import generated_inputs
    from ibhfn.runtime.engine import open_engine

    plan = build_engine(
        fp16_export.path, tmp_path / "model.plan", tile=32, batch=(1, 2, 2), timing_cache=tmp_path / "timing.cache"
    )
    assert (tmp_path / "timing.cache").stat().st_size > 0
    sar, optical = generated_inputs((2, 32, 32), seed=2)
    with open_engine(plan) as engine, open_engine(fp16_export.path, device="cpu") as reference:
        assert engine.tile_size == 32 and engine.max_batch == 2
        assert np.abs(engine.infer(sar, optical) - reference.infer(sar, optical)).max() <= 1e-2
