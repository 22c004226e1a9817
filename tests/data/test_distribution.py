from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from ibhfn.data.cli import app
from ibhfn.data.distribution import (
    CLOUD_KINDS,
    FolderStatistics,
    _Sample,
    _window_cv,
    compare,
    folder_statistics,
    patch_files,
)
from ibhfn.data.synthetic import write_tree
from ibhfn.errors import InputError

runner = CliRunner()
PIXELS = 1024
# The real folders of ../shared beside the checkout.
SHARED_DATA = Path(__file__).parents[2].parent / "shared" / "data"
REAL_PAIRS = SHARED_DATA / "sen12mscr_real_pairs"
REAL_S1S2 = SHARED_DATA / "sen12mscr_real_s1s2"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only tree of 2 scenes x 3 patches of 64 x 64 px."""
    return write_tree(
        tmp_path_factory.mktemp("synthetic"), seed=3, scenes_per_split=(2, 0, 0), patches_per_scene=3, size=64
    )


@pytest.fixture(scope="module")
def synthetic_statistics(synthetic: Path) -> FolderStatistics:
    return folder_statistics(synthetic, max_pixels_per_file=PIXELS)


def _copy(tree: Path, out: Path, *, drop: tuple[str, ...] = (), clear_scale: float = 1.0) -> Path:
    """A copy of `tree` without the modalities in `drop`, its clear S2 DN multiplied by `clear_scale`."""
    for kind, files in patch_files(tree).items():
        if kind in drop:
            continue
        for path in files.values():
            target = out / path.relative_to(tree)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            if kind == "s2" and clear_scale != 1.0:
                with rasterio.open(target, "r+") as dataset:
                    dataset.write(np.clip(dataset.read() * clear_scale, 1, 65535).astype(np.uint16))
    return out


def test_identical_folders_are_zero_apart(synthetic: Path, synthetic_statistics: FolderStatistics, tmp_path: Path):
    copy = folder_statistics(_copy(synthetic, tmp_path), max_pixels_per_file=PIXELS)
    distance = compare(synthetic_statistics, copy)
    assert distance.s2_quantiles_overall == pytest.approx(0.0, abs=1e-9)
    assert distance.s2_correlation == pytest.approx(0.0, abs=1e-9)
    assert distance.cloud_cover == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(distance.s1_quantiles, 0.0, atol=1e-9)
    np.testing.assert_allclose(distance.s1_speckle_cv, 0.0, atol=1e-9)
    present = [d for d in distance.cloud_spectra.values() if d is not None]
    assert present, "the synthetic tree should hold some cloud"
    assert all(d.mad == pytest.approx(0.0, abs=1e-9) and d.angle_deg < 1e-3 for d in present)


def test_brighter_clear_s2_is_farther_but_correlated_alike(
    synthetic: Path, synthetic_statistics: FolderStatistics, tmp_path: Path
):
    brighter = folder_statistics(_copy(synthetic, tmp_path, clear_scale=1.5), max_pixels_per_file=PIXELS)
    other_seed = folder_statistics(synthetic, max_pixels_per_file=PIXELS, seed=9)
    scaled, resampled = compare(synthetic_statistics, brighter), compare(synthetic_statistics, other_seed)
    assert scaled.s2_quantiles_overall > 0.02 > resampled.s2_quantiles_overall
    assert (scaled.s2_quantiles > resampled.s2_quantiles).sum() >= 12  # B10 is near zero either way
    assert scaled.s2_correlation < 0.05  # a gain leaves correlations nearly as they were


def test_folder_without_s1_gives_na_for_sar_only(
    synthetic: Path, synthetic_statistics: FolderStatistics, tmp_path: Path
):
    no_s1 = folder_statistics(_copy(synthetic, tmp_path, drop=("s1",)), max_pixels_per_file=PIXELS)
    assert no_s1.s1_quantiles is None and no_s1.s1_speckle_cv is None and no_s1.files["s1"] == 0
    distances = compare(synthetic_statistics, no_s1).to_dict()
    assert distances["s1_quantiles_db"] == "n/a" and distances["s1_speckle_cv"] == "n/a"
    assert distances["s2_quantiles"]["overall"] == pytest.approx(0.0, abs=1e-9)
    assert distances["cloud_cover_wasserstein"] == pytest.approx(0.0, abs=1e-9)


def test_folder_without_cloudy_gives_na_for_clouds(
    synthetic: Path, synthetic_statistics: FolderStatistics, tmp_path: Path
):
    no_cloudy = folder_statistics(_copy(synthetic, tmp_path, drop=("s2_cloudy",)), max_pixels_per_file=PIXELS)
    assert no_cloudy.cloud_spectra is None and no_cloudy.cloud_cover is None
    distances = compare(no_cloudy, synthetic_statistics).to_dict()
    assert distances["cloud_cover_wasserstein"] == "n/a"
    assert all(distances["cloud_spectra"][kind] == "n/a" for kind in CLOUD_KINDS)
    assert isinstance(distances["s1_quantiles_db"]["VV"], float)


def test_statistics_dict_is_strict_json_with_the_parts(synthetic_statistics: FolderStatistics):
    record = json.loads(json.dumps(synthetic_statistics.to_dict(), allow_nan=False))
    assert len(record["s2_quantiles"]) == 13 and len(record["s2_quantiles"]["B2"]) == len(record["quantile_levels"])
    assert record["s2_quantiles"]["B2"] == sorted(record["s2_quantiles"]["B2"])
    assert len(record["s2_correlation"]) == 13 and record["s2_correlation"][1][1] == pytest.approx(1.0)
    assert record["cloud_cover"]["patches"] == 6 and sum(record["cloud_cover"]["histogram"]) == pytest.approx(1.0)
    assert set(record["s1_speckle_cv"]) == {"VV", "VH"}


def test_sample_is_bounded_and_uniform():
    sample = _Sample(200, 1, np.random.default_rng(0))
    for start in range(0, 20000, 1000):
        sample.add(np.arange(start, start + 1000, dtype=np.float32)[:, None])
    rows = sample.rows()[:, 0]
    assert sample.seen == 20000 and len(rows) == 200 == len(set(rows.tolist()))
    assert abs(rows.mean() - 10000) < 1500 and rows.max() > 15000  # drawn from the whole stream


def test_speckle_cv_is_one_for_single_look_and_zero_without_speckle():
    rng = np.random.default_rng(0)
    single_look = rng.exponential(0.1, (2, 70, 70))
    cv = _window_cv(10 * np.log10(single_look))
    assert cv.shape == (100, 2) and abs(np.median(cv) - 1.0) < 0.15
    assert np.allclose(_window_cv(np.full((2, 70, 70), -12.0)), 0.0)


def test_cli_prints_every_part_and_writes_json(synthetic: Path, tmp_path: Path):
    real = _copy(synthetic, tmp_path / "real", drop=("s1",))
    out = tmp_path / "out" / "comparison.json"
    result = runner.invoke(app, ["compare", str(synthetic), str(real), "--json", str(out), "--pixels", "256"])
    assert result.exit_code == 0, result.output
    for part in (
        "S2 B2 quantile MAD",
        "S2 correlation",
        "thick cloud",
        "thin cloud",
        "cloud cover Wasserstein",
        "S1 VV quantile MAD dB",
        "S1 VH speckle CV",
    ):
        assert part in result.output
    sar_row = next(line for line in result.output.splitlines() if line.startswith("S1 VV quantile MAD dB"))
    assert sar_row.split()[-3] == "n/a" and sar_row.split()[-1] == "n/a"  # distance and the S1-less side
    record = json.loads(out.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert set(record) == {"synthetic", "real", "distance", "sampling"}
    assert record["distance"]["s1_quantiles_db"] == "n/a" and record["real"]["s1_quantiles_db"] is None
    assert math.isfinite(record["distance"]["s2_quantiles"]["overall"])


@pytest.mark.parametrize("which", ["missing", "unrecognised"])
def test_cli_bad_folder_is_one_line_with_exit_2(synthetic: Path, tmp_path: Path, which: str):
    bad = tmp_path / "bad"
    if which == "unrecognised":
        (bad / "ROIs1158_spring_s2x" / "s2_1").mkdir(parents=True)
        (bad / "ROIs1158_spring_s2x" / "s2_1" / "ROIs1158_spring_s2x_1_p1.tif").write_bytes(b"")
    out = tmp_path / "comparison.json"
    result = runner.invoke(app, ["compare", str(synthetic), str(bad), "--json", str(out)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}: ") and "Traceback" not in result.output
    assert not out.exists()


def test_bad_arguments_are_input_errors(synthetic: Path):
    with pytest.raises(InputError, match="at least 1"):
        folder_statistics(synthetic, max_pixels_per_file=0)
    with pytest.raises(InputError, match="0 or more"):
        folder_statistics(synthetic, seed=-1)


@pytest.fixture(scope="module")
def real_pairs() -> FolderStatistics:
    if not REAL_PAIRS.is_dir():
        pytest.skip(f"the real pairs are not at {REAL_PAIRS} (../shared beside the checkout)")
    return folder_statistics(REAL_PAIRS, max_pixels_per_file=PIXELS)


def test_real_pairs_have_optical_statistics_and_no_sar(
    real_pairs: FolderStatistics, synthetic_statistics: FolderStatistics
):
    assert real_pairs.files == {"s1": 0, "s2": 37, "s2_cloudy": 37}
    assert real_pairs.s1_quantiles is None and real_pairs.s1_speckle_cv is None
    assert 0.02 < real_pairs.s2_quantiles[3, 1] < 0.3  # median clear B2 reflectance of land
    assert real_pairs.cloud_spectra["thick"].pixels > 0 and real_pairs.cloud_spectra["thin"].pixels > 0
    assert real_pairs.cloud_spectra["thick"].cloudy[1] > real_pairs.cloud_spectra["thick"].clear[1] + 0.15
    assert real_pairs.cloudy_patches == 37 and 0.0 <= real_pairs.cloud_cover.mean() < 0.5
    distances = compare(synthetic_statistics, real_pairs).to_dict()
    assert distances["s1_quantiles_db"] == "n/a" and distances["s2_quantiles"]["overall"] > 0
    assert 0 < distances["cloud_cover_wasserstein"] <= 1


def test_real_s1s2_has_sar_and_no_clouds(synthetic_statistics: FolderStatistics):
    if not REAL_S1S2.is_dir():
        pytest.skip(f"the real S1 + S2 patches are not at {REAL_S1S2} (../shared beside the checkout)")
    real = folder_statistics(REAL_S1S2, max_pixels_per_file=PIXELS)
    assert real.files == {"s1": 3, "s2": 3, "s2_cloudy": 0}
    assert real.cloud_spectra is None and real.cloud_cover is None
    assert np.all((real.s1_quantiles > -40) & (real.s1_quantiles < 5)) and np.all(real.s1_speckle_cv > 0.1)
    distances = compare(synthetic_statistics, real).to_dict()
    assert distances["cloud_cover_wasserstein"] == "n/a" and distances["s1_quantiles_db"]["VV"] > 0
