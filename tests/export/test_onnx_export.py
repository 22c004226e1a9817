import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import ibhfn
from ibhfn.engine_metadata import EngineMetadata
from ibhfn.errors import InputError, ModelError, ShapeError
from ibhfn.export import onnx_export
from ibhfn.export.deploy import fold
from ibhfn.export.onnx_export import PARITY_TOLERANCE, check_exported_opset, export_onnx, report_path
from ibhfn.export.onnx_metadata import read_metadata
from ibhfn.export.onnx_opset import MIN_OPSET
from ibhfn.export.parity import generated_inputs
from ibhfn.hashing import file_sha256
from ibhfn.preprocessing import PREPROCESSING
from ibhfn.runtime.engine import open_engine

RANDOM_OPS = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli"}


def torch_output(model, sar, optical):
    with torch.inference_mode():
        return fold(model)(torch.from_numpy(sar), torch.from_numpy(optical)).numpy()


def test_exported_model_passes_the_full_checker(fp32_export):
    model = onnx.load(fp32_export.path)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version >= MIN_OPSET


def test_no_random_op_and_no_logvar_weights_survive(fp32_export):
    model = onnx.load(fp32_export.path)
    assert not RANDOM_OPS & {node.op_type for node in model.graph.node}
    assert not [init.name for init in model.graph.initializer if "logvar" in init.name]


def test_batch_height_and_width_are_dynamic(fp32_export):
    model = onnx.load(fp32_export.path)
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim
        assert [bool(d.dim_param) for d in dims] == [True, False, True, True]
    assert [v.name for v in model.graph.input] == ["sar", "optical"]
    assert [v.name for v in model.graph.output] == ["restored"]


def test_metadata_is_read_back(fp32_export, ibhfn_checkpoint, ibhfn_model):
    model = onnx.load(fp32_export.path)
    metadata = EngineMetadata.from_props({p.key: p.value for p in model.metadata_props})
    assert metadata == read_metadata(fp32_export.path) == fp32_export.metadata
    assert metadata.checkpoint_sha256 == file_sha256(ibhfn_checkpoint)
    assert metadata.size_multiple == ibhfn_model.size_multiple == 4
    assert (metadata.arch, metadata.preset, metadata.precision) == ("ibhfn", "edge", "fp32")
    assert metadata.preprocessing == PREPROCESSING["default"]
    assert metadata.package_version == ibhfn.__version__
    assert metadata.outputs == ("restored",) and metadata.float32_nodes == ()
    assert metadata.extra["opset"] == str(fp32_export.opset)


def test_sidecar_records_the_checks(fp32_export):
    sidecar = json.loads(report_path(fp32_export.path).read_text())
    assert report_path(fp32_export.path).name == "model.onnx.json"
    assert sidecar["parity"]["passed"] and sidecar["parity"]["max_abs"] <= PARITY_TOLERANCE
    assert {(c["batch"], c["height"], c["width"]) for c in sidecar["parity"]["cases"]} >= {(1, 32, 32), (2, 16, 48)}
    assert sidecar["io_shapes"]["optical"][1] == 13
    assert sidecar["metadata"] == fp32_export.metadata.to_props()


@pytest.mark.parametrize("shape", [(1, 8, 8), (2, 20, 36), (4, 64, 24)])
def test_onnx_runtime_matches_pytorch(fp32_export, ibhfn_model, shape):
    sar, optical = generated_inputs(shape, seed=7)
    session = ort.InferenceSession(str(fp32_export.path), providers=["CPUExecutionProvider"])
    restored = session.run(["restored"], {"sar": sar, "optical": optical})[0]
    assert restored.shape == (shape[0], 13, shape[1], shape[2])
    assert np.abs(restored - torch_output(ibhfn_model, sar, optical)).max() <= PARITY_TOLERANCE


def test_runtime_opens_the_export_and_matches_pytorch(fp32_export, ibhfn_model):
    sar, optical = generated_inputs((3, 32, 32), seed=11)
    with open_engine(fp32_export.path, device="cpu") as engine:
        assert engine.tile_size is None and engine.max_batch is None
        assert engine.metadata == fp32_export.metadata
        restored = engine.infer(sar, optical)
    assert np.abs(restored - torch_output(ibhfn_model, sar, optical)).max() <= PARITY_TOLERANCE


def test_static_dsen2cr_export_fixes_the_shape_for_the_runtime(static_dsen2cr_export, dsen2cr_model):
    report = static_dsen2cr_export
    assert report.metadata.arch == "dsen2cr" and report.metadata.size_multiple == 1
    assert report.io_shapes["optical"] == [2, 13, 32, 32]
    assert [(c.batch, c.height, c.width) for c in report.parity] == [(2, 32, 32)]
    sar, optical = generated_inputs((2, 32, 32), seed=5)
    with open_engine(report.path, device="cpu") as engine:
        assert (engine.tile_size, engine.max_batch) == (32, 2)
        assert np.abs(engine.infer(sar, optical) - torch_output(dsen2cr_model, sar, optical)).max() <= PARITY_TOLERANCE


def test_static_shape_must_respect_the_size_multiple(ibhfn_model, tmp_path):
    with pytest.raises(ShapeError, match="multiples of 4"):
        export_onnx(ibhfn_model, tmp_path / "m.onnx", static_shape=(1, 30, 32))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"opset": 13}, "opset 13 is too old"),
        ({"opset": 999}, "opset 999 is newer than onnx"),
        ({"precision": "int8"}, "ibhfn-calibrate"),
        ({"arch": "dsen2cr"}, "expected 'dsen2cr'"),
        ({"arch": "foo"}, "unknown arch 'foo'; choose one of ibhfn, dsen2cr"),
    ],
)
def test_bad_requests_are_refused_before_export(ibhfn_model, tmp_path, kwargs, message):
    with pytest.raises(ModelError, match=message):
        export_onnx(ibhfn_model, tmp_path / "m.onnx", **kwargs)
    assert not list(tmp_path.iterdir())


def test_checkpoint_problems_name_the_file(tmp_path, dsen2cr_checkpoint):
    with pytest.raises(ModelError, match="missing.pt: checkpoint not found"):
        export_onnx(tmp_path / "missing.pt", tmp_path / "m.onnx")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="junk.pt: not an ibhfn checkpoint"):
        export_onnx(junk, tmp_path / "m.onnx")
    with pytest.raises(ModelError, match="holds a 'dsen2cr' network, expected 'ibhfn'"):
        export_onnx(dsen2cr_checkpoint, tmp_path / "m.onnx", arch="ibhfn")
    assert not (tmp_path / "m.onnx").exists()


@pytest.fixture
def no_export(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail a test that reaches the exporter: what it checks must stop export_onnx before any work."""

    def refuse(*args, **kwargs):
        raise AssertionError("the export ran")

    monkeypatch.setattr(onnx_export, "torch_to_onnx", refuse)


def test_output_over_the_checkpoint_is_refused(ibhfn_checkpoint, tmp_path, no_export):
    checkpoint = shutil.copy(ibhfn_checkpoint, tmp_path / "c.pt")
    named_like_a_report = shutil.copy(ibhfn_checkpoint, tmp_path / "m.onnx.json")
    with pytest.raises(InputError, match="c.pt: is also an input"):
        export_onnx(checkpoint, checkpoint)
    with pytest.raises(InputError, match="m.onnx.json: is also an input"):
        export_onnx(named_like_a_report, tmp_path / "m.onnx")  # its report would replace the checkpoint
    assert file_sha256(checkpoint) == file_sha256(named_like_a_report) == file_sha256(ibhfn_checkpoint)


def test_report_destination_is_checked_before_the_export(ibhfn_model, tmp_path, no_export):
    (tmp_path / "m.onnx.json").mkdir()
    with pytest.raises(InputError, match="m.onnx.json: is a folder"):
        export_onnx(ibhfn_model, tmp_path / "m.onnx")
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx.json"]


def test_a_graph_the_exporter_left_at_another_opset_is_refused(tmp_path):
    graph = onnx.helper.make_graph([], "g", [], [])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)])
    check_exported_opset(model, 18, tmp_path / "m.onnx")
    with pytest.raises(ModelError, match="cannot convert this network to opset 17 \\(it stays at opset 18\\)"):
        check_exported_opset(model, 17, tmp_path / "m.onnx")
