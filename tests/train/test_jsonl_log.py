from __future__ import annotations

import json
from pathlib import Path

import pytest

from ibhfn.errors import InputError
from ibhfn.train.jsonl_log import JsonlLog, read_log

RECORDS = [{"event": "step", "step": 1}, {"event": "step", "step": 2}, {"event": "epoch", "step": 2}]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """A log of three records, written as a run writes them."""
    writer = JsonlLog(tmp_path / "log.jsonl")
    for record in RECORDS:
        writer.write(record)
    writer.close()
    return writer.path


def test_a_truncated_last_line_as_a_crash_leaves_is_dropped(log: Path):
    with open(log, "a", encoding="utf-8") as f:
        f.write('{"event": "step", "st')
    assert read_log(log) == RECORDS


def test_resuming_drops_a_truncated_last_line_and_the_later_steps(log: Path):
    with open(log, "a", encoding="utf-8") as f:
        f.write('{"event": "step", "st')
    JsonlLog(log, keep_through_step=1).close()
    assert read_log(log) == RECORDS[:1]


def test_a_damaged_line_before_the_last_names_the_file_and_the_line(log: Path):
    lines = log.read_text().splitlines()
    log.write_text("\n".join([lines[0], "{oops", *lines[1:]]) + "\n")
    with pytest.raises(InputError, match=f"^{log}: line 2 is not JSON"):
        read_log(log)


def test_a_line_that_is_not_an_object_names_the_file_and_the_line(log: Path):
    log.write_text(json.dumps([1, 2]) + "\n" + log.read_text())
    with pytest.raises(InputError, match=f"^{log}: line 1 is not a JSON object"):
        read_log(log)


def test_a_binary_file_is_refused_in_one_line(tmp_path: Path):
    binary = tmp_path / "log.jsonl"
    binary.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(InputError, match=f"^{binary}: cannot read the run log"):
        read_log(binary)
