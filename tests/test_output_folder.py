import os

import pytest

from ibhfn.errors import InputError
from ibhfn.output_folder import check_output_folder, nearest_existing, output_folder_problem


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "out"
    path.write_text("")
    return path


def test_a_folder_that_is_there_or_can_be_made_is_fine(tmp_path):
    assert output_folder_problem(tmp_path) is None
    assert output_folder_problem(tmp_path / "new" / "deeper") is None
    assert not (tmp_path / "new").exists()  # asking creates nothing


def test_a_file_in_the_way_is_named(tmp_path, a_file):
    assert output_folder_problem(a_file) == f"{a_file}: is a file, not a folder"
    under = a_file / "sub"
    assert output_folder_problem(under) == f"{a_file}: is a file, not a folder, so {under} cannot be made"
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_output_folder(a_file)


def test_a_folder_that_cannot_be_written_is_named(tmp_path, monkeypatch):
    # root, which runs CI, may write anywhere: the permission answer is what is stood in for here
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert output_folder_problem(tmp_path / "out") == (
        f"{tmp_path}: not writable, so the outputs cannot be written to {tmp_path / 'out'}"
    )


def test_resume_asks_only_for_a_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # a read-only archive whose scenes are all done
    assert output_folder_problem(tmp_path, writable=False) is None


def test_the_nearest_existing_folder_decides(tmp_path):
    assert nearest_existing(tmp_path / "a" / "b") == tmp_path
    assert nearest_existing(tmp_path) == tmp_path
