"""IB-HFN's joint loss: L1 + SSIM + spectral angle + contrastive sharpness + KL (+ gate), on a schedule.

Every term is computed on network-scale images (reflectance in [0, 1] with the 'default'
preprocessing) and is zero, or its minimum, for a perfect prediction:

- `l1`: mean absolute error.
- `ssim`: 1 - SSIM, with the SSIM of `ibhfn.metrics` (11 x 11 Gaussian window, sigma 1.5, zero padding).
- `sam`: mean spectral angle in radians, safe at zero spectra (the gradient stays finite).
- `contrastive`: in the space of per-band image gradients, the distance to the target divided by the
  mean distance to two negatives, the cloudy input and a blurred target: the output is pulled towards
  sharp, cloud-free detail and pushed away from haze and blur.
- `kl`: KL(q(z | sar) || N(0, I)) of the bottleneck, in nats per element.
- `gate`: binary cross-entropy of the clear-sky gate against (1 - cloud mask). Training takes the mask
  from the pair itself (`changed_mask`: where the cloudy input differs from the target), so clouds,
  haze and shadows all count and the gate learns where the input is already the answer.

`LossSchedule.weights(step)` gives each term's weight at a training step: L1 alone first, then the
structural, spectral and contrastive terms ramped in, while the KL weight is annealed up from 0.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ibhfn.metrics import SSIM_C1, SSIM_C2, SSIM_SIGMA, SSIM_WINDOW
from ibhfn.model.output import IBHFNOutput
from ibhfn.model.vib import kl_divergence

TERMS = ("l1", "ssim", "sam", "contrastive", "kl", "gate")
SAM_EPS = 1e-8  # added to squared spectrum norms, so zero spectra have a finite gradient
BLUR_SIGMA = 2.0  # the blurred-target negative of the contrastive term
BLUR_WINDOW = 9


def gaussian_window(size: int, sigma: float, channels: int, like: Tensor) -> Tensor:
    """A normalised 2-D Gaussian kernel, (channels, 1, size, size), for a depth-wise conv."""
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def gaussian_blur(x: Tensor, size: int, sigma: float) -> Tensor:
    """Blur every band of (N, C, H, W) with a Gaussian, zero padding (the size is kept)."""
    window = gaussian_window(size, sigma, x.shape[1], x)
    return F.conv2d(x, window, padding=size // 2, groups=x.shape[1])


def ssim(pred: Tensor, target: Tensor) -> Tensor:
    """Mean SSIM over images, bands and pixels, as `ibhfn.metrics.ssim` defines it (differentiable)."""
    mu_p = gaussian_blur(pred, SSIM_WINDOW, SSIM_SIGMA)
    mu_t = gaussian_blur(target, SSIM_WINDOW, SSIM_SIGMA)
    var_p = gaussian_blur(pred * pred, SSIM_WINDOW, SSIM_SIGMA) - mu_p**2
    var_t = gaussian_blur(target * target, SSIM_WINDOW, SSIM_SIGMA) - mu_t**2
    cov = gaussian_blur(pred * target, SSIM_WINDOW, SSIM_SIGMA) - mu_p * mu_t
    numerator = (2 * mu_p * mu_t + SSIM_C1) * (2 * cov + SSIM_C2)
    denominator = (mu_p**2 + mu_t**2 + SSIM_C1) * (var_p + var_t + SSIM_C2)
    return (numerator / denominator).mean()


def ssim_loss(pred: Tensor, target: Tensor) -> Tensor:
    """1 - SSIM: 0 for a perfect prediction."""
    return 1.0 - ssim(pred, target)


def spectral_angle(pred: Tensor, target: Tensor) -> Tensor:
    """Mean angle in radians between the per-pixel spectra (dimension 1) of two (N, C, H, W) images."""
    dot = (pred * target).sum(dim=1)
    norms = torch.sqrt((pred.square().sum(dim=1) + SAM_EPS) * (target.square().sum(dim=1) + SAM_EPS))
    cosine = (dot / norms).clamp(-1.0 + 1e-7, 1.0 - 1e-7)
    return torch.acos(cosine).mean()


def image_gradients(x: Tensor) -> tuple[Tensor, Tensor]:
    """Horizontal and vertical finite differences of every band: the high-frequency feature space."""
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def gradient_distance(a: Tensor, b: Tensor) -> Tensor:
    """Mean absolute difference of the image gradients of a and b."""
    (ax, ay), (bx, by) = image_gradients(a), image_gradients(b)
    return 0.5 * ((ax - bx).abs().mean() + (ay - by).abs().mean())


def contrastive_sharpness(pred: Tensor, target: Tensor, cloudy: Tensor, eps: float = 1e-6) -> Tensor:
    """Distance of pred to the target over its mean distance to the negatives (cloudy, blurred target)."""
    positive = gradient_distance(pred, target)
    blurred = gaussian_blur(target, BLUR_WINDOW, BLUR_SIGMA).detach()
    negative = 0.5 * (gradient_distance(pred, cloudy.detach()) + gradient_distance(pred, blurred))
    return positive / (negative + eps)


CHANGE_RANGE = (0.01, 0.03)  # mean absolute band difference: below it clear, above it fully changed


def changed_mask(cloudy: Tensor, target: Tensor) -> Tensor:
    """Where the input differs from the target, (N, H, W) in [0, 1]: 0 below CHANGE_RANGE, 1 above."""
    low, high = CHANGE_RANGE
    difference = (cloudy - target).abs().mean(dim=1)
    return ((difference - low) / (high - low)).clamp(0.0, 1.0).detach()


def gate_loss(gate_logit: Tensor, cloud_mask: Tensor) -> Tensor:
    """BCE of the clear-sky gate logit (N, 1, H, W) against 1 - cloud mask (N, H, W) or (N, 1, H, W)."""
    clear = 1.0 - cloud_mask.reshape(gate_logit.shape).to(gate_logit.dtype)
    return F.binary_cross_entropy_with_logits(gate_logit, clear)


@dataclass(frozen=True)
class LossWeights:
    """The weight of every loss term at one step."""

    l1: float
    ssim: float
    sam: float
    contrastive: float
    kl: float
    gate: float

    def to_dict(self) -> dict[str, float]:
        """Weights by term name."""
        return asdict(self)


@dataclass(frozen=True)
class LossSchedule:
    """Target weights and the step schedule that brings each term in."""

    l1: float = 1.0
    ssim: float = 0.2
    sam: float = 0.1
    contrastive: float = 0.05
    kl: float = 1e-3
    gate: float = 0.05
    l1_warmup_steps: int = 100  # only L1 (and the gate) before this step
    ramp_steps: int = 200  # then SSIM, SAM and contrastive rise linearly to their targets
    kl_warmup_steps: int = 500  # KL annealing: its weight rises linearly from 0 over these steps

    def weights(self, step: int) -> LossWeights:
        """The weights at `step` (0-based)."""
        ramp = _ramp(step - self.l1_warmup_steps, self.ramp_steps)
        return LossWeights(
            l1=self.l1,
            ssim=self.ssim * ramp,
            sam=self.sam * ramp,
            contrastive=self.contrastive * ramp,
            kl=self.kl * _ramp(step, self.kl_warmup_steps),
            gate=self.gate,
        )


def _ramp(step: int, length: int) -> float:
    """0 before step 0, linear to 1 over `length` steps, 1 after (a step function when length is 0)."""
    if step < 0:
        return 0.0
    return 1.0 if length <= 0 else min(1.0, step / length)


@dataclass
class LossResult:
    """The weighted total to back-propagate and every unweighted term, for logging."""

    total: Tensor
    terms: dict[str, Tensor]
    weights: LossWeights

    def log(self) -> dict[str, float]:
        """Total and terms as floats, keyed `loss` and `loss_<term>`."""
        return {"loss": self.total.item(), **{f"loss_{k}": v.item() for k, v in self.terms.items()}}


def joint_loss(
    output: IBHFNOutput,
    target: Tensor,
    cloudy: Tensor,
    weights: LossWeights,
    cloud_mask: Tensor | None = None,
) -> LossResult:
    """The weighted sum of every term the output supports (DSen2-CR has no KL or gate)."""
    image = output.image
    terms = {
        "l1": F.l1_loss(image, target),
        "ssim": ssim_loss(image, target),
        "sam": spectral_angle(image, target),
        "contrastive": contrastive_sharpness(image, target, cloudy),
    }
    if output.mu is not None and output.logvar is not None:
        terms["kl"] = kl_divergence(output.mu, output.logvar)
    if output.gate_logit is not None and cloud_mask is not None:
        terms["gate"] = gate_loss(output.gate_logit, cloud_mask)
    weight_of = weights.to_dict()
    total = functools.reduce(operator.add, (weight_of[name] * value for name, value in terms.items()))
    return LossResult(total=total, terms=terms, weights=weights)
