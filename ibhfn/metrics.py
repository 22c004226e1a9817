"""The image-quality metrics of the SEN12MS-CR literature, on reflectance in [0, 1] (numpy only).

Every metric is computed per image, then averaged over images, as DSen2-CR, GLF-CR and
UnCRtainTS report them. Arrays are (C, H, W) for one image or (N, C, H, W) for a batch; the
computation runs in float64 whatever the input dtype.

- MAE, RMSE: over bands and pixels of each image.
- PSNR = 20 log10(1 / RMSE) in dB (data range 1); an image with RMSE 0 scores +inf, and so does
  any average that includes it.
- SSIM: 11 x 11 Gaussian window, sigma 1.5, C1 = 0.01^2, C2 = 0.03^2, zero padding at the borders
  (as the anchors' `conv2d(padding=5)`), averaged over bands and pixels.
- SAM: angle between the C-band spectra of each pixel in degrees, averaged over pixels, from the
  clipped cosine as the anchors compute it (so identical spectra give 0 up to about 1e-6 degrees
  of arccos rounding). Two zero spectra are 0 degrees apart; a zero and a non-zero one 90 degrees.

`per_band=True` returns one value per band, shape (C,), each averaged over images the same way.
`mask` (True = valid pixel), shape (H, W) or (N, H, W), restricts MAE, RMSE, PSNR and SAM to the
valid pixels; an image with no valid pixel is left out of the average, and the result is NaN when
no image has one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ibhfn.errors import ShapeError

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2


@dataclass(frozen=True)
class MetricSet:
    """The five numbers a SEN12MS-CR result is reported with."""

    mae: float
    rmse: float
    psnr: float  # dB
    ssim: float
    sam: float  # degrees

    def to_dict(self) -> dict[str, float]:
        """The metrics by name, for JSON reports and logs."""
        return asdict(self)


def compute_metrics(pred: np.ndarray, target: np.ndarray) -> MetricSet:
    """Score `pred` against `target`, (C, H, W) or (N, C, H, W), with all five metrics."""
    return MetricSet(  # without per_band each metric is one float
        mae=float(mae(pred, target)),
        rmse=float(rmse(pred, target)),
        psnr=float(psnr(pred, target)),
        ssim=float(ssim(pred, target)),
        sam=sam(pred, target),
    )


def mae(
    pred: np.ndarray, target: np.ndarray, *, mask: np.ndarray | None = None, per_band: bool = False
) -> float | np.ndarray:
    """Mean absolute error per image, averaged over images."""
    p, t = _as_batch(pred, target)
    return _average(_image_means(np.abs(p - t), _as_mask(mask, p.shape), per_band))


def rmse(
    pred: np.ndarray, target: np.ndarray, *, mask: np.ndarray | None = None, per_band: bool = False
) -> float | np.ndarray:
    """Root-mean-square error per image, averaged over images."""
    return _average(_image_rmse(pred, target, mask, per_band))


def psnr(
    pred: np.ndarray, target: np.ndarray, *, mask: np.ndarray | None = None, per_band: bool = False
) -> float | np.ndarray:
    """Peak signal-to-noise ratio in dB (data range 1) per image, averaged over images."""
    return _average(np.asarray(psnr_from_rmse(_image_rmse(pred, target, mask, per_band))))


def psnr_from_rmse(value: float | np.ndarray) -> float | np.ndarray:
    """20 log10(1 / RMSE) in dB: +inf at RMSE 0, -inf at RMSE +inf."""
    with np.errstate(divide="ignore"):
        return -20.0 * np.log10(value)


def ssim(pred: np.ndarray, target: np.ndarray, *, per_band: bool = False) -> float | np.ndarray:
    """Structural similarity per image (mean of the SSIM map), averaged over images."""
    return _average(_image_means(_ssim_map(*_as_batch(pred, target)), None, per_band))


def ssim_map(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The per-pixel SSIM of every band, same shape as the input, zero-padded at the borders."""
    out = _ssim_map(*_as_batch(pred, target))
    return out[0] if np.ndim(pred) == 3 else out


def _ssim_map(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """`ssim_map` of float64 (N, C, H, W) batches."""
    out = np.empty_like(p)
    for i in range(len(p)):  # one image at a time bounds the memory of the five filtered planes
        x, y = p[i], t[i]
        mu_x, mu_y, xx, yy, xy = _gaussian_filter(np.stack([x, y, x * x, y * y, x * y]))
        var_x = xx - mu_x * mu_x
        var_y = yy - mu_y * mu_y
        cov = xy - mu_x * mu_y
        out[i] = ((2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)) / (
            (mu_x * mu_x + mu_y * mu_y + SSIM_C1) * (var_x + var_y + SSIM_C2)
        )
    return out


def sam(pred: np.ndarray, target: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """Spectral angle in degrees between predicted and target spectra, per pixel, averaged."""
    p, t = _as_batch(pred, target)
    norm_p = np.sqrt((p * p).sum(axis=1))
    norm_t = np.sqrt((t * t).sum(axis=1))
    cosine = np.full(norm_p.shape, np.nan)
    with np.errstate(invalid="ignore", over="ignore"):
        np.divide((p * t).sum(axis=1), norm_p * norm_t, out=cosine, where=norm_p * norm_t > 0)
    cosine[(norm_p == 0) & (norm_t == 0)] = 1.0
    cosine[(norm_p == 0) != (norm_t == 0)] = 0.0
    angle = np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
    return float(_average(_image_means(angle[:, None], _as_mask(mask, p.shape), per_band=False)))


def _gaussian_taps() -> np.ndarray:
    """The normalised 1-D Gaussian of the SSIM window (the same taps scikit-image uses)."""
    x = np.arange(SSIM_WINDOW) - SSIM_WINDOW // 2
    taps = np.exp(-(x**2) / (2 * SSIM_SIGMA**2))
    return taps / taps.sum()


def _gaussian_filter(planes: np.ndarray) -> np.ndarray:
    """Filter the last two axes with the separable SSIM Gaussian, zero padding, same-size output."""
    taps = _gaussian_taps()
    r = SSIM_WINDOW // 2
    h, w = planes.shape[-2:]
    padded = np.pad(planes, [(0, 0)] * (planes.ndim - 2) + [(r, r)] * 2)
    rows = _symmetric_taps_sum(padded, taps, axis=-2, length=h)
    return _symmetric_taps_sum(rows, taps, axis=-1, length=w)


def _symmetric_taps_sum(padded: np.ndarray, taps: np.ndarray, axis: int, length: int) -> np.ndarray:
    """Shift-and-add of a symmetric odd-length filter along one axis (k and -k share a multiply)."""
    r = len(taps) // 2

    def shifted(k: int) -> np.ndarray:
        index = [slice(None)] * padded.ndim
        index[axis] = slice(k, k + length)
        return padded[tuple(index)]

    out = taps[r] * shifted(r)
    pair = np.empty_like(out)
    for k in range(r):
        np.add(shifted(k), shifted(2 * r - k), out=pair)
        pair *= taps[k]
        out += pair
    return out


def _image_rmse(pred, target, mask, per_band: bool) -> np.ndarray:
    """RMSE of each image (and band)."""
    p, t = _as_batch(pred, target)
    return np.sqrt(_image_means((p - t) ** 2, _as_mask(mask, p.shape), per_band))


def _as_batch(pred, target) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64 (N, C, H, W), after checking they have the same supported shape."""
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if p.shape != t.shape:
        raise ShapeError(f"prediction shape {p.shape} differs from target shape {t.shape}")
    if p.ndim not in (3, 4):
        raise ShapeError(f"metrics take (C, H, W) or (N, C, H, W) arrays, got shape {p.shape}")
    return (p[None], t[None]) if p.ndim == 3 else (p, t)


def _as_mask(mask, shape: tuple[int, ...]) -> np.ndarray | None:
    """The valid-pixel mask as boolean (N, 1, H, W), broadcastable over the bands."""
    if mask is None:
        return None
    m = np.asarray(mask, dtype=bool)
    m = m[None] if m.ndim == 2 else m
    n, _, h, w = shape
    if m.shape != (n, h, w):
        raise ShapeError(f"mask shape {np.shape(mask)} does not match images of shape {shape}")
    return m[:, None]


def _image_means(values: np.ndarray, mask: np.ndarray | None, per_band: bool) -> np.ndarray:
    """Mean over the valid pixels of each image, (N,) or (N, C); images with none are dropped."""
    axes = (2, 3) if per_band else (1, 2, 3)
    if mask is None:
        return values.mean(axis=axes)
    valid = np.broadcast_to(mask, values.shape)
    keep = valid.any(axis=(1, 2, 3))
    return np.where(valid, values, 0.0)[keep].sum(axis=axes) / valid[keep].sum(axis=axes)


def _average(per_image: np.ndarray) -> float | np.ndarray:
    """Average over images: a float, or a (C,) array for per-band values; NaN if there are none."""
    if len(per_image) == 0:
        return np.full(per_image.shape[1:], np.nan) if per_image.ndim == 2 else float("nan")
    mean = per_image.mean(axis=0)
    return float(mean) if mean.ndim == 0 else mean
