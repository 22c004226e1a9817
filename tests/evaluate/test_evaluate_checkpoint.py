"""`evaluate_checkpoint`: what `ibhfn-eval` runs, called as a library function."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibhfn.errors import InputError, ModelError
from ibhfn.evaluate import evaluate_checkpoint


def test_a_checkpoint_is_scored_with_its_preprocessing_and_the_report_names_its_sources(checkpoint: Path, tree: Path):
    seen = []
    report = evaluate_checkpoint(
        checkpoint, tree, "test", samples=3, batch_size=2, progress=lambda done, total: seen.append((done, total))
    )
    assert len(report.scores) == 3 and report.split == "test" and report.model_name == "ibhfn edge"
    assert seen == [(2, 3), (3, 3)]
    assert report.source == {"data": str(tree), "checkpoint": str(checkpoint), "s1": "files", "input": "cloudy"}
    assert report.to_dict()["checkpoint"] == str(checkpoint)


def test_a_missing_checkpoint_is_named_before_the_data_is_read(tmp_path: Path):
    with pytest.raises(ModelError, match="nothing.pt: checkpoint not found"):
        evaluate_checkpoint(tmp_path / "nothing.pt", tmp_path / "no-data")


def test_a_bad_split_is_an_input_error(checkpoint: Path, tree: Path):
    with pytest.raises(InputError, match="unknown split 'dev'"):
        evaluate_checkpoint(checkpoint, tree, "dev")
