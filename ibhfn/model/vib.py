"""The spatial variational information bottleneck on SAR features (the 'IB' of IB-HFN).

Per channel and pixel, 1x1 convs predict a Gaussian posterior (mu, logvar). Training samples
z = mu + eps * exp(logvar / 2) and penalises KL(q(z | sar) || N(0, I)), so only the SAR
information that pays for its nats passes to the fusion; inference uses z = mu, with no random
op and no logvar head in the graph.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

INITIAL_LOGVAR = -4.0  # training starts with little noise on z; the KL term then sets how much SAR passes


class SpatialBottleneck(nn.Module):
    """Map SAR features to a per-pixel Gaussian latent of the same shape."""

    def __init__(self, channels: int, logvar_limit: float = 10.0) -> None:
        super().__init__()
        self.mu_head = nn.Conv2d(channels, channels, kernel_size=1)
        self.logvar_head = nn.Conv2d(channels, channels, kernel_size=1)
        assert self.logvar_head.bias is not None
        nn.init.constant_(self.logvar_head.bias, INITIAL_LOGVAR)
        self.logvar_limit = logvar_limit

    def mean(self, features: Tensor) -> Tensor:
        """The deterministic latent z = mu used at inference."""
        return self.mu_head(features)

    def sample(self, features: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Draw z with the reparameterisation trick; return (z, mu, logvar)."""
        mu = self.mu_head(features)
        logvar = self.logvar_head(features).clamp(-self.logvar_limit, self.logvar_limit)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return z, mu, logvar

    def forward(self, features: Tensor) -> Tensor:
        """Sample in training mode, return mu in eval mode."""
        return self.sample(features)[0] if self.training else self.mean(features)


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) in nats, averaged over every element (batch, channel, pixel)."""
    return 0.5 * torch.mean(mu.square() + logvar.exp() - 1.0 - logvar)
