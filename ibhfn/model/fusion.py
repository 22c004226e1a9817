"""Fusion of the SAR latent with the optical features at the coarsest resolution."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ibhfn.model.blocks import residual_stack


class LatentFusion(nn.Module):
    """Concatenate z with the optical features, mix with a 1x1 conv, refine with residual blocks."""

    def __init__(self, channels: int, blocks: int) -> None:
        super().__init__()
        self.mix = nn.Sequential(nn.Conv2d(2 * channels, channels, kernel_size=1), nn.ReLU(inplace=True))
        self.body = residual_stack(channels, blocks)

    def forward(self, latent: Tensor, optical: Tensor) -> Tensor:
        """Fused features, same shape as `optical`."""
        return self.body(self.mix(torch.cat([latent, optical], dim=1)))
