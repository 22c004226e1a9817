"""The report's figures, drawn with matplotlib's Agg canvas from the run's summary, never from every pixel.

They read the per-band statistics, the fixed-bin histogram and the worst sample (kept shrunk to
at most `QUICKLOOK_MAX_SIDE` on a side). matplotlib (the `verify` extra) is imported only here,
without pyplot and without changing any global backend; `require_matplotlib` lets a caller
refuse `--report` before any work.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np

from ibhfn.errors import DependencyError
from ibhfn.verify.parity import ParitySummary, WorstSample
from ibhfn.verify.thresholds import Verdict

QUICKLOOK_PERCENTILES = (2.0, 98.0)  # per-channel stretch of the true-colour quicklooks


def require_matplotlib() -> None:
    """Raise DependencyError, naming the extra, when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise DependencyError("the HTML report needs matplotlib: pip install 'ibhfn[verify]'") from None


class Figures:
    """The report's matplotlib figures, each returned as a PNG data URI."""

    def __init__(self, summary: ParitySummary, verdict: Verdict) -> None:
        require_matplotlib()
        from matplotlib import colormaps
        from matplotlib.figure import Figure

        self._figure = Figure
        self._colormaps = colormaps
        self.summary = summary
        self.verdict = verdict

    def per_band(self) -> str:
        """Absolute differences per band (top) and delta PSNR or PSNR per band (bottom)."""
        fig = self._figure(figsize=(11, 6.4))
        top, bottom = fig.subplots(2, 1)
        self._band_errors(top)
        self._band_psnr(bottom)
        x = np.arange(len(self.summary.band_names))
        for ax in (top, bottom):
            ax.set_xticks(x, self.summary.band_names)
            for tick in ax.get_xticklabels():
                if tick.get_text() in self.verdict.failing_bands:
                    tick.set_color("#c62828")
                    tick.set_fontweight("bold")
            ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        return _png(fig)

    def _band_errors(self, ax) -> None:
        """Bars of max, p99.9 and mean absolute difference per band, log scale, with the limit."""
        bands = self.summary.overall.bands
        limit = self.verdict.thresholds.max_abs
        series = [
            ("max abs", "#c62828", _finite([b.max_abs for b in bands])),
            ("p99.9", "#ef8a17", _finite([b.p99_9 for b in bands])),
            ("mean abs", "#1f77b4", _finite([b.mean_abs for b in bands])),
        ]
        highest = max(np.nanmax(values, initial=0.0) for _, _, values in series)
        ax.set_title("Absolute difference per band")
        ax.set_ylabel("|engine - reference|")
        if highest == 0:
            ax.text(
                0.5,
                0.5,
                "engine and reference are identical in every band",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
            return
        x = np.arange(len(bands))
        for i, (label, colour, values) in enumerate(series):
            ax.bar(x + (i - 1) * 0.27, values, 0.27, label=label, color=colour)
        ax.set_yscale("log")
        if limit is not None:
            ax.axhline(limit, color="black", ls="--", lw=1, label=f"max abs limit {limit:g}")
        ax.set_ylim(top=10 * max(highest, limit or 0.0))  # room for the legend
        ax.legend(fontsize=8, ncols=4, loc="upper left")

    def _band_psnr(self, ax) -> None:
        """Delta PSNR against ground truth per band if there is truth, else PSNR against reference."""
        t = self.verdict.thresholds
        deltas = self.summary.overall.band_deltas
        if deltas is not None:
            values, limit = _finite([d.psnr for d in deltas]), t.max_delta_psnr
            ax.set_title("Delta PSNR against ground truth per band")
            ax.set_ylabel("delta PSNR dB (engine worse > 0)")
        else:
            values, limit = _finite([b.psnr for b in self.summary.overall.bands]), t.min_psnr
            ax.set_title("PSNR of engine against reference per band (inf = identical, not drawn)")
            ax.set_ylabel("PSNR vs reference, dB")
        ax.bar(np.arange(len(values)), values, 0.6, color="#6a51a3")
        if limit is not None:
            ax.axhline(limit, color="black", ls="--", lw=1, label=f"limit {limit:g}")
            ax.legend(fontsize=8, loc="upper left")
        highest = max(np.nanmax(values, initial=0.0), limit or 0.0)
        if highest > 0:
            ax.set_ylim(top=1.3 * highest)

    def histogram(self) -> str:
        """Histogram of |engine - reference| over all bands on log-spaced bins."""
        h = self.summary.histogram
        counts = h.counts
        total = counts.sum()
        fig = self._figure(figsize=(9, 3.6))
        ax = fig.subplots()
        # counts[0]: exact zeros; counts[1]: (0, 1e-9]; counts[-1]: above the last finite edge.
        positive = counts[2:-1]
        if positive.any():
            used = np.flatnonzero(positive)  # draw only the decades that hold values
            lo, hi = max(used[0] - 5, 0), min(used[-1] + 6, len(positive))
            ax.stairs(positive[lo:hi] / total, h.edges[1 + lo : 2 + hi], fill=True, color="#1f77b4")
            ax.set_xscale("log")
            ax.set_yscale("log")
            overall = self.summary.overall.difference
            for value, label, style in ((overall.p99, "p99", ":"), (overall.p99_9, "p99.9", "-.")):
                if 0 < value < math.inf:
                    ax.axvline(value, color="#ef8a17", ls=style, lw=1.2, label=f"{label} = {value:.3g}")
            limit = self.verdict.thresholds.max_abs
            if limit is not None:
                ax.axvline(limit, color="black", ls="--", lw=1, label=f"max abs limit {limit:g}")
            ax.legend(fontsize=8)
        else:
            text = "every difference is exactly zero" if counts[0] == total else "no finite difference > 1e-9"
            ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("|engine - reference| (reflectance)")
        ax.set_ylabel("fraction of values")
        ax.set_title(
            f"{total:,} values; exactly zero: {counts[0] / total:.1%}; "
            f"in (0, 1e-9]: {counts[1] / total:.1%}; above 10 or inf/NaN: {counts[-1]:,}"
        )
        ax.grid(alpha=0.3)
        fig.tight_layout()
        return _png(fig)

    def quicklooks(self) -> str:
        """True-colour panels of the worst sample: cloudy input, reference, engine, truth, difference."""
        w: WorstSample = self.summary.worst_sample
        low, high = _stretch_limits(w.reference_rgb)
        panels = [
            (title, _stretch(rgb, low, high))
            for title, rgb in (
                ("cloudy input", w.cloudy_rgb),
                ("reference", w.reference_rgb),
                ("engine", w.engine_rgb),
                ("ground truth", w.truth_rgb),
            )
            if rgb is not None
        ]
        diff = np.abs(w.engine_rgb.astype(np.float64) - w.reference_rgb)
        diff[~np.isfinite(diff)] = 0.0
        scale = float(np.percentile(diff, 99.5)) or float(diff.max()) or 1.0
        panels.append((f"|engine - reference|, 0 to {scale:.2g}", _stretch(diff, 0.0, scale)))
        fig = self._figure(figsize=(2.6 * len(panels), 2.9))
        for ax, (title, image) in zip(np.atleast_1d(fig.subplots(1, len(panels))), panels):
            ax.imshow(image, interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.set_axis_off()
        fig.tight_layout()
        return _png(fig)

    def heat_map(self) -> str:
        """The worst sample's largest absolute error over the bands, per pixel (inf/NaN in cyan)."""
        w = self.summary.worst_sample
        error = np.ma.masked_invalid(w.abs_error)
        highest = float(error.max()) if error.count() else 0.0
        fig = self._figure(figsize=(6.2, 5))
        ax = fig.subplots()
        cmap = self._colormaps["magma"].with_extremes(bad="cyan")
        image = ax.imshow(error, cmap=cmap, interpolation="nearest", vmin=0, vmax=highest or 1.0)
        fig.colorbar(image, ax=ax, label="max over bands of |engine - reference|")
        bad = error.size - error.count()
        note = f" ({bad} inf/NaN pixels in cyan)" if bad else ""
        ax.set_title(f"{w.sample_id}: absolute error{note}", fontsize=10)
        ax.set_axis_off()
        fig.tight_layout()
        return _png(fig)


def _finite(values: list[float]) -> np.ndarray:
    """Values with inf/NaN replaced by NaN, so bar charts leave them out."""
    array = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(array), array, np.nan)


def _stretch_limits(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel percentile limits of a (3, H, W) image, ignoring inf/NaN."""
    flat = np.where(np.isfinite(rgb), rgb, np.nan).reshape(3, -1)
    low, high = np.nanpercentile(flat, QUICKLOOK_PERCENTILES, axis=1)
    return low[:, None, None], np.maximum(high, low + 1e-6)[:, None, None]


def _stretch(rgb: np.ndarray, low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
    """(3, H, W) reflectance stretched to an (H, W, 3) image in [0, 1]."""
    return np.nan_to_num(np.clip((rgb - low) / (high - low), 0.0, 1.0), nan=0.0).transpose(1, 2, 0)


def _png(fig) -> str:
    """A figure as a base64 PNG data URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
