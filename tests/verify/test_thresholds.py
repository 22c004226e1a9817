"""Default and overridden thresholds, and the verdict they give on generated summaries."""

from __future__ import annotations

import numpy as np
import pytest

from ibhfn.errors import InputError
from ibhfn.verify.thresholds import DEFAULT_THRESHOLDS, judge, thresholds_for


def _one_band_off(band: int, offset: float):
    def engine(i, s):
        out = s.reference.copy()
        out[band] = np.clip(out[band] + offset, 0.0, 1.0)
        return out

    return engine


def test_documented_defaults():
    assert thresholds_for("fp32").max_abs == 1e-4
    fp16 = thresholds_for("fp16")
    assert (fp16.max_delta_psnr, fp16.allow_non_finite) == (0.05, False)
    int8 = thresholds_for("int8")
    assert (int8.max_delta_psnr, int8.max_delta_sam, int8.max_abs) == (0.3, 0.2, None)
    assert set(DEFAULT_THRESHOLDS) == {"fp32", "fp16", "int8"}


def test_overrides_replace_one_limit_and_none_switches_it_off():
    t = thresholds_for("int8", max_delta_sam=0.5, min_psnr=None)
    assert (t.max_delta_sam, t.min_psnr, t.max_delta_psnr) == (0.5, None, 0.3)


def test_unknown_precision_or_threshold_is_an_input_error():
    with pytest.raises(InputError, match="unknown precision 'fp8'; choose one of fp32, fp16, int8"):
        thresholds_for("fp8")
    with pytest.raises(InputError, match="unknown threshold 'max_ab'"):
        thresholds_for("fp32", max_ab=1.0)


def test_identical_outputs_pass_every_precision(summarise):
    summary = summarise(lambda i, s: s.reference.copy())
    for precision in ("fp32", "fp16", "int8"):
        verdict = judge(summary, thresholds_for(precision))
        assert verdict.passed, verdict.message
        assert verdict.failing_bands == () and verdict.skipped == ()
        assert verdict.message.startswith(f"PASS ({precision})")


def test_one_perturbed_band_fails_fp32_and_is_named(summarise):
    verdict = judge(summarise(_one_band_off(7, 1e-3)), thresholds_for("fp32"))
    assert not verdict.passed
    failed = [c for c in verdict.checks if not c.passed]
    assert [(c.name, c.op, c.limit) for c in failed] == [("max_abs", "<=", 1e-4)]
    assert failed[0].value == pytest.approx(1e-3, rel=1e-3)
    assert verdict.failing_bands == ("B8",)
    assert "B8" in verdict.message and verdict.message.startswith("FAIL (fp32)")


def test_delta_limits_fail_int8_and_name_the_band(summarise):
    verdict = judge(summarise(_one_band_off(0, 0.08)), thresholds_for("int8"))
    failed = {c.name for c in verdict.checks if not c.passed}
    assert "delta_psnr" in failed and "delta_sam" in failed
    assert verdict.failing_bands == ("B1",)


def test_non_finite_output_fails_unless_allowed(summarise):
    def engine(i, s):
        out = s.reference.copy()
        out[2, 0, 0] = np.inf if i == 1 else out[2, 0, 0]
        return out

    summary = summarise(engine)
    verdict = judge(summary, thresholds_for("fp16"))
    assert not verdict.passed
    assert next(c for c in verdict.checks if c.name == "non_finite").value == 1
    assert verdict.failing_bands == ("B3",)
    relaxed = judge(
        summary, thresholds_for("fp16", allow_non_finite=True, max_abs=None, min_psnr=None, max_delta_psnr=None)
    )
    assert relaxed.passed and relaxed.checks == ()


def test_delta_checks_are_skipped_without_ground_truth(summarise):
    verdict = judge(summarise(lambda i, s: s.reference.copy(), with_truth=False), thresholds_for("int8"))
    assert verdict.passed
    assert [c.name for c in verdict.checks] == ["non_finite", "psnr"]
    assert verdict.skipped == ("delta_psnr: no ground truth", "delta_sam: no ground truth")


def test_a_band_alone_beyond_a_limit_warns_unless_strict(summarise):
    engine = _one_band_off(9, 0.004)  # B9 alone loses more than 0.05 dB; the mean over bands does not
    summary = summarise(engine)
    lenient = judge(summary, thresholds_for("fp16"))
    assert lenient.passed and lenient.failing_bands == ("B9",)
    strict = judge(summary, thresholds_for("fp16", strict_bands=True))
    assert not strict.passed and all(c.passed for c in strict.checks)
    assert strict.message == "FAIL (fp16): strict_bands; bands beyond a limit: B9"
