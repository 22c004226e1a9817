"""The spatial bottleneck: KL to N(0, I), reparameterised sampling, and its mean path."""

from __future__ import annotations

import torch

from ibhfn.model import kl_divergence
from ibhfn.model.vib import SpatialBottleneck


def test_kl_is_zero_at_the_prior():
    zeros = torch.zeros(2, 4, 3, 3)
    assert float(kl_divergence(zeros, zeros)) == 0.0


def test_kl_is_positive_away_from_the_prior():
    zeros = torch.zeros(2, 4, 3, 3)
    assert float(kl_divergence(zeros + 0.5, zeros)) > 0
    assert float(kl_divergence(zeros, zeros + 0.5)) > 0
    assert float(kl_divergence(zeros, zeros - 0.5)) > 0


def test_kl_matches_the_closed_form():
    mu, logvar = torch.tensor([[1.0]]), torch.tensor([[0.0]])
    assert float(kl_divergence(mu, logvar)) == 0.5


def test_sample_spreads_around_the_mean_and_logvar_is_clamped():
    torch.manual_seed(0)
    vib = SpatialBottleneck(channels=4, logvar_limit=2.0)
    torch.nn.init.constant_(vib.logvar_head.bias, 50.0)
    features = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        z, mu, logvar = vib.sample(features)
    assert torch.equal(mu, vib.mean(features))
    assert float(logvar.max()) == 2.0
    assert not torch.equal(z, mu)
    with torch.no_grad():
        assert torch.equal(vib.eval()(features), mu)
