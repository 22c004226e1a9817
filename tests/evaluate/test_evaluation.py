from __future__ import annotations

import shutil

import numpy as np
import pytest

from ibhfn.data import COVERAGE_BUCKETS, SEN12MSCR, coverage_bucket
from ibhfn.data.surface_change import SAME_SURFACE, SNOW_IN_TARGET
from ibhfn.errors import InputError, ShapeError
from ibhfn.evaluate import IDENTITY, evaluate, mean_metrics
from ibhfn.metrics import compute_metrics
from ibhfn.model import build_model


def test_identity_baseline_is_the_metrics_of_the_cloudy_input(tiny_model, test_reader):
    report = evaluate(tiny_model, test_reader)
    expected = mean_metrics([compute_metrics(np.clip(s.optical, 0, 1), s.target) for s in test_reader])
    assert report.overall().identity == pytest.approx(expected)
    assert report.overall().model != report.overall().identity


def test_a_network_that_returns_its_input_scores_like_the_identity(identity_model, test_reader):
    overall = evaluate(identity_model, test_reader).overall()
    assert overall.count == len(test_reader)
    for name in ("mae", "rmse", "ssim", "sam"):
        assert getattr(overall.model, name) == pytest.approx(getattr(overall.identity, name), abs=1e-7), name


def test_groups_split_the_images_by_roi_season_and_coverage_bucket(tiny_model, test_reader):
    report = evaluate(tiny_model, test_reader, batch_size=4)
    by_roi = report.by_roi_season()
    assert set(by_roi) == {s.roi_season for s in test_reader}
    assert sum(g.count for g in by_roi.values()) == len(test_reader)
    buckets = report.by_coverage()
    assert list(buckets) == [b for b in COVERAGE_BUCKETS if b in buckets]
    expected = {}
    for sample in test_reader:
        bucket = coverage_bucket(sample.coverage)
        expected[bucket] = expected.get(bucket, 0) + 1
    assert {b: g.count for b, g in buckets.items()} == expected
    roi, group = next(iter(by_roi.items()))
    members = [s.model.mae for s in report.scores if s.roi_season == roi]
    assert group.model.mae == pytest.approx(np.mean(members))


def test_samples_limits_the_images_scored(tiny_model, test_reader):
    assert evaluate(tiny_model, test_reader, samples=2).overall().count == 2


def test_table_shows_every_group_with_the_identity_and_the_network(tiny_model, test_reader):
    report = evaluate(tiny_model, test_reader)
    table = report.table()
    assert table.splitlines()[0].startswith(f"SEN12MS-CR test split, {len(test_reader)} images")
    for label in ["all", *report.by_roi_season(), *(f"coverage {b}" for b in report.by_coverage())]:
        assert any(line.startswith(label) for line in table.splitlines()), label
    groups = 1 + len(report.by_roi_season()) + len(report.by_coverage())
    assert table.count(IDENTITY) == groups and table.count("ibhfn edge") == groups
    assert f"{report.overall().model.mae:.4f}" in table


def test_tiles_the_network_cannot_take_are_refused(test_reader):
    model = build_model("edge", widths=(4,) * 8, encoder_blocks=(0,) * 8, fusion_blocks=0, gate_hidden=2)
    assert model.size_multiple == 128  # the 64 px test tiles are not multiples of it
    with pytest.raises(ShapeError, match="is 64 x 64 px, not a multiple of the network's 128"):
        evaluate(model, test_reader, samples=1)


def test_a_corrupt_sample_is_skipped_with_a_warning_and_counted(tiny_model, tree, tmp_path):
    damaged = shutil.copytree(tree, tmp_path / "tree")
    reader = SEN12MSCR(damaged, "test")
    reader.triplets[1].s2.write_bytes(b"not a GeoTIFF")
    with pytest.warns(UserWarning, match="sample skipped"):
        report = evaluate(tiny_model, reader)
    assert report.skipped == 1 and report.overall().count == len(reader) - 1
    assert report.to_dict()["skipped"] == 1


@pytest.mark.parametrize("changes", [{"samples": 0}, {"samples": -1}, {"batch_size": 0}])
def test_sample_and_batch_counts_below_one_are_refused(tiny_model, test_reader, changes):
    with pytest.raises(InputError, match="must be at least 1"):
        evaluate(tiny_model, test_reader, **changes)


def test_a_split_without_a_readable_sample_is_refused_rather_than_scored_as_nan(tiny_model, unreadable_tree):
    with pytest.warns(UserWarning, match="sample skipped"):
        with pytest.raises(InputError, match="no image of the test split could be scored"):
            evaluate(tiny_model, SEN12MSCR(unreadable_tree, "test"))


def test_pairs_with_new_snow_in_the_target_get_their_own_rows(tiny_model, real_pairs):
    reader = SEN12MSCR(real_pairs, "all", s1="constant", scenes=("ROIs1158_spring/26", "ROIs2017_winter/102"))
    report = evaluate(tiny_model, reader)
    groups = report.by_surface()
    assert {name: group.count for name, group in groups.items()} == {SAME_SURFACE: 1, SNOW_IN_TARGET: 3}
    assert [s.surface for s in report.scores if s.scene.endswith("/102")] == [SAME_SURFACE]
    assert groups[SAME_SURFACE].identity.psnr > groups[SNOW_IN_TARGET].identity.psnr + 20
    assert SNOW_IN_TARGET in report.table()
    assert report.to_dict()["by_surface"][SNOW_IN_TARGET]["count"] == 3


def test_a_split_without_new_snow_gets_no_surface_rows(tiny_model, test_reader):
    report = evaluate(tiny_model, test_reader)
    assert report.by_surface() == {}
    assert SAME_SURFACE not in report.table()
