"""Which layer groups cost the most accuracy in INT8, and leaving the worst of them in float.

A layer group is the network module a node belongs to, read from its weights' names
(`network.<group>.…`: sar_encoder, optical_encoder, vib, fusion, gate, decoder, dirac_skip);
a node without weights joins the group of the node that feeds it. When the fully quantized model
misses the targets, each group is quantized alone (everything else in float) and ranked by the
error it adds against FP32 (RMS of the difference on the held-out samples); then the worst groups
are left in float, one more at a time, until the targets are met. At least one group stays
quantized: a model with nothing in INT8 would meet any target and mean nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import onnx

from ibhfn.calibration.accuracy import AccuracyReport, Targets

WEIGHT_PREFIX = "network."
UNGROUPED = "input"  # nodes fed only by graph inputs and unnamed constants

Trial = Callable[[Sequence[str]], AccuracyReport]  # nodes left in float -> accuracy of that INT8 model


@dataclass(frozen=True)
class GroupSensitivity:
    """The accuracy of the model with only this group quantized."""

    group: str
    nodes: tuple[str, ...]
    added_error: float  # RMS of INT8 - FP32
    delta_psnr: float
    delta_sam: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (node names counted, not listed)."""
        return {
            "group": self.group,
            "nodes": len(self.nodes),
            "added_error_rms": self.added_error,
            "delta_psnr_db": self.delta_psnr,
            "delta_sam_deg": self.delta_sam,
        }


@dataclass(frozen=True)
class SensitivityResult:
    """The ranking (worst first), the groups left in float and the accuracy it came to."""

    ranking: tuple[GroupSensitivity, ...]
    excluded_groups: tuple[str, ...]
    excluded_nodes: tuple[str, ...]
    accuracy: AccuracyReport
    target_met: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ranking": [g.to_dict() for g in self.ranking],
            "excluded_groups": list(self.excluded_groups),
            "target_met": self.target_met,
            "delta_psnr_db": self.accuracy.delta_psnr,
            "delta_sam_deg": self.accuracy.delta_sam,
        }


def layer_groups(model: onnx.ModelProto) -> dict[str, list[str]]:
    """Node names by layer group, groups in order of first appearance, nodes in graph order."""
    initializers = {init.name for init in model.graph.initializer}
    group_of_tensor: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    for node in model.graph.node:
        group = _weight_group(node, initializers)
        if group is None:
            fed_by = [group_of_tensor[name] for name in node.input if name in group_of_tensor]
            group = fed_by[0] if fed_by else UNGROUPED
        groups.setdefault(group, []).append(node.name)
        group_of_tensor.update({out: group for out in node.output})
    return groups


def _weight_group(node: onnx.NodeProto, initializers: set[str]) -> str | None:
    """The module a node's named weights belong to, if it has any."""
    for name in node.input:
        if name in initializers and name.startswith(WEIGHT_PREFIX):
            return str(name[len(WEIGHT_PREFIX) :].split(".")[0])
    return None


def rank_groups(groups: dict[str, list[str]], always_float: Sequence[str], trial: Trial) -> list[GroupSensitivity]:
    """Quantize each group alone and rank the groups by the error they add, worst first."""
    every = [name for nodes in groups.values() for name in nodes]
    ranking = []
    for group, nodes in groups.items():
        quantizable = [name for name in nodes if name not in always_float]
        if not quantizable:
            continue
        others = set(quantizable)
        report = trial([name for name in every if name not in others])
        ranking.append(
            GroupSensitivity(group, tuple(quantizable), report.added_error, report.delta_psnr, report.delta_sam)
        )
    return sorted(ranking, key=lambda g: g.added_error, reverse=True)


def exclude_until_met(
    groups: dict[str, list[str]], always_float: Sequence[str], trial: Trial, targets: Targets
) -> SensitivityResult:
    """Rank the groups, then leave the worst in float one more at a time until the targets are met."""
    ranking = rank_groups(groups, always_float, trial)
    excluded_groups: list[str] = []
    excluded = list(always_float)
    report = None
    for sensitive in ranking[:-1]:
        excluded_groups.append(sensitive.group)
        excluded += sensitive.nodes
        report = trial(excluded)
        if report.meets(targets):
            break
    if report is None:  # a single group: nothing can be left in float without emptying the model
        report = trial(excluded)
    return SensitivityResult(
        ranking=tuple(ranking),
        excluded_groups=tuple(excluded_groups),
        excluded_nodes=tuple(excluded),
        accuracy=report,
        target_met=report.meets(targets),
    )
