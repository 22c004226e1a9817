"""The ablation runner: every variant and seed trained on the same budget, scored, cached and tabled."""

from __future__ import annotations

import json
from pathlib import Path

from ibhfn.train.ablation import VARIANTS, Budget, EvalSet, default_eval_sets, main, run_ablation, table

TWO = tuple(v for v in VARIANTS if v.name in ("ibhfn", "dsen2cr"))


def test_every_variant_and_seed_is_trained_scored_and_tabled(tree: Path, tmp_path: Path):
    out = tmp_path / "ablation"
    budget = Budget(steps=2, batch_size=2, crop=32, warmup_steps=1, clear_input=0.5)
    scores = run_ablation(
        tree, out, seeds=[0, 1], budget=budget, eval_sets=[EvalSet("synthetic test", tree)], variants=TWO, jobs=1
    )
    assert sorted((s["variant"], s["seed"]) for s in scores) == [
        ("dsen2cr", 0),
        ("dsen2cr", 1),
        ("ibhfn", 0),
        ("ibhfn", 1),
    ]
    for score in scores:
        run = out / f"{score['variant']}-seed{score['seed']}"
        config = json.loads((run / "config.json").read_text())
        assert config["max_steps"] == 2 and config["seed"] == score["seed"] and config["clear_input"] == 0.5
        assert score["sets"]["synthetic test"]["count"] == 4
    by_seed = {s["seed"]: s["sets"]["synthetic test"]["model"]["psnr"] for s in scores if s["variant"] == "ibhfn"}
    assert by_seed[0] != by_seed[1]  # the seeds differ, so the spread is measured, not assumed
    text = table(scores, TWO)
    assert "**synthetic test** (4 patches, seeds 0, 1)" in text
    assert text.count(" ± ") == 6  # PSNR, SSIM and SAM of each of the two variants
    assert "| dsen2cr | DSen2-CR small baseline |" in text

    (out / "ibhfn-seed0" / "last.pt").unlink()  # a finished run is read from its scores, never retrained
    again = run_ablation(
        tree, out, seeds=[0], budget=budget, eval_sets=[EvalSet("synthetic test", tree)], variants=TWO[:1], jobs=1
    )
    assert again[0] == next(s for s in scores if s["variant"] == "ibhfn" and s["seed"] == 0)


def test_the_real_sets_join_only_where_shared_data_exists(tree: Path, tmp_path: Path):
    assert [s.name for s in default_eval_sets(tree, tmp_path / "no-shared")] == ["synthetic test"]
    real = tmp_path / "shared" / "data"
    for name in ("sen12mscr_real_pairs", "sen12mscr_sample"):
        (real / name).mkdir(parents=True)
    sets = {s.name: s for s in default_eval_sets(tree, tmp_path / "shared")}
    assert sets["real pairs (constant S1)"].s1 == "constant"
    assert sets["real clear pass-through"].optical == "clear" and "real triplet" in sets


def test_the_command_line_writes_the_table(tree: Path, tmp_path: Path, capsys):
    main(
        [
            "--data",
            str(tree),
            "--out",
            str(tmp_path / "a"),
            "--seeds",
            "0",
            "--steps",
            "1",
            "--batch-size",
            "2",
            "--crop",
            "32",
            "--variants",
            "no-gate",
            "--shared",
            str(tmp_path / "none"),
            "--jobs",
            "1",
        ]
    )
    written = (tmp_path / "a" / "ablation.md").read_text()
    assert "| no-gate | no gate and no Dirac skip (Y = R) |" in written and written in capsys.readouterr().out


def test_the_fix_variant_trains_sar_skips_with_s1_dropout(tree: Path, tmp_path: Path):
    main(
        [
            "--data",
            str(tree),
            "--out",
            str(tmp_path / "a"),
            "--seeds",
            "0",
            "--steps",
            "1",
            "--batch-size",
            "2",
            "--crop",
            "32",
            "--variants",
            "sar-skips",
            "--s1-dropout",
            "0.25",
            "--shared",
            str(tmp_path / "none"),
            "--jobs",
            "1",
        ]
    )
    config = json.loads((tmp_path / "a" / "sar-skips-seed0" / "config.json").read_text())
    assert config["model_overrides"] == {"sar_skips": True} and config["s1_dropout"] == 0.25
