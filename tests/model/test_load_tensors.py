"""`load_tensors`: the one guarded torch.load of checkpoints and training states."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ibhfn.errors import InputError, ModelError
from ibhfn.model.checkpoint import load_tensors


class Payload:
    """Any class: unpickling it would run code of its module."""


def test_plain_tensors_and_numbers_load(tmp_path: Path):
    torch.save({"w": torch.ones(2), "step": 3}, tmp_path / "ok.pt")
    loaded = load_tensors(tmp_path / "ok.pt", "a thing", InputError)
    assert loaded["step"] == 3 and torch.equal(loaded["w"], torch.ones(2))


@pytest.mark.parametrize("error", [ModelError, InputError])
def test_a_file_that_is_no_torch_save_is_the_callers_error(tmp_path: Path, error: type):
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(error, match=r"text.pt: not a thing \(not a file written by torch.save\)"):
        load_tensors(tmp_path / "text.pt", "a thing", error)


def test_objects_beyond_plain_data_are_never_unpickled(tmp_path: Path):
    torch.save({"odd": Payload()}, tmp_path / "objects.pt")
    with pytest.raises(ModelError, match="objects.pt: not a thing .it holds code or objects"):
        load_tensors(tmp_path / "objects.pt", "a thing", ModelError)
