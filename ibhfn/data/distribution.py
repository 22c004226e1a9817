"""The statistics of a SEN12MS-CR-layout folder and the distance between two such summaries.

For measuring how far the synthetic generator (`ibhfn.data.synthetic`) is from real data. A folder
may lack a modality (real pairs without S1, real S1 + clear S2 without cloudy images); the files of
each modality are walked on their own, named exactly as the reader names them. On reflectance (DN
clipped to [0, 10000] / 10000) and S1 dB:

* clear S2: per-band quantiles (`QUANTILES`) and the 13 x 13 inter-band correlation;
* cloudy S2 over its clear S2: the mean spectra of thick and thin cloud in both images, and the
  cloud cover of each cloudy patch (`CLOUD_RULE`). Thick cloud is where the threshold cloud mask
  (`ibhfn.data.cloud_mask`) exceeds 0.5 and B2 rose by more than 0.15 over the clear image; thin
  cloud is where B2 rose by 0.02 to 0.15, mask or not, because the mask misses most haze. Pixels
  whose B2 did not rise are in neither: bright ground the mask takes for cloud, or cloud (or snow)
  in the clear image too. Cover is the fraction of a cloudy patch the mask calls cloud;
* S1: per-band quantiles in dB and speckle, the coefficient of variation of linear intensity in
  non-overlapping 7 x 7 windows (median over windows).

Pixels, windows and patches are kept as uniform random samples of bounded size (`SAMPLE_ROWS`),
so memory does not grow with the folder. A part that either side lacks is `None` in `Comparison`
and "n/a" in its JSON, never 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import wasserstein_distance

from ibhfn.bands import S1_BANDS, S2_BANDS
from ibhfn.data.cloud_mask import threshold_cloud_mask
from ibhfn.data.sen12mscr import KINDS, CorruptSampleError, _patches_on_disk, patch_paths, read_patch
from ibhfn.errors import InputError
from ibhfn.metrics import sam
from ibhfn.preprocessing import S2_DN_MAX

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
MEDIAN = QUANTILES.index(0.5)
DEFAULT_PIXELS = 4096  # pixels drawn from each file
SAMPLE_ROWS = 2**18  # the most pixels, windows or patches any one statistic keeps
THICK_B2_JUMP = 0.15  # cloudy minus clear B2 reflectance above which a masked pixel is thick cloud
THIN_B2_JUMP = 0.02  # ... and above which (up to THICK_B2_JUMP) any pixel is thin cloud or haze
CLOUD_RULE = (
    f"B2 jump = cloudy - clear B2; thick: threshold cloud mask > 0.5 and jump > {THICK_B2_JUMP}; "
    f"thin: {THIN_B2_JUMP} < jump <= {THICK_B2_JUMP}; cover: mask > 0.5"
)
CLOUD_KINDS = ("thick", "thin")
COVER_BINS = 10
SPECKLE_WINDOW = 7
_B2 = S2_BANDS.index("B2")


@dataclass(frozen=True)
class CloudSpectrum:
    """The mean spectra of one kind of cloud pixel: in the cloudy image and the same pixels clear."""

    pixels: int
    cloudy: np.ndarray  # (13,) reflectance
    clear: np.ndarray  # (13,) reflectance

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the pixel count and both spectra by band name."""
        return {
            "pixels": self.pixels,
            "cloudy": _by_band(self.cloudy, S2_BANDS),
            "clear": _by_band(self.clear, S2_BANDS),
        }


@dataclass
class FolderStatistics:
    """The summary of one folder; a field is None when the folder lacks the modality it needs."""

    root: str
    files: dict[str, int]  # files found per modality ('s1', 's2', 's2_cloudy')
    s2_quantiles: np.ndarray | None  # (len(QUANTILES), 13) reflectance
    s2_correlation: np.ndarray | None  # (13, 13); NaN where a band is constant
    cloud_spectra: dict[str, CloudSpectrum | None] | None  # by CLOUD_KINDS; None inside: no such pixel
    cloud_cover: np.ndarray | None  # fraction of cloud pixels per cloudy patch (a sample of them)
    cloudy_patches: int  # how many cover fractions `cloud_cover` was drawn from
    s1_quantiles: np.ndarray | None  # (len(QUANTILES), 2) dB
    s1_speckle_cv: np.ndarray | None  # (2,) median window CV of linear intensity

    def cover_histogram(self) -> np.ndarray | None:
        """The fraction of cloudy patches in each of COVER_BINS equal bins of cover over [0, 1]."""
        return None if self.cloud_cover is None else _cover_histogram(self.cloud_cover)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every statistic by band name (null where the folder lacks it)."""
        cover = None
        if self.cloud_cover is not None:
            cover = {
                "patches": self.cloudy_patches,
                "mean": float(self.cloud_cover.mean()),
                "bin_edges": np.linspace(0.0, 1.0, COVER_BINS + 1).round(6).tolist(),
                "histogram": _listed(_cover_histogram(self.cloud_cover)),
            }
        spectra = None
        if self.cloud_spectra is not None:
            spectra = {
                "rule": CLOUD_RULE,
                **{
                    kind: None if spectrum is None else spectrum.to_dict()
                    for kind, spectrum in self.cloud_spectra.items()
                },
            }
        return {
            "root": self.root,
            "files": self.files,
            "quantile_levels": list(QUANTILES),
            "s2_quantiles": None if self.s2_quantiles is None else _by_band(self.s2_quantiles.T, S2_BANDS),
            "s2_correlation": None if self.s2_correlation is None else _listed(self.s2_correlation),
            "cloud_spectra": spectra,
            "cloud_cover": cover,
            "s1_quantiles_db": None if self.s1_quantiles is None else _by_band(self.s1_quantiles.T, S1_BANDS),
            "s1_speckle_cv": None if self.s1_speckle_cv is None else _by_band(self.s1_speckle_cv, S1_BANDS),
        }


@dataclass(frozen=True)
class SpectrumDistance:
    """How far apart two folders' mean spectra of one cloud kind are."""

    mad: float  # mean |difference| of the cloudy spectra, reflectance
    angle_deg: float  # spectral angle between the cloudy spectra
    added_mad: float  # mean |difference| of what the cloud adds (cloudy - clear spectra)


@dataclass
class Comparison:
    """The distance between two summaries, part by part; None where either side lacks the data."""

    s2_quantiles: np.ndarray | None  # (13,) mean |difference| of the quantiles per band
    s2_correlation: float | None  # mean |difference| of the off-diagonal correlations
    cloud_spectra: dict[str, SpectrumDistance | None]  # by CLOUD_KINDS
    cloud_cover: float | None  # 1-D Wasserstein distance between the per-patch cover distributions
    s1_quantiles: np.ndarray | None  # (2,) mean |difference| of the quantiles per band, dB
    s1_speckle_cv: np.ndarray | None  # (2,) |difference| of the speckle CV per band

    @property
    def s2_quantiles_overall(self) -> float | None:
        """The band-quantile distance averaged over bands."""
        return None if self.s2_quantiles is None else float(self.s2_quantiles.mean())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready distances, "n/a" for a part either side lacks."""
        spectra = {
            kind: "n/a" if d is None else {"mad": d.mad, "angle_deg": d.angle_deg, "added_mad": d.added_mad}
            for kind, d in self.cloud_spectra.items()
        }
        return {
            "s2_quantiles": _or_na(
                self.s2_quantiles, lambda v: {"per_band": _by_band(v, S2_BANDS), "overall": self.s2_quantiles_overall}
            ),
            "s2_correlation": _or_na(self.s2_correlation, _finite),
            "cloud_spectra": spectra,
            "cloud_cover_wasserstein": _or_na(self.cloud_cover, float),
            "s1_quantiles_db": _or_na(self.s1_quantiles, lambda v: _by_band(v, S1_BANDS)),
            "s1_speckle_cv": _or_na(self.s1_speckle_cv, lambda v: _by_band(v, S1_BANDS)),
        }


class _Sample:
    """A uniform random sample of at most `capacity` of the rows added so far (Vitter's algorithm R)."""

    def __init__(self, capacity: int, width: int, rng: np.random.Generator) -> None:
        self._rows = np.empty((capacity, width), np.float32)
        self._rng = rng
        self.seen = 0

    def add(self, rows: np.ndarray) -> None:
        """Offer (n, width) rows to the sample."""
        capacity, count = len(self._rows), len(rows)
        free = min(max(capacity - self.seen, 0), count)
        self._rows[self.seen : self.seen + free] = rows[:free]
        if free < count:
            # Row i (from 0, over everything added) takes a random slot with probability capacity / (i + 1).
            slots = self._rng.integers(0, np.arange(self.seen + free, self.seen + count) + 1)
            keep = slots < capacity
            self._rows[slots[keep]] = rows[free:][keep]
        self.seen += count

    def rows(self) -> np.ndarray | None:
        """The sample, or None when nothing was added."""
        return None if self.seen == 0 else self._rows[: min(self.seen, len(self._rows))]


def patch_files(root: str | Path) -> dict[str, dict[tuple[str, int], Path]]:
    """Per modality, the files under a SEN12MS-CR-layout folder by (scene, patch), in that order.

    Raises InputError when `root` is not a folder or holds no file named in that layout.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder (expected a SEN12MS-CR-layout folder)")
    found = _patches_on_disk(root)
    files = {
        kind: {key: patch_paths(root, *key)[KINDS.index(kind)] for key in sorted(found[kind], key=_patch_order)}
        for kind in KINDS
    }
    if not any(files.values()):
        raise InputError(
            f"{root}: no SEN12MS-CR-layout files (<ROI>_<season>_s1|s2|s2_cloudy/<kind>_<scene>/..._p<patch>.tif)"
        )
    return files


def _patch_order(key: tuple[str, int]) -> tuple[str, int, int]:
    roi_season, number = key[0].split("/")
    return roi_season, int(number), key[1]


def folder_statistics(
    root: str | Path,
    *,
    max_pixels_per_file: int = DEFAULT_PIXELS,
    seed: int = 0,
) -> FolderStatistics:
    """Summarise a SEN12MS-CR-layout folder from `max_pixels_per_file` random pixels of each file."""
    if max_pixels_per_file < 1:
        raise InputError(f"pixels per file must be at least 1, got {max_pixels_per_file}")
    if seed < 0:
        raise InputError(f"seed must be 0 or more, got {seed}")
    files = patch_files(root)
    rng = np.random.default_rng(seed)
    clear = _Sample(SAMPLE_ROWS, len(S2_BANDS), rng)
    for path in files["s2"].values():
        clear.add(_pixels(_reflectance(path), max_pixels_per_file, rng))
    s2 = clear.rows()
    spectra, cover, cloudy_patches = _cloud_statistics(files, rng)
    s1_quantiles, speckle = _s1_statistics(files["s1"].values(), max_pixels_per_file, rng)
    return FolderStatistics(
        root=str(root),
        files={kind: len(paths) for kind, paths in files.items()},
        s2_quantiles=None if s2 is None else np.quantile(s2, QUANTILES, axis=0),
        s2_correlation=None if s2 is None else _correlation(s2),
        cloud_spectra=spectra,
        cloud_cover=cover,
        cloudy_patches=cloudy_patches,
        s1_quantiles=s1_quantiles,
        s1_speckle_cv=speckle,
    )


def _reflectance(path: Path) -> np.ndarray:
    """An S2 file as (13, H, W) reflectance: DN with NaN as 0, clipped to [0, 10000], / 10000."""
    dn, _ = read_patch(path, len(S2_BANDS))
    return np.clip(np.nan_to_num(dn), 0.0, S2_DN_MAX) / np.float32(S2_DN_MAX)


def _pixels(image: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` random pixels (all, if fewer) of a (C, H, W) image as (count, C) rows."""
    rows = image.reshape(len(image), -1).T
    if len(rows) <= count:
        return rows
    return rows[rng.choice(len(rows), count, replace=False)]


def _cover_histogram(cover: np.ndarray) -> np.ndarray:
    counts, _ = np.histogram(cover, bins=COVER_BINS, range=(0.0, 1.0))
    fractions: np.ndarray = counts / max(len(cover), 1)
    return fractions


def _correlation(rows: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.asarray(np.corrcoef(rows.astype(np.float64), rowvar=False))
    return correlation


def _cloud_statistics(
    files: dict[str, dict[tuple[str, int], Path]],
    rng: np.random.Generator,
) -> tuple[dict[str, CloudSpectrum | None] | None, np.ndarray | None, int]:
    """Thick and thin cloud spectra over the cloudy / clear pairs, and the cover of every cloudy patch."""
    sums = {kind: np.zeros((2, len(S2_BANDS))) for kind in CLOUD_KINDS}
    counts = dict.fromkeys(CLOUD_KINDS, 0)
    covers = _Sample(SAMPLE_ROWS, 1, rng)
    pairs = 0
    for key, path in files["s2_cloudy"].items():
        cloudy = _reflectance(path)
        cloud = threshold_cloud_mask(cloudy * np.float32(S2_DN_MAX)) > 0.5
        covers.add(np.array([[cloud.mean()]], np.float32))
        clear_path = files["s2"].get(key)
        if clear_path is None:
            continue
        clear = _reflectance(clear_path)
        if clear.shape != cloudy.shape:
            raise CorruptSampleError(path, f"is {cloudy.shape[1:]} px but its clear S2 is {clear.shape[1:]}")
        pairs += 1
        jump = cloudy[_B2] - clear[_B2]
        thin = (jump > THIN_B2_JUMP) & (jump <= THICK_B2_JUMP)
        for kind, where in (("thick", cloud & (jump > THICK_B2_JUMP)), ("thin", thin)):
            sums[kind] += [cloudy[:, where].sum(axis=1), clear[:, where].sum(axis=1)]
            counts[kind] += int(where.sum())
    spectra = None
    if pairs:
        spectra = {
            kind: CloudSpectrum(counts[kind], *(sums[kind] / counts[kind])) if counts[kind] else None
            for kind in CLOUD_KINDS
        }
    cover = covers.rows()
    return spectra, None if cover is None else cover[:, 0], covers.seen


def _s1_statistics(
    paths: Iterable[Path],
    max_pixels: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per-band dB quantiles and median 7 x 7 window speckle CV of the S1 files (None without any)."""
    pixels = _Sample(SAMPLE_ROWS, len(S1_BANDS), rng)
    windows = _Sample(SAMPLE_ROWS, len(S1_BANDS), rng)
    for path in paths:
        db, _ = read_patch(path, len(S1_BANDS))
        rows = _pixels(db, max_pixels, rng)
        pixels.add(rows[np.isfinite(rows).all(axis=1)])
        windows.add(_window_cv(db))
    db_rows, cv_rows = pixels.rows(), windows.rows()
    quantiles = None if db_rows is None else np.quantile(db_rows, QUANTILES, axis=0)
    return quantiles, None if cv_rows is None else np.median(cv_rows, axis=0)


def _window_cv(db: np.ndarray) -> np.ndarray:
    """(windows, 2): std / mean of linear intensity in each whole, finite, non-overlapping window."""
    bands, height, width = db.shape
    rows, cols = height // SPECKLE_WINDOW, width // SPECKLE_WINDOW
    linear = 10.0 ** (db[:, : rows * SPECKLE_WINDOW, : cols * SPECKLE_WINDOW].astype(np.float64) / 10.0)
    blocks = linear.reshape(bands, rows, SPECKLE_WINDOW, cols, SPECKLE_WINDOW)
    mean, std = blocks.mean(axis=(2, 4)), blocks.std(axis=(2, 4))
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = (std / mean).reshape(bands, -1).T
    return cv[np.isfinite(cv).all(axis=1)]


def compare(a: FolderStatistics, b: FolderStatistics) -> Comparison:
    """The distance from summary `a` to summary `b`, part by part (see `Comparison`)."""
    return Comparison(
        s2_quantiles=_both(a.s2_quantiles, b.s2_quantiles, lambda x, y: np.abs(x - y).mean(axis=0)),
        s2_correlation=_both(a.s2_correlation, b.s2_correlation, _correlation_distance),
        cloud_spectra={kind: _both(_kind(a, kind), _kind(b, kind), _spectrum_distance) for kind in CLOUD_KINDS},
        cloud_cover=_both(a.cloud_cover, b.cloud_cover, lambda x, y: float(wasserstein_distance(x, y))),
        s1_quantiles=_both(a.s1_quantiles, b.s1_quantiles, lambda x, y: np.abs(x - y).mean(axis=0)),
        s1_speckle_cv=_both(a.s1_speckle_cv, b.s1_speckle_cv, lambda x, y: np.abs(x - y)),
    )


def _both(x: Any, y: Any, distance: Any) -> Any:
    return None if x is None or y is None else distance(x, y)


def _kind(statistics: FolderStatistics, kind: str) -> CloudSpectrum | None:
    return None if statistics.cloud_spectra is None else statistics.cloud_spectra[kind]


def _correlation_distance(x: np.ndarray, y: np.ndarray) -> float | None:
    return _mean_off_diagonal(np.abs(x - y))


def _spectrum_distance(x: CloudSpectrum, y: CloudSpectrum) -> SpectrumDistance:
    return SpectrumDistance(
        mad=float(np.abs(x.cloudy - y.cloudy).mean()),
        angle_deg=sam(x.cloudy[:, None, None], y.cloudy[:, None, None]),
        added_mad=float(np.abs((x.cloudy - x.clear) - (y.cloudy - y.clear)).mean()),
    )


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _listed(array: np.ndarray) -> list[Any] | float | None:
    """An array as nested lists, NaN and infinities as None (strict JSON has neither)."""
    if not array.ndim:
        return _finite(float(array))
    values = array.astype(object)
    values[~np.isfinite(array)] = None
    listed: list[Any] = values.tolist()
    return listed


def _by_band(values: np.ndarray, bands: tuple[str, ...]) -> dict[str, Any]:
    return {band: _listed(np.asarray(value, np.float64)) for band, value in zip(bands, values)}


def _or_na(value: Any, to_json: Any) -> Any:
    return "n/a" if value is None else to_json(value)


def format_comparison(
    a: FolderStatistics, b: FolderStatistics, comparison: Comparison, names: tuple[str, str] = ("a", "b")
) -> str:
    """An aligned text table: each distance beside both sides' key number ("n/a" where a side lacks it)."""
    rows: list[tuple[str, ...]] = [("part (key number)", "distance", *names)]  # four columns each
    for index, band in enumerate(S2_BANDS):
        rows.append(
            (
                f"S2 {band} quantile MAD (median)",
                _cell(comparison.s2_quantiles, index),
                *(_cell(s.s2_quantiles, MEDIAN, index) for s in (a, b)),
            )
        )
    rows.append(("S2 quantile MAD, all bands", _cell(comparison.s2_quantiles_overall), "", ""))
    rows.append(
        (
            "S2 correlation MAD (mean off-diagonal r)",
            _cell(comparison.s2_correlation),
            *(_cell(_mean_off_diagonal(s.s2_correlation)) for s in (a, b)),
        )
    )
    for kind in CLOUD_KINDS:
        distance = comparison.cloud_spectra[kind]
        sides = [_kind(a, kind), _kind(b, kind)]
        rows.append(
            (
                f"{kind} cloud spectrum MAD (B2 cloudy)",
                _cell(distance and distance.mad),
                *(_cell(s and s.cloudy[_B2]) for s in sides),
            )
        )
        rows.append(
            (
                f"{kind} cloud angle deg (pixels)",
                _cell(distance and distance.angle_deg, digits=2),
                *(str(s.pixels) if s else "n/a" for s in sides),
            )
        )
        rows.append(
            (
                f"{kind} cloud added MAD (B2 added)",
                _cell(distance and distance.added_mad),
                *(_cell(s and s.cloudy[_B2] - s.clear[_B2]) for s in sides),
            )
        )
    rows.append(
        (
            "cloud cover Wasserstein (mean cover)",
            _cell(comparison.cloud_cover),
            *(_cell(None if s.cloud_cover is None else s.cloud_cover.mean()) for s in (a, b)),
        )
    )
    for index, band in enumerate(S1_BANDS):
        rows.append(
            (
                f"S1 {band} quantile MAD dB (median dB)",
                _cell(comparison.s1_quantiles, index, digits=2),
                *(_cell(s.s1_quantiles, MEDIAN, index, digits=2) for s in (a, b)),
            )
        )
    for index, band in enumerate(S1_BANDS):
        rows.append(
            (
                f"S1 {band} speckle CV difference (CV)",
                _cell(comparison.s1_speckle_cv, index),
                *(_cell(s.s1_speckle_cv, index) for s in (a, b)),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        for row in rows
    ]
    files = "; ".join(
        f"{name}: {s.root} ({', '.join(f'{k} {n}' for k, n in s.files.items())} files)"
        for name, s in zip(names, (a, b))
    )
    notes = [
        f"cover histogram, {COVER_BINS} bins over [0, 1], {name}: {_histogram(s)}" for name, s in zip(names, (a, b))
    ]
    return "\n".join(
        [
            files,
            *(line.rstrip() for line in lines),
            *notes,
            CLOUD_RULE,
            "reflectance unless marked dB; n/a: a side lacks the data",
        ]
    )


def _cell(value: Any, *index: int, digits: int = 4) -> str:
    """`value[index]` formatted, or "n/a" when the value is absent or not finite."""
    if value is None:
        return "n/a"
    number = float(np.asarray(value)[index] if index else value)
    return f"{number:.{digits}f}" if math.isfinite(number) else "n/a"


def _mean_off_diagonal(matrix: np.ndarray | None) -> float | None:
    """The mean of the finite off-diagonal entries of a square matrix (None if there are none)."""
    if matrix is None:
        return None
    values = matrix[~np.eye(len(matrix), dtype=bool)]
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else None


def _histogram(statistics: FolderStatistics) -> str:
    histogram = statistics.cover_histogram()
    return "n/a" if histogram is None else " ".join(f"{v:.2f}" for v in histogram)
