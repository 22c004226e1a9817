from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from ibhfn.errors import InputError
from ibhfn.train.state import TrainingState, capture_rng, load_state, restore_rng, save_state


def draws() -> tuple:
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), np.random.randn(), random.random()


def test_random_states_of_torch_numpy_and_python_survive_a_weights_only_save(tmp_path: Path):
    np.random.randn()  # leaves a cached Gaussian in numpy's state
    state = TrainingState(5, 1, 2, 0.5, 0, {}, {}, {}, capture_rng())
    expected = draws()
    loaded = load_state(save_state(tmp_path / "last.state.pt", state))
    assert (loaded.step, loaded.epoch, loaded.epoch_step, loaded.best_val_loss) == (5, 1, 2, 0.5)
    restore_rng(loaded.rng)
    assert draws() == expected


def test_a_file_that_is_not_a_training_state_is_refused(tmp_path: Path):
    bad = tmp_path / "last.state.pt"
    torch.save({"format": "something-else"}, bad)
    with pytest.raises(InputError, match=f"{bad}: not a training state"):
        load_state(bad)


@pytest.mark.parametrize("text", ["hello", "not a state"])
def test_a_text_file_is_refused_as_not_written_by_torch_save(tmp_path: Path, text: str):
    bad = tmp_path / "last.state.pt"
    bad.write_text(text)
    with pytest.raises(InputError, match=f"{bad}: not a training state \\(not a file written by torch.save\\)"):
        load_state(bad)
