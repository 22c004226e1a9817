"""One stream of IB-HFN's dual-stream backbone: residual conv stages, each halving the resolution."""

from __future__ import annotations

from torch import Tensor, nn

from ibhfn.model.blocks import conv_relu, residual_stack


class StreamEncoder(nn.Module):
    """Encode one sensor into features at 1, 1/2, 1/4, ... resolution (one entry per width)."""

    def __init__(self, in_channels: int, widths: tuple[int, ...], blocks: tuple[int, ...]) -> None:
        super().__init__()
        stages = [nn.Sequential(conv_relu(in_channels, widths[0]), residual_stack(widths[0], blocks[0]))]
        for i in range(1, len(widths)):
            stages.append(
                nn.Sequential(
                    conv_relu(widths[i - 1], widths[i], stride=2),
                    residual_stack(widths[i], blocks[i]),
                )
            )
        self.stages = nn.ModuleList(stages)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Return the output of every stage, finest first."""
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features
