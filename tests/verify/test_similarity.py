"""The shared-moment SSIM agrees with ibhfn.metrics.ssim for all three comparisons."""

from __future__ import annotations

import numpy as np

from ibhfn import metrics
from ibhfn.verify import similarity


def test_matches_the_metrics_ssim_per_band():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.05, 0.6, (13, 40, 56)).astype(np.float32)
    reference = np.clip(truth + rng.normal(0, 0.03, truth.shape), 0, 1).astype(np.float32)
    engine = (reference + rng.normal(0, 0.002, truth.shape)).astype(np.float32)
    versus, (engine_truth, reference_truth) = similarity.scene_ssim(engine, reference, truth)
    for got, (a, b) in (
        (versus, (engine, reference)),
        (engine_truth, (engine, truth)),
        (reference_truth, (reference, truth)),
    ):
        expected = metrics.ssim(a, b, per_band=True)
        assert got.shape == (13,) and np.abs(got - expected).max() < 1e-6
    assert versus.max() < 0.99995  # the engine really differs


def test_identical_images_score_exactly_one_and_no_truth_gives_none():
    image = np.random.default_rng(1).random((13, 24, 24)).astype(np.float32)
    versus, against_truth = similarity.scene_ssim(image, image.copy(), None)
    assert against_truth is None and (versus == 1.0).all()
