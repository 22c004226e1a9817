"""The SEN12MS-CR metrics: hand-computed cases and cross-checks against scikit-image and scipy."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ibhfn import metrics
from ibhfn.errors import ShapeError


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    """A (2, 13, 24, 20) batch of reflectance and a noisy prediction of it."""
    rng = np.random.default_rng(0)
    target = rng.random((2, 13, 24, 20))
    pred = np.clip(target + rng.normal(0.0, 0.05, target.shape), 0.0, 1.0)
    return pred, target


def _skimage_ssim(pred: np.ndarray, target: np.ndarray, full: bool = False):
    return structural_similarity(
        pred,
        target,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
        channel_axis=0,
        full=full,
    )


def test_ssim_matches_scikit_image_away_from_the_borders(pair):
    # scikit-image pads by reflection and then averages only pixels at least 5 px (the window
    # radius) from the border. There the 11 x 11 window never leaves the image, so the padding
    # cannot matter: our map's interior must equal theirs, and its interior mean their SSIM.
    pred, target = pair[0][0], pair[1][0]
    ours = metrics.ssim_map(pred, target)[:, 5:-5, 5:-5]
    mean_ssim, theirs = _skimage_ssim(pred, target, full=True)
    np.testing.assert_allclose(ours, theirs[:, 5:-5, 5:-5], atol=1e-10)
    assert ours.mean() == pytest.approx(mean_ssim, abs=1e-5)


def test_ssim_zero_pads_the_borders(pair):
    # The anchors filter with conv2d(padding=5): scipy's Gaussian filter with zero ("constant")
    # padding and the same 11 taps (radius = round(3.5 * 1.5)) rebuilds that map everywhere.
    pred, target = pair[0][0], pair[1][0]

    def blur(x: np.ndarray) -> np.ndarray:
        return np.stack([gaussian_filter(b, 1.5, mode="constant", truncate=3.5) for b in x])

    mu_x, mu_y = blur(pred), blur(target)
    var_x = blur(pred * pred) - mu_x**2
    var_y = blur(target * target) - mu_y**2
    cov = blur(pred * target) - mu_x * mu_y
    expected = ((2 * mu_x * mu_y + 0.01**2) * (2 * cov + 0.03**2)) / (
        (mu_x**2 + mu_y**2 + 0.01**2) * (var_x + var_y + 0.03**2)
    )
    np.testing.assert_allclose(metrics.ssim_map(pred, target), expected, atol=1e-10)
    assert metrics.ssim(pred, target) == pytest.approx(expected.mean(), abs=1e-10)


def test_psnr_matches_scikit_image_per_image_then_mean(pair):
    pred, target = pair
    per_image = [peak_signal_noise_ratio(t, p, data_range=1.0) for p, t in zip(pred, target)]
    assert metrics.psnr(pred, target) == pytest.approx(np.mean(per_image), abs=1e-5)


def test_batch_metrics_are_per_image_then_averaged(pair):
    pred, target = pair
    pred = pred.copy()
    pred[1] = np.clip(target[1] + 0.2, 0.0, 1.0)  # one much worse image
    for fn in (metrics.mae, metrics.rmse, metrics.psnr, metrics.ssim, metrics.sam):
        per_image = [fn(p, t) for p, t in zip(pred, target)]
        assert fn(pred, target) == pytest.approx(np.mean(per_image), rel=1e-12), fn.__name__
    pooled_rmse = np.sqrt(np.mean((pred - target) ** 2))
    assert metrics.rmse(pred, target) != pytest.approx(pooled_rmse, rel=1e-3)


def test_constant_error_of_a_tenth():
    target = np.full((13, 8, 8), 0.5)
    pred = target + 0.1
    assert metrics.psnr(pred, target) == pytest.approx(20.0, abs=1e-9)
    assert metrics.mae(pred, target) == pytest.approx(0.1)
    assert metrics.rmse(pred, target) == pytest.approx(0.1)


def test_identical_images_are_perfect(pair):
    _, target = pair
    assert metrics.ssim(target, target) == pytest.approx(1.0, abs=1e-12)
    assert metrics.sam(target, target) == pytest.approx(0.0, abs=1e-5)
    assert metrics.psnr(target, target) == np.inf
    assert metrics.mae(target, target) == 0.0


def test_sam_of_orthogonal_parallel_and_zero_spectra():
    a = np.zeros((13, 1, 4))
    b = np.zeros((13, 1, 4))
    a[0, 0, 0], b[1, 0, 0] = 0.5, 0.3  # orthogonal: 90
    a[:, 0, 1], b[:, 0, 1] = 0.2, 0.6  # parallel, different brightness: 0
    a[2, 0, 3] = 0.4  # pixel 2 both zero: 0; pixel 3 zero target: 90
    angles = [metrics.sam(a[:, :, i : i + 1], b[:, :, i : i + 1]) for i in range(4)]
    assert angles == pytest.approx([90.0, 0.0, 0.0, 90.0], abs=1e-6)
    assert metrics.sam(a, b) == pytest.approx(45.0, abs=1e-6)


def test_sam_propagates_nan_instead_of_hiding_it():
    a = np.full((13, 2, 2), 0.3)
    b = a.copy()
    b[4, 0, 0] = np.nan
    assert np.isnan(metrics.sam(a, b))


def test_per_band_values_average_to_the_overall_ones(pair):
    pred, target = pair
    for fn in (metrics.mae, metrics.ssim):
        bands = fn(pred, target, per_band=True)
        assert bands.shape == (13,)
        assert bands.mean() == pytest.approx(fn(pred, target), rel=1e-12)
    band_rmse = metrics.rmse(pred[:1], target[:1], per_band=True)
    np.testing.assert_allclose(metrics.psnr(pred[:1], target[:1], per_band=True), 20 * np.log10(1 / band_rmse))


def test_mask_restricts_to_valid_pixels_and_skips_empty_images(pair):
    pred, target = pair
    mask = np.zeros((2, 24, 20), dtype=bool)
    mask[0, :10, :5] = True  # image 1 has no valid pixel and leaves the average
    expected = np.abs(pred[0, :, :10, :5] - target[0, :, :10, :5]).mean()
    assert metrics.mae(pred, target, mask=mask) == pytest.approx(expected, rel=1e-12)
    assert metrics.sam(pred, target, mask=mask) == pytest.approx(
        metrics.sam(pred[0, :, :10, :5], target[0, :, :10, :5]), rel=1e-12
    )
    assert np.isnan(metrics.rmse(pred, target, mask=np.zeros_like(mask)))


def test_compute_metrics_bundles_the_five(pair):
    pred, target = pair
    result = metrics.compute_metrics(pred, target)
    assert result.to_dict() == {
        "mae": metrics.mae(pred, target),
        "rmse": metrics.rmse(pred, target),
        "psnr": metrics.psnr(pred, target),
        "ssim": metrics.ssim(pred, target),
        "sam": metrics.sam(pred, target),
    }


@pytest.mark.parametrize("shapes", [((13, 4, 4), (13, 4, 5)), ((4, 4), (4, 4))])
def test_bad_shapes_raise_shape_error(shapes):
    with pytest.raises(ShapeError):
        metrics.mae(np.zeros(shapes[0]), np.zeros(shapes[1]))


def test_mask_of_the_wrong_shape_raises_shape_error(pair):
    pred, target = pair
    with pytest.raises(ShapeError, match="mask shape"):
        metrics.mae(pred, target, mask=np.ones((3, 24, 20), dtype=bool))


def test_metrics_import_neither_torch_nor_scipy():
    code = "import sys, ibhfn.metrics; print(sorted({'torch', 'scipy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
