"""DSen2-CR (Meraner et al., 2020), the SAR-optical residual baseline of SEN12MS-CR.

The concatenated SAR + optical input goes through a conv, a stack of residual blocks
(conv-ReLU-conv, residual scaling 0.1) and a conv to 13 bands, added to the cloudy optical input
(the long skip). 'full' is the paper's 16 blocks of 256 maps; 'small' fits a laptop CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ibhfn.bands import S1_BANDS, S2_BANDS
from ibhfn.errors import ModelError
from ibhfn.model.blocks import conv3x3, conv_relu, residual_stack
from ibhfn.model.config import config_dict
from ibhfn.model.inputs import check_inputs
from ibhfn.model.output import IBHFNOutput

ARCH = "dsen2cr"


@dataclass(frozen=True)
class DSen2CRConfig:
    """Everything that fixes a DSen2-CR network's shape."""

    preset: str
    blocks: int  # residual blocks
    features: int  # feature maps of every block
    residual_scale: float = 0.1

    def __post_init__(self) -> None:
        if self.blocks < 0 or self.features < 1:
            raise ModelError(f"dsen2cr needs blocks >= 0 and features >= 1, got {self.blocks} and {self.features}")


DSEN2CR_PRESETS: dict[str, DSen2CRConfig] = {
    "small": DSen2CRConfig("small", blocks=6, features=48),
    "full": DSen2CRConfig("full", blocks=16, features=256),
}


class DSen2CR(nn.Module):
    """DSen2-CR: forward(sar (N, 2, H, W), optical (N, 13, H, W)) -> (N, 13, H, W), any H and W."""

    size_multiple = 1

    def __init__(self, config: DSen2CRConfig) -> None:
        super().__init__()
        self.arch_config = config
        self.head = conv_relu(len(S1_BANDS) + len(S2_BANDS), config.features)
        self.body = residual_stack(config.features, config.blocks, config.residual_scale)
        self.tail = conv3x3(config.features, len(S2_BANDS))

    @property
    def config(self) -> dict:
        """JSON-ready keyword arguments that rebuild this network with `ibhfn.model.build`."""
        return config_dict(ARCH, self.arch_config)

    def forward(self, sar: Tensor, optical: Tensor) -> Tensor | IBHFNOutput:
        """Eval mode: the restored image. Train mode: an IBHFNOutput with only `image` set."""
        check_inputs(sar, optical, self.size_multiple)
        image = optical + self.tail(self.body(self.head(torch.cat([sar, optical], dim=1))))
        return IBHFNOutput(image=image) if self.training else image
