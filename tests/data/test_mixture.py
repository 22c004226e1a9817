from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ibhfn.data import SEN12MSCR
from ibhfn.data.mixture import Mixture


def test_indices_run_through_each_reader_its_repeat_times(tree: Path):
    train, val = SEN12MSCR(tree, "train"), SEN12MSCR(tree, "val")
    mix = Mixture([train, val], [1, 3])
    assert len(mix) == len(train) + 3 * len(val) and mix.root == tree
    assert mix.locate(0) == (train, 0) and mix.locate(len(train) - 1) == (train, len(train) - 1)
    assert mix.locate(len(train)) == (val, 0) and mix.locate(len(mix) - 1) == (val, len(val) - 1)
    np.testing.assert_array_equal(mix.read_or_skip(len(train) + len(val)).optical, val[0].optical)
    with pytest.raises(IndexError):
        mix.locate(len(mix))
