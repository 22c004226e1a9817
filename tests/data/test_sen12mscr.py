from __future__ import annotations

import importlib.util
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from ibhfn.data import SEN12MSCR, CorruptSampleError, load_splits, scene_split
from ibhfn.data.sen12mscr import CONSTANT_S1_DB, patch_paths
from ibhfn.errors import DependencyError, InputError


def test_triplets_pair_the_three_files_of_each_patch(tree: Path):
    reader = SEN12MSCR(tree, "all")
    assert len(reader) == 7 * 2 and reader.skipped_incomplete == 0
    for triplet in reader.triplets:
        assert (triplet.s1, triplet.s2, triplet.s2_cloudy) == patch_paths(tree, triplet.scene, triplet.patch)
        assert triplet.scene.startswith(triplet.roi_season + "/")
        assert all(path.is_file() for path in (triplet.s1, triplet.s2, triplet.s2_cloudy))


def test_split_filters_select_whole_scenes_of_that_split(tree: Path):
    scenes = {}
    for split in ("train", "val", "test"):
        reader = SEN12MSCR(tree, split)
        scenes[split] = {t.scene for t in reader.triplets}
        assert all(scene_split(scene) == split for scene in scenes[split])
    assert [len(scenes[s]) for s in ("train", "val", "test")] == [3, 2, 2]
    assert scenes["train"].isdisjoint(scenes["val"] | scenes["test"]) and scenes["val"].isdisjoint(scenes["test"])


@pytest.mark.parametrize(("option", "field"), [("rois", "roi_season"), ("scenes", "scene")])
def test_roi_and_scene_filters_keep_exactly_what_they_name(tree: Path, option: str, field: str):
    everything = SEN12MSCR(tree, "all")
    value = getattr(everything.triplets[0], field)
    only = SEN12MSCR(tree, "all", **{option: [value]})
    assert {getattr(t, field) for t in only.triplets} == {value}
    assert len(only) == sum(getattr(t, field) == value for t in everything.triplets)


def test_scene_folders_are_matched_exactly(small_tree: Path):
    """A folder s1_1 must not take patches of s1_106 (the substring bug of a common loader)."""
    reader = SEN12MSCR(small_tree, "train")
    triplet = reader.triplets[0]
    roi, number = triplet.scene.split("/")
    for kind, path in zip(("s1", "s2", "s2_cloudy"), (triplet.s1, triplet.s2, triplet.s2_cloudy)):
        decoy = small_tree / f"{roi}_{kind}" / f"{kind}_{number}0"
        decoy.mkdir()
        shutil.copy(path, decoy / path.name)  # the file name says scene `number`, the folder `number`0
    assert [t.s1 for t in SEN12MSCR(small_tree, "all").triplets] == [t.s1 for t in reader.triplets]


def test_sample_shapes_and_default_preprocessing_ranges(tree: Path):
    sample = SEN12MSCR(tree, "val")[0]
    assert sample.sar.shape == (2, 256, 256) and sample.sar.dtype == np.float32
    assert sample.optical.shape == sample.target.shape == (13, 256, 256)
    for array in (sample.sar, sample.optical, sample.target):
        assert array.dtype == np.float32 and 0.0 <= array.min() and array.max() <= 1.0
    assert sample.sar.std() > 0.05 and sample.target.std() > 0.01
    assert sample.crs.startswith("EPSG:326") and sample.bounds[2] - sample.bounds[0] == pytest.approx(2560.0)
    assert sample.cloud_mask.shape == (256, 256) and 0.0 <= sample.coverage <= 1.0


def test_resnet_preprocessing_scales_to_its_own_range(tree: Path):
    default, resnet = SEN12MSCR(tree, "test")[0], SEN12MSCR(tree, "test", preprocessing="resnet")[0]
    assert resnet.sar.max() <= 2.0 and resnet.sar.max() > 1.0
    np.testing.assert_allclose(resnet.optical, default.optical * 5.0, rtol=1e-5)


def test_no_cloud_mask_gives_none(tree: Path):
    sample = SEN12MSCR(tree, "test", cloud_mask="none")[0]
    assert sample.cloud_mask is None and sample.coverage is None


def test_threshold_mask_finds_clouds_where_the_generator_put_them(tree: Path):
    reader = SEN12MSCR(tree, "all")
    coverages = np.array([sample.coverage for sample in reader])
    assert coverages.min() < 0.1 and coverages.max() > 0.5  # the tree spans clear to overcast


def test_incomplete_triplet_is_skipped_and_reported_once(small_tree: Path):
    complete = SEN12MSCR(small_tree, "train")
    complete.triplets[0].s2.unlink()
    complete.triplets[1].s1.unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reader = SEN12MSCR(small_tree, "train")
    assert reader.skipped_incomplete == 2 and len(reader) == len(complete) - 2
    assert len(caught) == 1 and "2 incomplete" in str(caught[0].message)


def test_corrupt_file_is_warned_about_once_and_skipped(small_tree: Path):
    reader = SEN12MSCR(small_tree, "train")
    broken = reader.triplets[1].s2_cloudy
    broken.write_bytes(b"II*\x00 truncated")
    with pytest.raises(CorruptSampleError, match=broken.name):
        reader[1]
    with pytest.warns(UserWarning, match=broken.name) as caught:
        samples = list(reader)
        again = list(reader)
    assert (
        [s.patch for s in samples]
        == [s.patch for s in again]
        == [t.patch for i, t in enumerate(reader.triplets) if i != 1]
    )
    assert len([w for w in caught if broken.name in str(w.message)]) == 1


def test_bad_arguments_are_input_errors(tree: Path, tmp_path: Path):
    with pytest.raises(InputError, match="unknown split"):
        SEN12MSCR(tree, "training")
    with pytest.raises(InputError, match="ROIs9999_spring"):
        SEN12MSCR(tree, rois=["ROIs9999_spring"])
    with pytest.raises(InputError, match="no such folder"):
        SEN12MSCR(tmp_path / "missing")
    with pytest.raises(InputError, match="no complete SEN12MS-CR triplets"):
        SEN12MSCR(tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("s2cloudless") is not None, reason="s2cloudless is installed")
def test_s2cloudless_absent_is_a_dependency_error(tree: Path):
    with pytest.raises(DependencyError, match="s2cloudless"):
        SEN12MSCR(tree, "test", cloud_mask="s2cloudless")


def test_real_sample_reads_with_real_value_ranges(real_sample: Path):
    reader = SEN12MSCR(real_sample, "train")
    assert len(reader) == 1 and reader.triplets[0].scene == "ROIs2017_winter/112"
    assert SEN12MSCR(real_sample, "all").triplets == reader.triplets
    assert "ROIs2017_winter/112" in load_splits()["train"]
    sample = reader[0]
    assert sample.patch == 797 and sample.crs == "EPSG:32631"
    assert sample.sar.shape == (2, 256, 256) and sample.optical.shape == sample.target.shape == (13, 256, 256)
    assert 0.3 < sample.sar.mean() < 0.8 and 0.02 < sample.target.mean() < 0.3
    assert sample.bounds == pytest.approx((704342.6, 5628842.0, 706902.6, 5631402.0), abs=1.0)


def test_constant_s1_reads_pairs_without_s1_as_the_documented_constant(tree: Path, tmp_path: Path):
    pairs = shutil.copytree(tree, tmp_path / "pairs")
    for folder in pairs.glob("*_s1"):
        shutil.rmtree(folder)
    with pytest.raises(InputError, match="no complete SEN12MS-CR triplets"):
        SEN12MSCR(pairs, "all")
    reader = SEN12MSCR(pairs, "all", s1="constant")
    assert len(reader) == len(SEN12MSCR(tree, "all")) and reader.skipped_incomplete == 0
    sample = reader[0]
    expected = reader.preprocessing.sar(np.asarray(CONSTANT_S1_DB, np.float32)[:, None, None])
    assert sample.sar.shape == (2, *sample.optical.shape[1:])
    np.testing.assert_array_equal(sample.sar, np.broadcast_to(expected, sample.sar.shape))
    np.testing.assert_array_equal(sample.optical, SEN12MSCR(tree, "all")[0].optical)


def test_clear_input_needs_no_cloudy_file_and_feeds_the_target(tree: Path, tmp_path: Path):
    clear_only = shutil.copytree(tree, tmp_path / "clear")
    for folder in clear_only.glob("*_s2_cloudy"):
        shutil.rmtree(folder)
    reader = SEN12MSCR(clear_only, "all", optical="clear")
    sample = reader[0]
    np.testing.assert_array_equal(sample.optical, sample.target)
    np.testing.assert_array_equal(sample.sar, SEN12MSCR(tree, "all")[0].sar)
    with pytest.raises(InputError, match="unknown optical input"):
        SEN12MSCR(tree, "all", optical="hazy")
    with pytest.raises(InputError, match="unknown S1 source"):
        SEN12MSCR(tree, "all", s1="zeros")


def test_scene_names_match_exactly(tree: Path):
    chosen = SEN12MSCR(tree, "all").triplets[0].scene
    with pytest.raises(InputError, match="no complete"):
        SEN12MSCR(tree, "all", scenes=[chosen + "0"])  # exact names: '.../1060' is not '.../106'
