"""The scene record's file facts."""

import hashlib

import pytest

from ibhfn.errors import InputError
from ibhfn.runtime.scene_record import FileFacts


def test_file_facts_name_size_and_hash(tmp_path):
    path = tmp_path / "a_s2.tif"
    path.write_bytes(b"scene")
    facts = FileFacts.of(path)
    expected = (str(path.resolve()), 5, hashlib.sha256(b"scene").hexdigest())
    assert (facts.path, facts.size_bytes, facts.sha256) == expected


def test_a_file_that_cannot_be_read_is_a_one_line_input_error(tmp_path):
    with pytest.raises(InputError, match=r"gone_s2.tif: cannot read it to hash it \(No such file or directory\)"):
        FileFacts.of(tmp_path / "gone_s2.tif")
