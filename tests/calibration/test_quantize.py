"""The QDQ model: really quantized (symmetric INT8), float where it must be, runs, close to FP32, reproducible."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from ibhfn.calibration.calibrate import calibrate
from ibhfn.calibration.quantize import default_float_nodes
from ibhfn.engine_metadata import EngineMetadata
from ibhfn.runtime.engine import open_engine

from .conftest import SETTINGS, TILE


@pytest.fixture(scope="module")
def int8(calibrated) -> onnx.ModelProto:
    return onnx.load(str(calibrated.path))


def producers(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in model.graph.node for out in node.output}


def test_no_initializer_is_left_unused(int8):
    """ONNX Runtime warns about every unused initializer, on every session of the model."""
    read = {name for node in int8.graph.node for name in node.input}
    assert [i.name for i in int8.graph.initializer if i.name not in read] == []


def test_convolutions_read_dequantized_int8_with_zero_point_zero(calibrated, int8):
    made_by = producers(int8)
    initializers = {init.name: numpy_helper.to_array(init) for init in int8.graph.initializer}
    float_nodes = set(calibrated.float_nodes)
    quantized = [n for n in int8.graph.node if n.op_type == "Conv" and n.name not in float_nodes]
    assert len(quantized) > 20
    for conv in quantized:
        assert [made_by[name].op_type for name in conv.input[:2]] == ["DequantizeLinear"] * 2, conv.name
    qdq = [n for n in int8.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    for node in qdq:
        zero_point = initializers[node.input[2]]
        assert not zero_point.any(), node.name  # symmetric
        is_bias = node.op_type == "DequantizeLinear" and node.input[0].endswith("bias_quantized")
        assert zero_point.dtype == (np.int32 if is_bias else np.int8), node.name  # biases are INT32
    for conv in quantized:  # per-channel: one scale per output channel
        weight, scale = (initializers[name] for name in made_by[conv.input[1]].input[:2])
        assert scale.shape == (weight.shape[0],), conv.name


def test_sensitive_nodes_stay_float_and_are_listed(calibrated, int8, fp32_onnx):
    fp32 = onnx.load(str(fp32_onnx))
    defaults = set(default_float_nodes(fp32))
    ops = {node.name: node.op_type for node in fp32.graph.node}
    assert "Sigmoid" in {ops[name] for name in defaults}
    head = [n.name for n in fp32.graph.node if n.input[1:2] == ["network.decoder.head.weight"]]
    assert head and head[0] in defaults
    metadata = EngineMetadata.from_props({p.key: p.value for p in int8.metadata_props})
    assert metadata.precision == "int8"
    assert defaults <= set(metadata.float32_nodes)
    assert metadata.extra["calibration.method"] == "minmax"
    made_by = producers(int8)
    for node in int8.graph.node:
        if node.name in defaults:
            assert not any(made_by.get(name) and made_by[name].op_type == "DequantizeLinear" for name in node.input), (
                node.name
            )


def test_runs_in_onnxruntime_and_the_runtime_engine(calibrated, fp32_onnx, tree):
    rng = np.random.default_rng(0)
    sar = rng.uniform(0, 1, (2, 2, TILE, TILE)).astype(np.float32)
    optical = rng.uniform(0, 0.5, (2, 13, TILE, TILE)).astype(np.float32)
    session = ort.InferenceSession(str(calibrated.path), providers=["CPUExecutionProvider"])
    direct = session.run(["restored"], {"sar": sar, "optical": optical})[0]
    with open_engine(calibrated.path, device="cpu") as engine, open_engine(fp32_onnx, device="cpu") as reference:
        assert engine.metadata.precision == "int8"
        through_runtime = engine.infer(sar, optical)
        fp32 = reference.infer(sar, optical)
    np.testing.assert_array_equal(direct, through_runtime)
    difference = np.abs(through_runtime - fp32)
    assert 0 < difference.max() < 0.05  # quantized, yet close


def test_int8_differs_from_fp32_yet_meets_the_targets(calibrated):
    # The tiny model is untrained (PSNR against truth around 15 dB), but the deltas measure only
    # what INT8 loses against FP32 on the same inputs, so the deployment targets apply as they are.
    accuracy, report = calibrated.accuracy, json.loads(calibrated.report_path.read_text())
    assert calibrated.target_met and calibrated.sensitivity is None
    assert 0 < accuracy.summary.overall.difference.max_abs < 0.05
    assert accuracy.summary.overall.difference.psnr > 40
    assert abs(accuracy.delta_psnr) <= 0.3 and abs(accuracy.delta_sam) <= 0.2
    assert report["target_met"] is True
    assert set(report["accuracy"]["bands"]) == {
        "B1",
        "B2",
        "B3",
        "B4",
        "B5",
        "B6",
        "B7",
        "B8",
        "B8A",
        "B9",
        "B10",
        "B11",
        "B12",
    }
    assert report["accuracy"]["vs_truth"]["delta_psnr_db"] == pytest.approx(accuracy.delta_psnr)


def test_held_out_samples_are_val_patches_never_calibration_ones(calibrated):
    held = {s.sample_id for s in calibrated.accuracy.summary.samples}
    chosen = {f"{p.scene}/p{p.patch}" for p in calibrated.selection.patches}
    assert len(held) == 4 and not held & chosen


def test_same_seed_gives_the_same_model_bytes(calibrated, fp32_onnx, tree, tmp_path):
    again = calibrate(fp32_onnx, tree, tmp_path / "again.onnx", **SETTINGS)
    assert again.path.read_bytes() == calibrated.path.read_bytes()


@pytest.mark.parametrize("method", ["entropy", "percentile"])
def test_histogram_methods_quantize_and_record_the_method(method, fp32_onnx, tree, tmp_path):
    result = calibrate(fp32_onnx, tree, tmp_path / f"{method}.onnx", **{**SETTINGS, "method": method})
    assert result.metadata.extra["calibration.method"] == method
    assert result.accuracy.to_dict()["int8_vs_fp32"]["max_abs"] > 0  # really quantized
    assert result.target_met == (result.path is not None)


def test_calibrating_chunk_by_chunk_gives_the_ranges_of_the_whole_set(fp32_onnx, tree, tmp_path, monkeypatch):
    """min/max merges exactly, so ranges from 2-patch chunks equal those of all 8 patches in one call."""
    from ibhfn.calibration import quantize
    from ibhfn.calibration.reader import SelectionReader
    from ibhfn.calibration.selection import select_patches
    from ibhfn.data import SEN12MSCR

    dataset = SEN12MSCR(tree, "train")
    selection = select_patches(dataset, 8, 0)
    prepared = tmp_path / "prepared.onnx"
    quantize.prepare(fp32_onnx, prepared)
    fed: list[int] = []
    ranges = {}
    for chunk in (2, 8):
        monkeypatch.setattr(quantize, "CHUNK", chunk)
        reader = SelectionReader(dataset, selection, TILE, progress=lambda done, total: fed.append(done))
        quantize.Quantizer(prepared, reader, "minmax", tmp_path / f"ranges{chunk}.json").calibrate()
        ranges[chunk] = json.loads((tmp_path / f"ranges{chunk}.json").read_text())
    assert fed == list(range(1, 9)) * 2  # every patch once per calibration
    assert len(ranges[2]["data"]) > 20 and ranges[2] == ranges[8]


def test_chunks_hand_out_each_patch_once_at_most_size_at_a_time(tree):
    from ibhfn.calibration.reader import SelectionReader
    from ibhfn.calibration.selection import select_patches
    from ibhfn.data import SEN12MSCR

    dataset = SEN12MSCR(tree, "train")
    reader = SelectionReader(dataset, select_patches(dataset, 7, 0), TILE)
    sizes = []
    for chunk in reader.chunks(3):
        sizes.append(len(list(iter(chunk.get_next, None))))
    assert sizes == [3, 3, 1]
    reader.rewind()
    assert len(list(iter(reader.get_next, None))) == 7


@pytest.fixture(scope="module")
def cpu_form(fp32_onnx, tree, tmp_path_factory):
    return calibrate(
        fp32_onnx,
        tree,
        tmp_path_factory.mktemp("cpu") / "model.int8.onnx",
        **{**SETTINGS, "method": "percentile"},
        form="cpu",
    )


def test_cpu_form_has_uint8_activations_int8_weights_and_no_relu_left(cpu_form):
    model = onnx.load(str(cpu_form.path))
    initializers = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    made_by = producers(model)
    assert cpu_form.target_met and cpu_form.metadata.extra["calibration.form"] == "cpu"
    quantized = [n for n in model.graph.node if n.op_type == "Conv" and n.name not in set(cpu_form.float_nodes)]
    assert len(quantized) > 20
    for conv in quantized:
        activation, weight = (made_by[name] for name in conv.input[:2])
        assert initializers[activation.input[2]].dtype == np.uint8, conv.name
        assert initializers[weight.input[2]].dtype == np.int8 and not initializers[weight.input[2]].any()
    assert "Relu" not in {n.op_type for n in model.graph.node}  # each became a zero point


def test_onnx_runtime_fuses_the_cpu_form_into_integer_convolutions(cpu_form, calibrated, tmp_path):
    """The symmetric form leaves float Conv between Q/DQ pairs on the CPU; the CPU form only its float nodes."""

    def optimized_ops(path, name):
        options = ort.SessionOptions()
        options.optimized_model_filepath = str(tmp_path / name)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return [n.op_type for n in onnx.load(str(tmp_path / name)).graph.node]

    cpu, symmetric = optimized_ops(cpu_form.path, "cpu.onnx"), optimized_ops(calibrated.path, "trt.onnx")
    float_convs = sum(op == "Conv" for op in onnx_ops(cpu_form.path, set(cpu_form.float_nodes)))
    assert cpu.count("QLinearConv") > 20 and cpu.count("Conv") <= float_convs
    assert symmetric.count("Conv") > float_convs  # Conv -> Relu islands stay float in the symmetric form


def onnx_ops(path, names: set[str]) -> list[str]:
    return [n.op_type for n in onnx.load(str(path)).graph.node if n.name in names]
