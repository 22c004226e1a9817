"""DSen2-CR baseline: any size, long skip, training output."""

from __future__ import annotations

import torch

from ibhfn.model import IBHFNOutput, build_model


def test_any_size_and_the_long_skip(inputs):
    model = build_model("small", arch="dsen2cr", blocks=2, features=8).eval()
    torch.nn.init.zeros_(model.tail.weight)
    torch.nn.init.zeros_(model.tail.bias)
    sar, optical = inputs(2, 17)
    with torch.no_grad():
        assert torch.equal(model(sar, optical), optical)


def test_train_mode_returns_only_the_image(inputs):
    model = build_model("small", arch="dsen2cr", blocks=1, features=8).train()
    out = model(*inputs(1, 8))
    assert isinstance(out, IBHFNOutput)
    assert out.image.shape == (1, 13, 8, 8) and out.mu is None and out.gate is None
