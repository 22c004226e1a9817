from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ibhfn.evaluate.cli import app
from ibhfn.model import save_checkpoint

runner = CliRunner()


def test_eval_prints_the_table_and_writes_json(tiny_model, tree: Path, tmp_path: Path):
    checkpoint = save_checkpoint(tmp_path / "tiny.pt", tiny_model)
    result = runner.invoke(app, ["--data", str(tree), "--checkpoint", str(checkpoint), "--split", "test",
                                 "--out", str(tmp_path / "results.json"), "--threads", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "SEN12MS-CR test split, 6 images" in result.output and "cloudy input" in result.output
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["samples"] == 6 and results["split"] == "test" and results["model"] == "ibhfn edge"
    assert set(results["overall"]["model"]) == {"mae", "rmse", "psnr", "ssim", "sam"}
    assert sum(g["count"] for g in results["by_roi_season"].values()) == 6
    assert sum(g["count"] for g in results["by_coverage"].values()) == 6


def test_a_file_that_is_not_a_checkpoint_is_a_one_line_error(tree: Path, tmp_path: Path):
    bad = tmp_path / "model.pt"
    bad.write_text("not a checkpoint")
    result = runner.invoke(app, ["--data", str(tree), "--checkpoint", str(bad), "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}: not an ibhfn checkpoint")
    assert not (tmp_path / "r.json").exists()
