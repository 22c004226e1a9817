"""What a network returns in training mode: the restored image and what the losses need besides."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class IBHFNOutput:
    """Training-mode output; fields a network does not have (DSen2-CR: all but `image`) are None."""

    image: Tensor  # restored optical Y = G * S + (1 - G) * R, (N, 13, H, W)
    gate: Tensor | None = None  # clear-sky map G in [0, 1], (N, 1, H, W)
    gate_logit: Tensor | None = None  # logit of G, for a numerically safe BCE
    mu: Tensor | None = None  # bottleneck posterior mean, (N, C, H / s, W / s)
    logvar: Tensor | None = None  # bottleneck posterior log-variance, same shape as mu
    reconstruction: Tensor | None = None  # decoder output R, (N, 13, H, W)
