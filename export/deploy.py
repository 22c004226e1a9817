"""The deploy form: a network reduced to its inference path, the module that gets exported.

IB-HFN at inference uses z = mu: the deploy form drops the bottleneck's logvar head (its weights
never reach the engine), never samples, computes no KL and returns only the restored image (and
the clear-sky gate G when asked). Its output equals `model.eval()(sar, optical)` bit for bit.
DSen2-CR has no bottleneck and no gate; its deploy form is the eval-mode network itself.
"""

from __future__ import annotations

import copy
from typing import Any, cast

from torch import Tensor, nn

from ibhfn.engine_metadata import GATE_OUTPUT_NAME, OUTPUT_NAME
from ibhfn.errors import ModelError
from ibhfn.model import IBHFN
from ibhfn.model.checkpoint import network_config
from ibhfn.model.vib import SpatialBottleneck


class DeployModel(nn.Module):
    """forward(sar, optical) -> restored, or (restored, gate) when built `with_gate`."""

    def __init__(self, model: nn.Module, *, with_gate: bool = False) -> None:
        super().__init__()
        if with_gate and not isinstance(model, IBHFN):
            raise ModelError(f"a {network_config(model)['arch']} network has no gate to export; drop --with-gate")
        network = copy.deepcopy(model).eval()
        if isinstance(network, IBHFN):
            for bottleneck in network.modules():
                if isinstance(bottleneck, SpatialBottleneck):
                    del bottleneck.logvar_head  # training only: z = mu at inference
        self.network = network
        self.with_gate = with_gate
        self.size_multiple: int = int(cast(int, model.size_multiple))
        self.config: dict[str, Any] = network_config(model)

    @property
    def output_names(self) -> tuple[str, ...]:
        """The exported graph's outputs, in order."""
        return (OUTPUT_NAME, GATE_OUTPUT_NAME) if self.with_gate else (OUTPUT_NAME,)

    def forward(self, sar: Tensor, optical: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        """The restored image (and the gate), with z = mu and no random op."""
        if isinstance(self.network, IBHFN):
            return self.network.forward_deterministic(sar, optical, return_gate=self.with_gate)
        restored: Tensor = self.network(sar, optical)
        return restored


def fold(model: nn.Module, *, with_gate: bool = False) -> DeployModel:
    """Fold a trained network (left untouched) into its deploy form, in eval mode."""
    return DeployModel(model, with_gate=with_gate).eval()
