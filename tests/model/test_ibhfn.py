"""IB-HFN: shapes, stride checks, the two streams, determinism and the Dirac identity."""

from __future__ import annotations

import pytest
import torch

from ibhfn.errors import ModelError, ShapeError
from ibhfn.model import IBHFN_PRESETS, IBHFNOutput, build_model, profile

TINY = dict(widths=(8, 16, 24), encoder_blocks=(1, 1, 1), fusion_blocks=1, gate_hidden=8)  # as conftest's


@pytest.mark.parametrize("preset", ["edge", "base"])
@pytest.mark.parametrize("batch, size", [(1, 16), (2, 32), (1, 48)])
def test_eval_output_has_the_optical_shape(preset, batch, size, inputs):
    model = build_model(preset).eval()
    sar, optical = inputs(batch, size)
    with torch.no_grad():
        restored = model(sar, optical)
    assert restored.shape == (batch, 13, size, size)
    assert torch.isfinite(restored).all()


def test_rectangular_input_keeps_its_shape(tiny_model, inputs):
    sar, optical = inputs(1, 32)
    with torch.no_grad():
        restored = tiny_model.eval()(sar[..., :16, :], optical[..., :16, :])
    assert restored.shape == (1, 13, 16, 32)


def test_size_multiple_is_the_total_stride():
    assert build_model("edge").size_multiple == 2 ** (len(IBHFN_PRESETS["edge"].widths) - 1) == 4


def test_a_size_that_is_not_a_multiple_fails_clearly(tiny_model, inputs):
    sar, optical = inputs(1, 32)
    with pytest.raises(ShapeError, match="multiples of 4, got 30 x 32"):
        tiny_model.eval()(sar[..., :30, :], optical[..., :30, :])


def test_wrong_band_count_fails_clearly(tiny_model, inputs):
    sar, optical = inputs(1, 16)
    with pytest.raises(ShapeError, match=r"optical must be \(N, 13, H, W\)"):
        tiny_model(sar, optical[:, :12])


def test_unknown_preset_and_option_are_named():
    with pytest.raises(ModelError, match="unknown ibhfn preset 'huge'"):
        build_model("huge")
    with pytest.raises(ModelError, match="unknown ibhfn option"):
        build_model("edge", depth=3)


def test_train_output_carries_what_the_losses_need(tiny_model, inputs):
    sar, optical = inputs(2, 16)
    out = tiny_model.train()(sar, optical)
    assert isinstance(out, IBHFNOutput)
    assert out.image.shape == (2, 13, 16, 16)
    assert out.gate.shape == (2, 1, 16, 16)
    assert ((out.gate >= 0) & (out.gate <= 1)).all()
    assert out.mu.shape == out.logvar.shape == (2, 24, 4, 4)


def test_gradients_reach_both_encoders(tiny_model, inputs):
    sar, optical = inputs(2, 16)
    tiny_model.train()(sar, optical).image.mean().backward()
    for stream in (tiny_model.sar_encoder, tiny_model.optical_encoder):
        grads = [p.grad for p in stream.parameters()]
        assert all(g is not None for g in grads)
        assert sum(float(g.abs().sum()) for g in grads) > 0


def test_streams_stay_separate_until_fusion(tiny_model, inputs):
    """The optical encoder's features do not depend on SAR at all."""
    sar, optical = inputs(1, 16)
    features = tiny_model.optical_encoder(optical)
    again = tiny_model.optical_encoder(optical)
    assert all(torch.equal(a, b) for a, b in zip(features, again))
    assert tiny_model.sar_encoder.stages[0][0][0].in_channels == 2
    assert tiny_model.optical_encoder.stages[0][0][0].in_channels == 13


def test_eval_is_deterministic_and_train_samples(tiny_model, inputs):
    sar, optical = inputs(1, 16)
    with torch.no_grad():
        tiny_model.eval()
        assert torch.equal(tiny_model(sar, optical), tiny_model(sar, optical))
        tiny_model.train()
        assert not torch.equal(tiny_model(sar, optical).image, tiny_model(sar, optical).image)


def test_sar_changes_the_output(tiny_model, inputs):
    sar, optical = inputs(1, 16)
    with torch.no_grad():
        tiny_model.eval()
        assert not torch.equal(tiny_model(sar, optical), tiny_model(torch.zeros_like(sar), optical))


def test_where_the_gate_is_one_the_output_is_the_input_at_init(tiny_model, inputs):
    """The Dirac skip starts as the identity: with G = 1 everywhere, Y equals the cloudy input bit for bit."""
    torch.nn.init.constant_(tiny_model.gate.local_head.bias, 100.0)
    sar, optical = inputs(2, 16)
    with torch.no_grad():
        restored, gate = tiny_model.eval().forward_deterministic(sar, optical, return_gate=True)
    assert torch.equal(gate, torch.ones_like(gate))
    assert torch.equal(restored, optical)


def test_where_the_gate_is_zero_the_output_is_the_reconstruction(tiny_model, inputs):
    torch.nn.init.constant_(tiny_model.gate.local_head.bias, -100.0)
    sar, optical = inputs(1, 16)
    out = tiny_model.train()(sar, optical)
    assert torch.equal(out.image, out.reconstruction)


def test_presets_have_the_stated_size():
    assert 1e6 <= profile(build_model("edge"), size=64).params <= 3e6
    assert 10e6 <= profile(build_model("base"), size=64).params <= 20e6


def test_profile_counts_macs_per_tile(tiny_model):
    small, large = profile(tiny_model, size=32), profile(tiny_model, size=64)
    assert small.params == large.params
    assert large.macs == pytest.approx(4 * small.macs, rel=0.01)


def test_the_residual_decoder_starts_near_the_identity(inputs):
    torch.manual_seed(0)
    residual, image = build_model("edge", **TINY, residual=True), build_model("edge", **TINY)
    sar, optical = inputs(2, 16)
    with torch.no_grad():
        near = (residual.eval()(sar, optical) - optical).abs().max()
        far = (image.eval()(sar, optical) - optical).abs().max()
    assert near < 0.05 < far


@pytest.mark.parametrize(
    ("overrides", "has_bottleneck", "has_gate"),
    [
        ({"fusion": "concat"}, False, True),
        ({"gate": False}, True, False),
        ({"residual": True}, True, True),
        ({"sar_skips": True}, True, True),
        ({"sar_skips": True, "fusion": "concat"}, False, True),
    ],
)
def test_ablation_variants_drop_their_part(overrides, has_bottleneck, has_gate, inputs):
    model = build_model("edge", **TINY, **overrides)
    sar, optical = inputs(2, 16)
    out = model.train()(sar, optical)
    assert out.image.shape == (2, 13, 16, 16)
    assert (out.mu is not None) == has_bottleneck == (model.vib is not None)
    assert (out.gate is not None) == has_gate == (model.gate is not None)
    restored, gate = model.eval().forward_deterministic(sar, optical, return_gate=True)
    assert gate.shape == (2, 1, 16, 16) and (has_gate or float(gate.abs().max()) == 0.0)
    if not has_gate:
        assert torch.equal(out.image, out.reconstruction)


def test_an_unknown_fusion_is_named():
    with pytest.raises(ModelError, match="fusion 'sum' is not one of bottleneck, concat"):
        build_model("edge", fusion="sum")


def test_sar_skips_put_every_sar_level_through_a_bottleneck_into_the_decoder(inputs):
    torch.manual_seed(0)
    model = build_model("edge", **TINY, sar_skips=True)
    sar, optical = inputs(2, 16)
    out = model.train()(sar, optical)
    assert out.mu.shape == out.logvar.shape == (2, 8 * 16 * 16 + 16 * 8 * 8 + 24 * 4 * 4)  # every level's latent
    changed = sar.clone()
    changed[..., :2, :2] += 0.5  # a 2 x 2 px change, finer than the coarsest level's 4 x 4 px cell
    with torch.no_grad():
        model.eval()
        difference = (model(changed, optical) - model(sar, optical)).abs().amax(dim=(0, 1))
    assert difference[:2, :2].max() > 0 and difference[:2, :2].max() > difference[8:, 8:].max()
