"""The local-global gate: where is the cloudy input already clear sky?

A local branch (convs on the fused features) sees cloud edges and thin haze; a global branch
(global average pooling + MLP) sees how cloudy the whole tile is. Their logits add, are upsampled
by the network's stride to full resolution and squashed to the clear-sky map G in [0, 1].
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ibhfn.model.blocks import conv_relu


class LocalGlobalGate(nn.Module):
    """Predict clear-sky logits (N, 1, H, W) at full resolution from fused features at 1/`scale`."""

    def __init__(self, channels: int, hidden: int, scale: int) -> None:
        super().__init__()
        self.local_branch = conv_relu(channels, hidden)
        self.local_head = nn.Conv2d(hidden, 1, kernel_size=1)
        self.global_branch = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True))
        self.global_head = nn.Linear(hidden, 1)
        self.scale = scale

    def forward(self, fused: Tensor) -> Tensor:
        """Clear-sky logits; apply a sigmoid for the gate G."""
        local = self.local_head(self.local_branch(fused))
        pooled = fused.mean(dim=(2, 3))
        global_logit = self.global_head(self.global_branch(pooled))[:, :, None, None]
        return F.interpolate(local + global_logit, scale_factor=self.scale, mode="bilinear", align_corners=False)
