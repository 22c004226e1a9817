"""Pass / fail limits for an engine against its reference, per precision, and the verdict on a run.

Defaults, each overridable by keyword (None switches a check off):

| precision | max abs diff | PSNR vs reference | delta PSNR | delta SAM | inf / NaN |
|---|---|---|---|---|---|
| fp32 | <= 1e-4 | - | - | - | none |
| fp16 | <= 2e-2 | >= 45 dB | <= 0.05 dB | - | none |
| int8 | - | >= 35 dB | <= 0.3 dB | <= 0.2 deg | none |

fp32 should match the reference to rounding. For fp16, 2e-2 is about 40 half-precision steps at
reflectance 1: it catches overflow and saturation, not rounding. The deltas (reference against
ground truth minus engine against ground truth; positive = engine worse) are the limits that
matter to a user, but need ground truth; the PSNR floors against the reference apply without it
and are looser than the deltas (at the anchors' 28-33 dB, 0.05 dB of delta PSNR means about
47-52 dB against the reference, 0.3 dB about 39-44 dB). Without ground truth the delta checks are
skipped and the verdict says so. The limits apply to dataset-level numbers; the same limits per
band name the bands to look at, and fail the run only with `strict_bands=True`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ibhfn.engine_metadata import PRECISIONS
from ibhfn.errors import InputError
from ibhfn.verify.parity import ParitySummary

CHECK_LABELS: dict[str, str] = {
    "non_finite": "inf/NaN values in the engine output",
    "max_abs": "max |engine - reference|",
    "psnr": "PSNR of engine against reference (dB)",
    "delta_psnr": "delta PSNR against ground truth (dB)",
    "delta_sam": "delta SAM against ground truth (degrees)",
}


@dataclass(frozen=True)
class Thresholds:
    """The limits an engine of one precision must meet; None means the check is not made."""

    precision: str
    max_abs: float | None = None  # largest |engine - reference| over every band and pixel
    min_psnr: float | None = None  # dB, engine against reference, mean over samples
    max_delta_psnr: float | None = None  # dB, mean over samples with ground truth
    max_delta_sam: float | None = None  # degrees, mean over samples with ground truth
    allow_non_finite: bool = False
    strict_bands: bool = False  # also fail when a single band breaks a limit on its own

    def to_dict(self) -> dict:
        """The limits by name, for the report."""
        return dataclasses.asdict(self)


DEFAULT_THRESHOLDS: dict[str, Thresholds] = {
    "fp32": Thresholds("fp32", max_abs=1e-4),
    "fp16": Thresholds("fp16", max_abs=2e-2, min_psnr=45.0, max_delta_psnr=0.05),
    "int8": Thresholds("int8", min_psnr=35.0, max_delta_psnr=0.3, max_delta_sam=0.2),
}


def thresholds_for(precision: str, **overrides: float | bool | None) -> Thresholds:
    """The documented defaults of a precision, with any limit replaced by keyword."""
    if precision not in DEFAULT_THRESHOLDS:
        raise InputError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    limits = {f.name for f in dataclasses.fields(Thresholds)} - {"precision"}
    unknown = sorted(set(overrides) - limits)
    if unknown:
        raise InputError(f"unknown threshold {unknown[0]!r}; choose from {', '.join(sorted(limits))}")
    limits_given: dict[str, Any] = overrides  # limits only (checked above), none of them `precision`
    return dataclasses.replace(DEFAULT_THRESHOLDS[precision], **limits_given)


@dataclass(frozen=True)
class Check:
    """One limit applied to one dataset-level number."""

    name: str  # a key of CHECK_LABELS
    value: float
    limit: float
    passed: bool
    op: str = "<="  # value must be `op` limit


@dataclass(frozen=True)
class Verdict:
    """Whether the engine passed, the checks that decided it, and the bands to look at.

    `passed` is decided by the dataset-level checks, and with `strict_bands` also by the bands.
    `failing_bands` names the bands whose own statistics break a limit (band max abs, band PSNR
    against the reference, band delta PSNR, band inf/NaN): on a failure they say where the error
    is; on a pass they are a warning. Per-band deltas are noisy where the reference's own error is
    small (B10, say), which is why they do not decide the verdict by default.
    """

    passed: bool
    checks: tuple[Check, ...]
    failing_bands: tuple[str, ...]
    thresholds: Thresholds
    skipped: tuple[str, ...] = ()  # checks that could not be made, with the reason

    @property
    def message(self) -> str:
        """One line for a terminal: PASS or FAIL, and what failed."""
        failed = [c for c in self.checks if not c.passed]
        if self.passed:
            head = f"PASS ({self.thresholds.precision}): {len(self.checks)} checks passed"
        else:
            head = f"FAIL ({self.thresholds.precision}): " + "; ".join(
                [f"{c.name} {c.value:.4g} not {c.op} {c.limit:.4g}" for c in failed] or ["strict_bands"]
            )
        if self.failing_bands:
            head += f"; bands beyond a limit: {', '.join(self.failing_bands)}"
        return head


def judge(summary: ParitySummary, thresholds: Thresholds) -> Verdict:
    """Apply the thresholds to a summary, overall and band by band."""
    overall = summary.overall
    checks: list[Check] = []
    skipped: list[str] = []
    if not thresholds.allow_non_finite:
        checks.append(_at_most("non_finite", overall.difference.non_finite, 0))
    if thresholds.max_abs is not None:
        checks.append(_at_most("max_abs", overall.difference.max_abs, thresholds.max_abs))
    if thresholds.min_psnr is not None:
        checks.append(_at_least("psnr", overall.difference.psnr, thresholds.min_psnr))
    for name, limit in (("delta_psnr", thresholds.max_delta_psnr), ("delta_sam", thresholds.max_delta_sam)):
        if limit is None:
            continue
        if overall.quality is None:
            skipped.append(f"{name}: no ground truth")
        else:
            checks.append(_at_most(name, getattr(overall.quality, name), limit))
    failing_bands = _failing_bands(summary, thresholds)
    return Verdict(
        passed=all(c.passed for c in checks) and not (thresholds.strict_bands and failing_bands),
        checks=tuple(checks),
        failing_bands=failing_bands,
        thresholds=thresholds,
        skipped=tuple(skipped),
    )


def _failing_bands(summary: ParitySummary, thresholds: Thresholds) -> tuple[str, ...]:
    """Names of the bands whose own statistics break a limit, in band order."""
    overall = summary.overall
    failing = []
    for b, (name, band) in enumerate(zip(summary.band_names, overall.bands)):
        broken = [
            not thresholds.allow_non_finite and band.non_finite > 0,
            thresholds.max_abs is not None and not band.max_abs <= thresholds.max_abs,
            thresholds.min_psnr is not None and not band.psnr >= thresholds.min_psnr,
            thresholds.max_delta_psnr is not None
            and overall.band_deltas is not None
            and not overall.band_deltas[b].psnr <= thresholds.max_delta_psnr,
        ]
        if any(broken):
            failing.append(name)
    return tuple(failing)


def _at_most(name: str, value: float, limit: float) -> Check:
    """A check that passes when value <= limit (NaN fails)."""
    return Check(name, float(value), float(limit), bool(value <= limit), "<=")


def _at_least(name: str, value: float, limit: float) -> Check:
    """A check that passes when value >= limit (NaN fails)."""
    return Check(name, float(value), float(limit), bool(value >= limit), ">=")
