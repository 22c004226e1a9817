from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from ibhfn.data import SEN12MSCR
from ibhfn.errors import InputError
from ibhfn.evaluate import evaluate
from ibhfn.model import DSen2CR, load_checkpoint, read_checkpoint
from ibhfn.train import BEST, LAST, LOG, STATE, TrainResult, train
from ibhfn.train.jsonl_log import read_log
from ibhfn.train.state import load_state

METRICS = {"mae", "rmse", "psnr", "ssim", "sam"}


def step_records(out: Path) -> list[dict]:
    return [r for r in read_log(out / LOG) if r["event"] == "step"]


def test_training_lowers_the_validation_loss(trained: TrainResult):
    losses = [record["val_loss"] for record in trained.history]
    assert len(losses) == 4 and trained.steps == trained.total_steps == 12
    assert losses[-1] < 0.95 * losses[0]
    assert trained.best_val_loss == min(losses)


def test_log_holds_every_step_with_each_loss_term_and_every_epoch_with_metrics(trained: TrainResult):
    records = read_log(trained.out / LOG)
    steps = [r for r in records if r["event"] == "step"]
    assert [r["step"] for r in steps] == list(range(1, 13))
    for term in ("loss", "loss_l1", "loss_ssim", "loss_sam", "loss_contrastive", "loss_kl", "loss_gate"):
        assert all(isinstance(r[term], float) for r in steps), term
    assert steps[0]["w_ssim"] == 0.0 and steps[-1]["w_ssim"] == pytest.approx(0.2)  # the loss schedule ramps
    assert steps[0]["lr"] < steps[2]["lr"] > steps[-1]["lr"]  # warm-up, then cosine decay
    epochs = [r for r in records if r["event"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [0, 1, 2, 3]
    assert all({f"val_{m}" for m in METRICS} <= set(r) for r in epochs)


def test_checkpoints_round_trip_with_weights_only_loading(trained: TrainResult, tree: Path):
    for name in (LAST, BEST, STATE):
        torch.load(trained.out / name, map_location="cpu", weights_only=True)
    best = read_checkpoint(trained.out / BEST)
    assert best["meta"]["epoch"] == trained.best_epoch + 1  # epochs completed when it was saved
    assert best["meta"]["val_loss"] == trained.best_val_loss
    assert set(best["meta"]["metrics"]) == METRICS
    last = read_checkpoint(trained.out / LAST)["meta"]
    assert last["step"] == load_state(trained.out / STATE).step == 12 and last["epoch"] == 4
    assert last["val_loss"] == trained.history[-1]["val_loss"]
    # The reloaded network scores exactly what the trainer measured on the same val tiles.
    report = evaluate(load_checkpoint(trained.out / BEST), SEN12MSCR(tree, "val"))
    for name, value in best["meta"]["metrics"].items():
        assert getattr(report.overall().model, name) == pytest.approx(value, rel=1e-5), name


def test_resume_continues_exactly_like_an_uninterrupted_run(make_config, tmp_path: Path):
    saved_at = {}  # the step last.pt holds while each step record is emitted

    def watch(record: dict) -> None:
        if record["event"] == "step" and (tmp_path / "full" / LAST).exists():
            saved_at[record["step"]] = read_checkpoint(tmp_path / "full" / LAST)["meta"]["step"]

    uninterrupted = train(make_config(tmp_path / "full"), stop_at_step=7, progress=watch)
    assert saved_at == {4: 3, 5: 3, 6: 3, 7: 6}  # last.pt is written after every epoch (3 steps)
    interrupted = train(make_config(tmp_path / "split"), stop_at_step=4)  # mid-epoch 1
    assert interrupted.steps == 4 and len(interrupted.history) == 1
    assert read_checkpoint(tmp_path / "split" / LAST)["meta"]["val_loss"] == interrupted.history[0]["val_loss"]
    with open(tmp_path / "split" / LOG, "a", encoding="utf-8") as log:
        log.write('{"event": "step", "epoch": 1, "st')  # a record half-written when the run was killed
    resumed = train(make_config(tmp_path / "split", resume=True), stop_at_step=7)
    assert resumed.steps == uninterrupted.steps == 7
    full, split = step_records(tmp_path / "full"), step_records(tmp_path / "split")
    assert [r["step"] for r in split] == list(range(1, 8))
    for a, b in zip(full, split):
        for key in ("loss", "loss_l1", "loss_kl", "loss_gate", "lr"):
            assert b[key] == pytest.approx(a[key], abs=1e-6), (a["step"], key)
    assert resumed.history[0]["val_loss"] == pytest.approx(uninterrupted.history[-1]["val_loss"], abs=1e-6)
    weights_a = read_checkpoint(tmp_path / "full" / LAST)["state_dict"]
    weights_b = read_checkpoint(tmp_path / "split" / LAST)["state_dict"]
    assert all(torch.allclose(weights_a[k], weights_b[k], atol=1e-6) for k in weights_a)


def test_dsen2cr_trains_through_the_same_trainer(make_config, tmp_path: Path):
    # Its zero-initialised tail starts at the identity; a lower rate keeps 9 steps from overshooting it.
    result = train(make_config(tmp_path, arch="dsen2cr", model_overrides=dict(blocks=1, features=8), lr=1e-3))
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]
    assert isinstance(load_checkpoint(result.best_checkpoint, arch="dsen2cr"), DSen2CR)
    steps = step_records(tmp_path)
    assert "loss_kl" not in steps[0] and "loss_gate" not in steps[0] and "loss_sam" in steps[0]


def test_an_existing_run_is_not_overwritten_without_resume(trained: TrainResult, make_config):
    with pytest.raises(InputError, match="pass --resume"):
        train(make_config(trained.out))


def test_resume_without_a_run_says_there_is_nothing_to_resume(make_config, tmp_path: Path):
    with pytest.raises(InputError, match="nothing to resume"):
        train(make_config(tmp_path, resume=True))


def test_a_crop_the_network_cannot_take_is_refused(make_config, tmp_path: Path):
    with pytest.raises(InputError, match="multiple"):
        train(make_config(tmp_path, crop=30))


def test_real_pairs_of_the_named_scenes_join_the_training_mix(make_config, tree: Path, tmp_path: Path):
    pairs = shutil.copytree(tree, tmp_path / "pairs")
    for folder in pairs.glob("*_s1"):
        shutil.rmtree(folder)
    scene = SEN12MSCR(pairs, "val", s1="constant").triplets[0].scene  # a scene the trainer never saw before
    config = make_config(tmp_path / "run", epochs=1, real_pairs=pairs, real_scenes=(scene,), real_repeat=2)
    result = train(config)
    train_samples, real_samples = (
        len(SEN12MSCR(tree, "train")),
        len(SEN12MSCR(pairs, "all", s1="constant", scenes=[scene])),
    )
    assert result.steps == (train_samples + 2 * real_samples) // 2  # batch 2: the pairs count twice
    assert read_checkpoint(result.last_checkpoint)["meta"]["train_config"]["real_scenes"] == [scene]
    with pytest.raises(InputError, match="needs --real-scene"):
        make_config(tmp_path / "other", real_pairs=pairs)
    with pytest.raises(InputError, match="no pairs of scene ROIs1158_spring/9999"):
        train(make_config(tmp_path / "third", real_pairs=pairs, real_scenes=(scene, "ROIs1158_spring/9999")))


def test_real_clear_patches_join_the_mix_and_s1_dropout_is_recorded(make_config, tree: Path, tmp_path: Path):
    clear = tmp_path / "clear"
    clear.mkdir()
    for number, path in enumerate(sorted(tree.glob("*_s2/s2_*/*.tif"))[:2]):
        shutil.copy(path, clear / f"s2_ROIs2017_146_ImgNo_{number}_2018-01-06_patch_{number}.tif")
    config = make_config(tmp_path / "run", epochs=1, real_clear=clear, real_clear_repeat=3, s1_dropout=0.5)
    result = train(config)
    assert result.steps == (len(SEN12MSCR(tree, "train")) + 3 * 2) // 2  # batch 2: each clear patch thrice
    recorded = read_checkpoint(result.last_checkpoint)["meta"]["train_config"]
    assert recorded["real_clear"] == str(clear) and recorded["s1_dropout"] == 0.5
    with pytest.raises(InputError, match="--s1-dropout must be from 0 to 1"):
        make_config(tmp_path / "other", s1_dropout=1.5)
