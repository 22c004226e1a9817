"""The decoder: from fused features back to full resolution, with skips from the optical stream."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ibhfn.model.blocks import ResidualBlock, UpsampleConv, conv3x3, conv_relu


class DecoderStage(nn.Module):
    """Upsample x2, concatenate the skip of that resolution, merge and refine."""

    def __init__(self, in_channels: int, out_channels: int, skip_channels: int) -> None:
        super().__init__()
        self.up = UpsampleConv(in_channels, out_channels)
        self.merge = conv_relu(out_channels + skip_channels, out_channels)
        self.refine = ResidualBlock(out_channels)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        """Features at the skip's resolution."""
        return self.refine(self.merge(torch.cat([self.up(x), skip], dim=1)))


class Decoder(nn.Module):
    """Reconstruct all bands (the reconstruction R) from the coarsest fused features."""

    def __init__(self, widths: tuple[int, ...], out_channels: int, skip_factor: int = 1) -> None:
        super().__init__()
        self.stages = nn.ModuleList(
            DecoderStage(widths[i], widths[i - 1], skip_factor * widths[i - 1]) for i in range(len(widths) - 1, 0, -1)
        )
        self.head = conv3x3(widths[0], out_channels)

    def forward(self, fused: Tensor, skips: list[Tensor]) -> Tensor:
        """`skips` are the features of each finer level, finest first (optical, with the SAR latent if fused there)."""
        x = fused
        for stage, skip in zip(self.stages, reversed(skips)):
            x = stage(x, skip)
        return self.head(x)
