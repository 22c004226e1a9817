from __future__ import annotations

import pytest

from ibhfn.train.optim import WarmupCosine


def test_learning_rate_warms_up_linearly_then_follows_the_cosine_to_its_floor():
    factor = WarmupCosine(warmup=4, total=20, floor=0.1)
    rising = [factor(step) for step in range(5)]
    assert rising == sorted(rising) and rising[0] == pytest.approx(0.2) and rising[4] == 1.0
    assert factor(12) == pytest.approx(0.55)  # half-way through the cosine
    assert factor(20) == pytest.approx(0.1) and factor(100) == pytest.approx(0.1)
