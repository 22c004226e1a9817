"""The sensitivity pass: layer groups ranked and the worst left in float; a target it cannot meet is flagged."""

from __future__ import annotations

import json

import onnx
import pytest

from ibhfn.calibration.accuracy import Targets
from ibhfn.calibration.calibrate import calibrate
from ibhfn.calibration.sensitivity import layer_groups

from .conftest import SETTINGS

GROUPS = {"sar_encoder", "optical_encoder", "vib", "fusion", "gate", "decoder", "dirac_skip"}


@pytest.fixture(scope="module")
def impossible(fp32_onnx, tree, tmp_path_factory):
    """A target INT8 cannot reach: 5 dB better than FP32 against ground truth."""
    out = tmp_path_factory.mktemp("forced") / "model.int8.onnx"
    return calibrate(fp32_onnx, tree, out, **SETTINGS, targets=Targets(delta_psnr=-5.0, delta_sam=0.2))


def test_nodes_are_grouped_by_network_module(fp32_onnx):
    model = onnx.load(str(fp32_onnx))
    groups = layer_groups(model)
    assert set(groups) == GROUPS
    assert sum(map(len, groups.values())) == len(model.graph.node)
    by_name = {node.name: node for node in model.graph.node}
    sigmoid = [name for name in groups["gate"] if by_name[name].op_type == "Sigmoid"]
    assert sigmoid  # a weightless node joins the group that feeds it


def test_unreachable_target_ranks_groups_names_them_and_writes_no_model(impossible):
    sensitivity = impossible.sensitivity
    ranked = [g.group for g in sensitivity.ranking]
    assert not impossible.target_met and impossible.path is None
    assert not impossible.report_path.with_name("model.int8.onnx").exists()
    assert set(ranked) == GROUPS - {"dirac_skip"}  # the skip is float by default: nothing to rank
    errors = [g.added_error for g in sensitivity.ranking]
    assert errors == sorted(errors, reverse=True) and errors[0] > 0
    assert list(sensitivity.excluded_groups) == ranked[:-1]  # all but the least sensitive tried in float
    report = json.loads(impossible.report_path.read_text())
    assert report["target_met"] is False and report["output"] is None
    assert report["sensitivity"]["excluded_groups"] == ranked[:-1]
    assert [g["group"] for g in report["sensitivity"]["ranking"]] == ranked
    assert set(impossible.default_float_nodes) < set(impossible.float_nodes)
