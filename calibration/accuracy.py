"""How much the INT8 model loses against the FP32 one, on held-out validation patches.

Held-out patches come from the val split and never include a calibration patch. Both models
run through `ibhfn.runtime.engine.open_engine` on the CPU, exactly as the runtime runs them, and
`ibhfn.verify.parity` does the statistics: INT8 against FP32 (max / mean abs difference, PSNR),
and both against the cloud-free target (delta PSNR, SSIM, SAM, MAE), overall and per band, in
reflectance. The FP32 outputs are computed once and reused for every INT8 candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ibhfn.calibration.reader import crop
from ibhfn.data import SEN12MSCR
from ibhfn.errors import InputError
from ibhfn.preprocessing import Preprocessing
from ibhfn.runtime.engine import open_engine
from ibhfn.verify.parity import ParityAccumulator, ParitySummary, Quality


@dataclass(frozen=True)
class Targets:
    """The most the INT8 model may lose against FP32 on ground truth."""

    delta_psnr: float = 0.3  # dB
    delta_sam: float = 0.2  # degrees


@dataclass(frozen=True)
class HeldOutSample:
    """One held-out tile at network scale, with the FP32 model's output on it."""

    sample_id: str
    sar: np.ndarray  # (2, t, t)
    optical: np.ndarray  # (13, t, t)
    truth: np.ndarray  # (13, t, t)
    coverage: float | None
    fp32: np.ndarray  # (13, t, t)


@dataclass(frozen=True)
class AccuracyReport:
    """INT8 against FP32 and both against ground truth, over the held-out samples."""

    summary: ParitySummary

    @property
    def quality(self) -> Quality:
        """Both models against ground truth: every held-out sample has it."""
        quality = self.summary.overall.quality
        if quality is None:
            raise ValueError("the held-out samples carry no ground truth")
        return quality

    @property
    def delta_psnr(self) -> float:
        """PSNR the INT8 model loses against ground truth, dB (positive = worse)."""
        return float(self.quality.delta_psnr)

    @property
    def delta_sam(self) -> float:
        """Spectral angle the INT8 model adds against ground truth, degrees."""
        return float(self.quality.delta_sam)

    @property
    def added_error(self) -> float:
        """RMS difference of the INT8 output from the FP32 output, averaged over samples."""
        return self.summary.overall.difference.rms

    def meets(self, targets: Targets) -> bool:
        """Within both targets."""
        return self.delta_psnr <= targets.delta_psnr and self.delta_sam <= targets.delta_sam

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: overall figures, then one entry per band."""
        overall = self.summary.overall
        difference, quality = overall.difference, self.quality
        return {
            "samples": self.summary.n_samples,
            "int8_vs_fp32": {
                "max_abs": difference.max_abs,
                "mean_abs": difference.mean_abs,
                "rms": difference.rms,
                "psnr_db": _finite(difference.psnr),
                "sam_deg": overall.sam,
            },
            "vs_truth": {
                "fp32": quality.reference.to_dict(),
                "int8": quality.engine.to_dict(),
                "delta_psnr_db": quality.delta_psnr,
                "delta_ssim": quality.delta_ssim,
                "delta_sam_deg": quality.delta_sam,
                "delta_mae": quality.delta_mae,
            },
            "bands": {
                name: {
                    "max_abs": band.max_abs,
                    "mean_abs": band.mean_abs,
                    "psnr_db": _finite(band.psnr),
                    "delta_psnr_db": delta.psnr,
                    "delta_ssim": delta.ssim,
                    "delta_mae": delta.mae,
                }
                for name, band, delta in zip(self.summary.band_names, overall.bands, overall.band_deltas or ())
            },
        }


def _finite(value: float) -> float | str:
    """A JSON-safe number: an identical output's infinite PSNR becomes the text 'inf'."""
    return value if math.isfinite(value) else str(value)


def held_out_samples(
    root: Path,
    preprocessing: str,
    count: int,
    *,
    seed: int,
    tile: int,
    exclude: frozenset[tuple[str, int]],
    fp32: Path,
) -> list[HeldOutSample]:
    """Up to `count` val patches (seeded order, none of `exclude`), cropped, with FP32 outputs."""
    if count < 1:
        raise InputError(f"--holdout must be at least 1, got {count}")
    dataset = SEN12MSCR(root, "val", preprocessing=preprocessing)
    order = np.random.default_rng([seed, 1]).permutation(len(dataset))
    chosen = [int(i) for i in order if (dataset.triplets[i].scene, dataset.triplets[i].patch) not in exclude]
    held: list[HeldOutSample] = []
    with open_engine(fp32, device="cpu") as engine:
        for index in chosen:
            if len(held) == count:
                break
            sample = dataset.read_or_skip(index)  # an unreadable patch: one warning, and the next one
            if sample is None:
                continue
            sar, optical, truth = crop(sample, tile)
            output = engine.infer(sar[None], optical[None])[0]
            held.append(HeldOutSample(f"{sample.scene}/p{sample.patch}", sar, optical, truth, sample.coverage, output))
    if not held:
        raise InputError(f"{root}: no val patch is left to hold out once the calibration patches are removed")
    return held


def measure(int8: Path, held: list[HeldOutSample], preprocessing: Preprocessing) -> AccuracyReport:
    """Run the INT8 model on the held-out samples and compare it with FP32 and ground truth."""
    accumulator = ParityAccumulator()
    with open_engine(int8, device="cpu") as engine:
        for sample in held:
            output = engine.infer(sample.sar[None], sample.optical[None])[0]
            accumulator.add(
                preprocessing.reflectance(output),
                preprocessing.reflectance(sample.fp32),
                sample_id=sample.sample_id,
                truth=preprocessing.reflectance(sample.truth),
                coverage=sample.coverage,
            )
    return AccuracyReport(accumulator.summary())
