from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ibhfn.data import SEN12MSCR
from ibhfn.data.clear_patches import ClearPatches, scene_of
from ibhfn.data.sen12mscr import CONSTANT_S1_DB
from ibhfn.errors import InputError
from ibhfn.preprocessing import get_preprocessing

REAL_CLEAR = Path(__file__).parents[2].parent / "shared" / "data" / "sen12mscr_ts_real" / "cloud_free_patches"


@pytest.fixture
def clear_folder(tree: Path, tmp_path: Path) -> Path:
    """Three clear S2 patches of the synthetic tree under SEN12MS-CR-TS names, and a stray file."""
    folder = tmp_path / "clear"
    folder.mkdir()
    for number, path in enumerate(sorted(tree.glob("*_s2/s2_*/*.tif"))[:3]):
        shutil.copy(path, folder / f"s2_ROIs2017_146_ImgNo_{number}_2018-01-06_patch_{number + 10}.tif")
    (folder / "notes.tif").write_bytes(b"not a patch")
    return folder


def test_each_patch_is_its_own_input_with_the_constant_s1(clear_folder: Path):
    reader = ClearPatches(clear_folder)
    assert len(reader) == 3 and reader.scenes == ["ROIs2017/146"]
    sample = reader[1]
    np.testing.assert_array_equal(sample.optical, sample.target)
    constant = np.broadcast_to(np.float32(CONSTANT_S1_DB)[:, None, None], sample.sar.shape)
    np.testing.assert_array_equal(sample.sar, get_preprocessing("default").sar(constant.copy()))
    assert sample.patch == 11 and sample.scene == "ROIs2017/146" and sample.cloud_mask is None


def test_a_truncated_patch_is_skipped_with_a_warning_naming_it(clear_folder: Path):
    victim = sorted(clear_folder.glob("s2_*.tif"))[0]
    victim.write_bytes(victim.read_bytes()[:600])
    reader = ClearPatches(clear_folder)
    with pytest.warns(UserWarning, match=victim.name):
        assert reader.read_or_skip(0) is None
    assert reader.read_or_skip(1) is not None


def test_a_folder_without_patches_is_refused_in_one_line(tmp_path: Path):
    with pytest.raises(InputError, match="folder of clear patches not found"):
        ClearPatches(tmp_path / "absent")
    with pytest.raises(InputError, match="no clear patches"):
        ClearPatches(tmp_path)
    with pytest.raises(InputError, match="not a SEN12MS-CR-TS patch name"):
        scene_of(tmp_path / "s2_101.tif")


def test_the_real_cloud_free_patches_read_as_one_scene_of_thirty():
    if not REAL_CLEAR.is_dir():
        pytest.skip(
            f"the real SEN12MS-CR-TS cloud-free patches are not at {REAL_CLEAR} (../shared beside the checkout)"
        )
    reader = ClearPatches(REAL_CLEAR)
    assert len(reader) == 30 and reader.scenes == ["ROIs2017/146"]
    sample = reader[0]
    assert sample.optical.shape == (13, 256, 256) and np.isfinite(sample.optical).all()
    assert not set(reader.scenes) & {
        t.scene for t in SEN12MSCR(REAL_CLEAR.parents[1] / "sen12mscr_real_pairs", "all", s1="constant").triplets
    }
