import json

import pytest

from ibhfn.errors import ModelError
from ibhfn.runtime.engine_sidecar import check_plan_sidecar, read_plan_sidecar, sidecar_path


@pytest.fixture
def plan(tmp_path, standin_metadata):
    plan = tmp_path / "model.plan"
    plan.write_bytes(b"plan")
    sidecar_path(plan).write_text(
        json.dumps(
            {
                "metadata": standin_metadata.to_props(),
                "tensorrt_version": "10.3.0.30",
                "gpu_name": "Orin",
                "compute_capability": "8.7",
                "precision": "fp16",
                "profiles": [{"optical": {"min": [1, 13, 64, 64], "opt": [4, 13, 256, 256], "max": [8, 13, 512, 512]}}],
                "tensors": [{"name": "sar"}, {"name": "optical"}, {"name": "restored"}],
                "onnx_sha256": "ab" * 32,
            }
        )
    )
    return plan


def test_sidecar_is_read_beside_the_plan(plan, standin_metadata):
    sidecar = read_plan_sidecar(plan)
    assert sidecar_path(plan).name == "model.plan.json"
    assert sidecar.metadata == standin_metadata
    assert sidecar.compute_capability == (8, 7) and sidecar.precision == "fp16"
    assert sidecar.onnx_sha256 == "ab" * 32 and len(sidecar.profiles) == 1


def test_same_release_and_architecture_pass(plan):
    sidecar = read_plan_sidecar(plan)
    check_plan_sidecar(plan, sidecar, tensorrt_version="10.3.0.26", compute_capability=(8, 7), gpu_name="Orin (nvgpu)")


def test_other_tensorrt_release_is_refused_with_both_versions(plan):
    with pytest.raises(ModelError, match=r"model.plan: built for TensorRT 10.3.0.30, this machine has 10.8.0.*rebuild"):
        check_plan_sidecar(
            plan, read_plan_sidecar(plan), tensorrt_version="10.8.0.43", compute_capability=(8, 7), gpu_name="Orin"
        )


def test_other_gpu_architecture_is_refused(plan):
    with pytest.raises(ModelError, match=r"compute capability 8.7 \(Orin\), this GPU is 9.0 \(H100\)"):
        check_plan_sidecar(
            plan, read_plan_sidecar(plan), tensorrt_version="10.3.0", compute_capability=(9, 0), gpu_name="H100"
        )


def _built_with(plan, **build):
    data = json.loads(sidecar_path(plan).read_text())
    data["build"] = build
    sidecar_path(plan).write_text(json.dumps(data))
    return read_plan_sidecar(plan)


def test_version_compatible_plan_runs_on_its_release_and_later_ones(plan):
    sidecar = _built_with(plan, version_compatible=True)
    for later in ("10.3.0.26", "10.8.0.43", "11.0.0.1"):
        check_plan_sidecar(plan, sidecar, tensorrt_version=later, compute_capability=(8, 7), gpu_name="Orin")
    with pytest.raises(
        ModelError,
        match=r"built for TensorRT 10.3.0.30 or later \(version-compatible\), "
        r"this machine has 8.6.1.*rebuild",
    ):
        check_plan_sidecar(plan, sidecar, tensorrt_version="8.6.1", compute_capability=(8, 7), gpu_name="Orin")


def test_hardware_compatible_plan_runs_on_any_ampere_or_newer_gpu(plan):
    sidecar = _built_with(plan, hardware_compat=True)
    for capability in ((8, 0), (8, 6), (9, 0), (12, 0)):
        check_plan_sidecar(plan, sidecar, tensorrt_version="10.3.0", compute_capability=capability, gpu_name="GPU")
    with pytest.raises(ModelError, match=r"Ampere or newer GPUs \(hardware-compatible\), this GPU is 7.5 \(T4\)"):
        check_plan_sidecar(plan, sidecar, tensorrt_version="10.3.0", compute_capability=(7, 5), gpu_name="T4")


def test_missing_sidecar_is_named(tmp_path):
    plan = tmp_path / "lonely.plan"
    plan.write_bytes(b"plan")
    with pytest.raises(ModelError, match="lonely.plan.json is missing"):
        read_plan_sidecar(plan)


@pytest.mark.parametrize(
    "content, match",
    [
        ("{not json", "cannot read the plan sidecar"),
        ('{"metadata": {}}', "no ibhfn metadata"),
        ('{"metadata": {"ibhfn.size_multiple": "4"}}', "incomplete or malformed"),
    ],
)
def test_broken_sidecars_are_refused(plan, standin_metadata, content, match):
    sidecar_path(plan).write_text(content)
    with pytest.raises(ModelError, match=match):
        read_plan_sidecar(plan)


def test_sidecar_without_build_facts_is_refused(plan, standin_metadata):
    sidecar_path(plan).write_text(json.dumps({"metadata": standin_metadata.to_props()}))
    with pytest.raises(ModelError, match="incomplete or malformed.*tensorrt_version"):
        read_plan_sidecar(plan)


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("metadata", {}, "no ibhfn metadata"),
        ("compute_capability", "eight", "compute capability 'eight' is not of the form 8.7"),
    ],
)
def test_sidecar_errors_name_the_file_once(plan, standin_metadata, field, value, match):
    data = json.loads(sidecar_path(plan).read_text())
    data[field] = value
    sidecar_path(plan).write_text(json.dumps(data))
    with pytest.raises(ModelError, match=match) as error:
        read_plan_sidecar(plan)
    assert str(error.value).count("model.plan.json") == 1
