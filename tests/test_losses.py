"""The joint loss: each term, its schedule, and that it trains a tiny network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ibhfn import metrics
from ibhfn.losses import (
    TERMS,
    LossSchedule,
    changed_mask,
    contrastive_sharpness,
    gate_loss,
    joint_loss,
    spectral_angle,
    ssim,
)
from ibhfn.model import IBHFNOutput, build_model


@pytest.fixture
def images() -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth target and a hazy, noisy 'cloudy' version of it, (2, 13, 24, 24) in [0, 1]."""
    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand(2, 13, 6, 6, generator=generator)
    target = torch.nn.functional.interpolate(coarse, size=24, mode="bilinear", align_corners=False)
    cloudy = (0.5 * target + 0.4 + 0.02 * torch.rand(target.shape, generator=generator)).clamp(0, 1)
    return target, cloudy


def perfect_output(target: torch.Tensor) -> IBHFNOutput:
    zeros = torch.zeros(target.shape[0], 4, 3, 3)
    return IBHFNOutput(image=target.clone(), mu=zeros, logvar=zeros, gate_logit=torch.full_like(target[:, :1], 30.0))


def test_ssim_matches_the_numpy_metric(images):
    target, cloudy = images
    assert float(ssim(cloudy, target)) == pytest.approx(metrics.ssim(cloudy.numpy(), target.numpy()), abs=1e-5)


def test_spectral_angle_matches_the_numpy_metric_in_radians(images):
    target, cloudy = images
    expected = np.deg2rad(metrics.sam(cloudy.numpy(), target.numpy()))
    assert float(spectral_angle(cloudy, target)) == pytest.approx(expected, abs=1e-4)


def test_spectral_angle_is_safe_at_zero_spectra():
    pred = torch.zeros(1, 13, 4, 4, requires_grad=True)
    angle = spectral_angle(pred, torch.zeros(1, 13, 4, 4))
    angle.backward()
    assert torch.isfinite(angle) and torch.isfinite(pred.grad).all()


def test_every_term_is_finite_and_minimal_for_a_perfect_prediction(images):
    target, cloudy = images
    mask = torch.zeros(target.shape[0], *target.shape[2:])
    result = joint_loss(perfect_output(target), target, cloudy, LossSchedule().weights(10_000), cloud_mask=mask)
    assert set(result.terms) == set(TERMS)
    for name, value in result.terms.items():
        assert torch.isfinite(value), name
        assert float(value) == pytest.approx(0.0, abs=2e-3), name
    assert float(result.total) < 1e-3


def test_every_term_grows_for_a_wrong_prediction(images):
    target, cloudy = images
    perfect = joint_loss(perfect_output(target), target, cloudy, LossSchedule().weights(10_000))
    hazy = IBHFNOutput(image=cloudy, mu=torch.ones(2, 4, 3, 3), logvar=torch.zeros(2, 4, 3, 3))
    wrong = joint_loss(hazy, target, cloudy, LossSchedule().weights(10_000))
    for name in ("l1", "ssim", "sam", "contrastive", "kl"):
        assert float(wrong.terms[name]) > float(perfect.terms[name]) + 1e-3, name


def test_contrastive_term_prefers_sharp_detail_to_blur(images):
    target, cloudy = images
    blurred = torch.nn.functional.avg_pool2d(target, 3, stride=1, padding=1)
    assert float(contrastive_sharpness(target, target, cloudy)) == 0.0
    sharp = float(contrastive_sharpness(target * 0.99, target, cloudy))
    assert float(contrastive_sharpness(blurred, target, cloudy)) > sharp


def test_changed_mask_marks_where_the_input_is_not_yet_the_target():
    target = torch.full((1, 13, 2, 3), 0.2)
    cloudy = target.clone()
    cloudy[..., 0, 1] += 0.005  # within the tolerance: clear
    cloudy[..., 0, 2] += 0.02  # half way
    cloudy[..., 1, :] *= 0.5  # a shadow: changed, though no cloud
    mask = changed_mask(cloudy, target)
    assert mask.shape == (1, 2, 3)
    torch.testing.assert_close(mask[0, 0], torch.tensor([0.0, 0.0, 0.5]))
    assert torch.equal(mask[0, 1], torch.ones(3))


def test_gate_loss_rewards_the_right_gate():
    mask = torch.tensor([[[1.0, 0.0]]])
    right, wrong = torch.tensor([[[[-8.0, 8.0]]]]), torch.tensor([[[[8.0, -8.0]]]])
    assert float(gate_loss(right, mask)) < 0.01 < 5 < float(gate_loss(wrong, mask))


def test_dsen2cr_output_has_no_kl_or_gate_term(images):
    target, cloudy = images
    result = joint_loss(
        IBHFNOutput(image=cloudy), target, cloudy, LossSchedule().weights(0), cloud_mask=torch.zeros(2, 24, 24)
    )
    assert set(result.terms) == {"l1", "ssim", "sam", "contrastive"}


def test_schedule_warms_up_l1_then_ramps_the_others_and_anneals_kl():
    schedule = LossSchedule(l1_warmup_steps=10, ramp_steps=10, kl_warmup_steps=40)
    start, middle, end = schedule.weights(0), schedule.weights(15), schedule.weights(100)
    assert start.ssim == start.sam == start.contrastive == start.kl == 0.0
    assert start.l1 == end.l1 == schedule.l1
    assert middle.ssim == pytest.approx(schedule.ssim / 2)
    assert schedule.weights(10).kl == pytest.approx(schedule.kl / 4)
    assert end.to_dict() == {name: getattr(schedule, name) for name in TERMS}


def test_log_has_the_total_and_every_term(images):
    target, cloudy = images
    log = joint_loss(perfect_output(target), target, cloudy, LossSchedule().weights(0)).log()
    assert set(log) == {"loss", "loss_l1", "loss_ssim", "loss_sam", "loss_contrastive", "loss_kl"}
    assert all(isinstance(v, float) for v in log.values())


def test_two_samples_overfit_in_fifty_steps(images):
    torch.manual_seed(0)
    target, cloudy = images
    sar = target[:, :2].clone()
    model = build_model("edge", widths=(8, 16, 24), encoder_blocks=(1, 1, 1), fusion_blocks=1, gate_hidden=8).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    weights = LossSchedule().weights(10_000)
    losses = []
    for _ in range(50):
        result = joint_loss(model(sar, cloudy), target, cloudy, weights)
        optimizer.zero_grad()
        result.total.backward()
        optimizer.step()
        losses.append(result.log()["loss"])
    assert losses[-1] <= 0.5 * losses[0]
