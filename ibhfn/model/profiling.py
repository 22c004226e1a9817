"""Size and cost of a network: parameters and multiply-accumulates per tile, as the README quotes them."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ibhfn.bands import S1_BANDS, S2_BANDS


@dataclass(frozen=True)
class ModelProfile:
    """Parameters and multiply-accumulates of one forward pass over a `size` x `size` tile."""

    params: int
    macs: int
    size: int

    def __str__(self) -> str:
        return f"{self.params / 1e6:.2f} M parameters, {self.macs / 1e9:.2f} GMAC per {self.size} x {self.size} tile"


def profile(model: nn.Module, size: int = 256) -> ModelProfile:
    """Count parameters and Conv2d/Linear multiply-accumulates of an eval forward on one tile."""
    macs = 0

    def count(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        nonlocal macs
        if isinstance(module, nn.Conv2d):
            kernel = module.weight[0].numel()  # in_channels / groups * kh * kw
            macs += output.numel() * kernel
        elif isinstance(module, nn.Linear):
            macs += output.numel() * module.in_features

    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    hooks = [layer.register_forward_hook(count) for layer in layers]
    device = next(model.parameters()).device
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(
                torch.zeros(1, len(S1_BANDS), size, size, device=device),
                torch.zeros(1, len(S2_BANDS), size, size, device=device),
            )
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    params = sum(p.numel() for p in model.parameters())
    return ModelProfile(params=params, macs=macs, size=size)
