from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ibhfn.data import SEN12MSCR
from ibhfn.data.torch_dataset import TorchSEN12MSCR
from ibhfn.errors import ShapeError


def test_items_are_float32_tensors_with_the_contract_shapes(tree: Path):
    dataset = TorchSEN12MSCR(SEN12MSCR(tree, "val"))
    item = dataset[0]
    assert len(dataset) == 4
    assert {k: tuple(v.shape) for k, v in item.items()} == {
        "sar": (2, 256, 256),
        "optical": (13, 256, 256),
        "target": (13, 256, 256),
        "cloud_mask": (256, 256),
        "has_mask": (),
    }
    assert all(item[k].dtype == torch.float32 for k in ("sar", "optical", "target", "cloud_mask"))
    assert bool(item["has_mask"])
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=2)))
    assert batch["optical"].shape == (2, 13, 256, 256)


def test_random_crop_is_deterministic_by_seed_and_index(tree: Path):
    reader = SEN12MSCR(tree, "val")
    full = TorchSEN12MSCR(reader)[1]
    first, again = TorchSEN12MSCR(reader, crop=64, seed=3)[1], TorchSEN12MSCR(reader, crop=64, seed=3)[1]
    other = TorchSEN12MSCR(reader, crop=64, seed=4)[1]
    assert first["optical"].shape == (13, 64, 64) and first["cloud_mask"].shape == (64, 64)
    assert torch.equal(first["optical"], again["optical"]) and not torch.equal(first["optical"], other["optical"])
    windows = full["sar"].unfold(1, 64, 1).unfold(2, 64, 1)  # every 64 x 64 window of the full patch
    match = (windows == first["sar"][:, None, None]).flatten(3).all(-1).all(0)
    assert match.sum() >= 1  # the crop is a window of the sample, with its bands aligned


def test_without_mask_the_flag_is_false_and_the_mask_zero(tree: Path):
    item = TorchSEN12MSCR(SEN12MSCR(tree, "test", cloud_mask="none"))[0]
    assert not bool(item["has_mask"]) and float(item["cloud_mask"].abs().sum()) == 0.0


def test_crop_larger_than_patch_is_a_shape_error(tree: Path):
    with pytest.raises(ShapeError, match="crop 300"):
        TorchSEN12MSCR(SEN12MSCR(tree, "test"), crop=300)[0]


def test_corrupt_sample_is_replaced_by_the_next_readable_one(small_tree: Path):
    reader = SEN12MSCR(small_tree, "train")
    reader.triplets[0].s1.write_bytes(b"not a tiff")
    with pytest.warns(UserWarning, match=reader.triplets[0].s1.name):
        item = TorchSEN12MSCR(reader)[0]
    assert torch.equal(item["optical"], TorchSEN12MSCR(reader)[1]["optical"])


def test_importing_the_reader_does_not_import_torch():
    code = "import sys, ibhfn.data, ibhfn.data.synthetic; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_clear_input_feeds_that_share_of_samples_their_target_with_an_empty_mask(tree: Path):
    reader = SEN12MSCR(tree, "all")
    plain = [TorchSEN12MSCR(reader)[i] for i in range(len(reader))]
    cloudy = [i for i, item in enumerate(plain) if not torch.equal(item["optical"], item["target"])]
    items = {i: TorchSEN12MSCR(reader, seed=5, clear_input=0.5)[i] for i in cloudy}
    clear = {i for i, item in items.items() if torch.equal(item["optical"], item["target"])}
    assert 0 < len(clear) < len(cloudy)  # some of each, drawn per (seed, index)
    for i, item in items.items():
        if i in clear:
            assert float(item["cloud_mask"].abs().sum()) == 0.0 and bool(item["has_mask"])
        else:
            assert torch.equal(item["optical"], plain[i]["optical"])
            assert torch.equal(item["cloud_mask"], plain[i]["cloud_mask"])
    again = {i: TorchSEN12MSCR(reader, seed=5, clear_input=0.5)[i] for i in cloudy}
    assert all(torch.equal(items[i]["optical"], again[i]["optical"]) for i in cloudy)


def test_s1_dropout_gives_that_share_of_samples_the_constant_s1_of_pairs_without_sar(tree: Path):
    reader = SEN12MSCR(tree, "all")
    constant = TorchSEN12MSCR(SEN12MSCR(tree, "all", s1="constant"))[0]["sar"]
    plain = [TorchSEN12MSCR(reader)[i] for i in range(len(reader))]
    items = [TorchSEN12MSCR(reader, seed=3, s1_dropout=0.5)[i] for i in range(len(reader))]
    dropped = {i for i, item in enumerate(items) if torch.equal(item["sar"], constant)}
    assert 0 < len(dropped) < len(items)
    for i, item in enumerate(items):
        assert torch.equal(item["optical"], plain[i]["optical"]) and torch.equal(item["target"], plain[i]["target"])
        if i not in dropped:
            assert torch.equal(item["sar"], plain[i]["sar"])
