"""The trainer: `train(TrainConfig) -> TrainResult`, one process or one rank of a torchrun job.

Per optimiser step: a batch of random crops of the `train` split (order and crops a fixed function
of seed and epoch), the network in training mode (float16 autocast on CUDA), the joint loss at the
`LossSchedule` weights of that step, gradient clipping, AdamW, the warm-up + cosine schedule.
After every epoch (and at the last step): validation on whole tiles of the `val` split, the
`ibhfn.metrics` of the outputs clipped to [0, 1], and the checkpoints.

The run folder holds `config.json`, `log.jsonl` (every step and epoch record), `last.pt` and
`best.pt` (`ibhfn.model` checkpoints; `meta` = epoch, step, val_loss, metrics, train_config) and
`last.state.pt` (optimizer, scheduler, scaler, position and RNG states; see `state`). Resume loads
`last.pt` + `last.state.pt` and continues exactly where the run stopped, mid-epoch included, with
`workers=0` (worker processes draw crops in their own order).

Validation loss: the joint loss terms the eval-mode output supports (L1, SSIM, SAM, contrastive)
at the schedule's final weights, so epochs compare on one scale; `best.pt` has the lowest.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from ibhfn.atomic import atomic_path
from ibhfn.data import SEN12MSCR
from ibhfn.data.clear_patches import ClearPatches
from ibhfn.data.mixture import Mixture
from ibhfn.data.synthetic import write_tree
from ibhfn.data.torch_dataset import TorchSEN12MSCR
from ibhfn.errors import InputError, ModelError
from ibhfn.evaluate.evaluation import mean_metrics, score_images
from ibhfn.losses import LossResult, LossSchedule, LossWeights, changed_mask, joint_loss
from ibhfn.model import IBHFNOutput, build_model, read_checkpoint, save_checkpoint
from ibhfn.output_folder import nearest_existing
from ibhfn.train.config import TrainConfig
from ibhfn.train.distributed import DistContext, barrier, init_distributed, mean_over_processes, shutdown_distributed
from ibhfn.train.jsonl_log import JsonlLog
from ibhfn.train.optim import build_optimizer, build_scheduler
from ibhfn.train.state import TrainingState, capture_rng, load_state, restore_rng, save_state

LAST, BEST, STATE, LOG, CONFIG = "last.pt", "best.pt", "last.state.pt", "log.jsonl", "config.json"
SYNTHETIC_DIR = "synthetic"

Progress = Callable[[dict[str, Any]], None]  # receives every record the log gets, plus a "start" record


@dataclass
class TrainResult:
    """What a (possibly interrupted) training session did and where its outputs are."""

    out: Path
    steps: int  # optimiser steps done in the whole run
    total_steps: int  # steps the schedule spans
    epochs: int  # epochs completed
    best_val_loss: float
    best_epoch: int
    last_checkpoint: Path
    best_checkpoint: Path | None
    history: list[dict[str, Any]] = field(default_factory=list)  # this session's epoch records
    seconds: float = 0.0  # wall time of this session
    seconds_per_step: float = 0.0  # mean training-step time of this session (data, forward, backward, update)


def final_weights(schedule: LossSchedule) -> LossWeights:
    """The weights once every term has reached its target: the scale validation losses are compared on."""
    return schedule.weights(schedule.l1_warmup_steps + schedule.ramp_steps + schedule.kl_warmup_steps)


def train(config: TrainConfig, *, progress: Progress | None = None, stop_at_step: int | None = None) -> TrainResult:
    """Train (or resume) the run `config` describes; `stop_at_step` ends the session early, as an interruption would."""
    context = init_distributed(config.device)
    try:
        return Trainer(config, context, progress).run(stop_at_step)
    finally:
        shutdown_distributed(context)


def prepare_data(config: TrainConfig, context: DistContext) -> Path:
    """The data root: `config.data`, or the synthetic tree in out/synthetic (generated once, by rank 0)."""
    if config.data is not None:
        if not config.data.is_dir():
            raise InputError(f"{config.data}: data folder not found")
        return config.data
    root = config.out / SYNTHETIC_DIR
    if context.is_main and not root.is_dir():
        make_run_folder(config.out)
        partial = config.out / f".{SYNTHETIC_DIR}.partial-{os.getpid()}"
        write_tree(partial, seed=config.seed, patches_per_scene=config.synthetic_patches)
        os.replace(partial, root)
    barrier(context)
    return root


def make_run_folder(out: Path) -> None:
    """Create the run folder; a place that cannot hold one (/proc, a read-only disk) is one line."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot create the run folder ({exc.strerror or exc})") from None


class Trainer:
    """One run's network, data, optimiser and state; `run` trains it."""

    def __init__(self, config: TrainConfig, context: DistContext, progress: Progress | None) -> None:
        self.config = config
        self.context = context
        self.progress = progress if context.is_main else None
        self.device = context.device
        self.use_amp = config.amp and self.device.type == "cuda"
        self._check_out_folder()
        torch.manual_seed(config.seed)
        self.model = build_model(config.preset, arch=config.arch, **config.model_overrides).to(self.device)
        torch.manual_seed(config.seed + context.rank)  # same weights everywhere, own VIB noise per process
        self._check_crop()
        root = prepare_data(config, context)
        self.train_reader = self._train_mix(root)
        self.val_reader = SEN12MSCR(root, "val", preprocessing=config.preprocessing, cloud_mask=config.cloud_mask)
        self.net: nn.Module = self.model
        if context.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.steps_per_epoch = len(self._epoch_indices(0)) // config.batch_size
        if self.steps_per_epoch == 0:
            raise InputError(
                f"{root}: the train split has {len(self.train_reader)} samples, fewer than a batch of "
                f"{config.batch_size} per process; lower --batch-size"
            )
        self.total_steps = config.epochs * self.steps_per_epoch
        if config.max_steps is not None:
            self.total_steps = min(self.total_steps, config.max_steps)
        self.optimizer = build_optimizer(self.model, config.lr, config.weight_decay)
        self.scheduler = build_scheduler(self.optimizer, config.warmup_steps, self.total_steps, config.min_lr_ratio)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.state = TrainingState(0, 0, 0, float("inf"), -1, {}, {}, {}, {})
        self.last_validation: dict[str, Any] = {}  # the latest epoch record, for the meta of `last.pt`
        if config.resume:
            self._load()

    # -- set-up -------------------------------------------------------------------------------

    def _check_out_folder(self) -> None:
        """Refuse an OUT that is (or is under) a file, and to overwrite a run unless resuming it."""
        out = self.config.out
        existing = nearest_existing(out)
        if not existing.is_dir():
            where = "is a file" if existing == out else f"is under {existing}, a file"
            raise InputError(f"{out}: {where}, not a run folder; choose another --out")
        last = out / LAST
        if not self.config.resume and last.exists():
            raise InputError(f"{last}: a run already exists here; pass --resume to continue it or choose another --out")
        if self.config.resume and not last.exists():
            raise InputError(f"{last}: checkpoint not found; nothing to resume (start without --resume)")

    def _check_crop(self) -> None:
        multiple = self.model.size_multiple
        if self.config.crop is not None and self.config.crop % multiple:
            raise InputError(f"crop {self.config.crop} is not a multiple of the network's size multiple {multiple}")

    def _load(self) -> None:
        """Restore weights, optimiser, scheduler, scaler and position from the run folder."""
        checkpoint = read_checkpoint(self.config.out / LAST)
        if checkpoint["arch"] != self.config.arch or checkpoint["config"] != self.model.config:
            raise ModelError(f"{self.config.out / LAST}: holds a different network than this run's --arch/--preset")
        self.model.load_state_dict(checkpoint["state_dict"])
        state = load_state(self.config.out / STATE)
        if state.step != checkpoint["meta"].get("step"):
            raise InputError(
                f"{self.config.out / STATE}: at step {state.step}, but {LAST} is at step "
                f"{checkpoint['meta'].get('step')}; the run was stopped while saving"
            )
        self.optimizer.load_state_dict(state.optimizer)
        self.scheduler.load_state_dict(state.scheduler)
        self.scaler.load_state_dict(state.scaler)
        self.state = state
        meta = checkpoint["meta"]
        self.last_validation = {
            "val_loss": meta.get("val_loss"),
            **{f"val_{k}": v for k, v in meta.get("metrics", {}).items()},
        }

    # -- data ---------------------------------------------------------------------------------

    def _train_mix(self, root: Path) -> SEN12MSCR | Mixture:
        """The train split of `root`, and the chosen scenes of the real pairs where given."""
        config = self.config
        train_split = SEN12MSCR(root, "train", preprocessing=config.preprocessing, cloud_mask=config.cloud_mask)
        if config.real_pairs is None and config.real_clear is None:
            return train_split
        mix = Mixture([train_split], [1])
        if config.real_pairs is not None:
            if not config.real_pairs.is_dir():
                raise InputError(f"{config.real_pairs}: real pairs folder not found")
            real = SEN12MSCR(
                config.real_pairs,
                "all",
                preprocessing=config.preprocessing,
                cloud_mask=config.cloud_mask,
                s1=config.real_s1,
                scenes=config.real_scenes,
            )
            missing = sorted(set(config.real_scenes) - {t.scene for t in real.triplets})
            if missing:
                raise InputError(f"{config.real_pairs}: no pairs of scene {', '.join(missing)}; check --real-scene")
            mix.readers.append(real)
            mix.repeats.append(config.real_repeat)
        if config.real_clear is not None:
            mix.readers.append(ClearPatches(config.real_clear, preprocessing=config.preprocessing))
            mix.repeats.append(config.real_clear_repeat)
        return mix

    def _epoch_indices(self, epoch: int) -> list[int]:
        """This process's share of the shuffled train split for `epoch` (a fixed function of seed and epoch)."""
        sampler: DistributedSampler[int] = DistributedSampler(
            range(len(self.train_reader)),  # type: ignore[arg-type]  # torch's stub wants a Dataset; it takes len() only
            num_replicas=self.context.world_size,
            rank=self.context.rank,
            shuffle=True,
            seed=self.config.seed,
            drop_last=True,
        )
        sampler.set_epoch(epoch)
        return list(sampler)

    def _train_loader(self, epoch: int, skip_batches: int) -> DataLoader:
        """The batches of `epoch`, after the first `skip_batches` (already done before a resume)."""
        dataset = TorchSEN12MSCR(
            self.train_reader,
            crop=self.config.crop,
            seed=self.config.seed * 1_000_003 + epoch,
            clear_input=self.config.clear_input,
            s1_dropout=self.config.s1_dropout,
        )
        indices = self._epoch_indices(epoch)[skip_batches * self.config.batch_size :]
        return self._loader(dataset, indices, epoch)

    def _val_loader(self) -> DataLoader:
        """Whole tiles of the val split; `val_samples` of them spread evenly over it (so over its scenes)."""
        total = len(self.val_reader)
        count = total if self.config.val_samples is None else min(total, self.config.val_samples)
        indices = sorted({round(i * (total - 1) / max(1, count - 1)) for i in range(count)})
        return self._loader(TorchSEN12MSCR(self.val_reader), indices, 0, drop_last=False)

    def _loader(self, dataset: TorchSEN12MSCR, indices: list[int], seed: int, drop_last: bool = True) -> DataLoader:
        # An own generator: a DataLoader otherwise draws its worker seed from the global RNG.
        return DataLoader(
            dataset,
            batch_size=self.config.batch_size,
            sampler=indices,
            num_workers=self.config.workers,
            drop_last=drop_last,
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator().manual_seed(self.config.seed + seed),
        )

    # -- training -----------------------------------------------------------------------------

    def run(self, stop_at_step: int | None) -> TrainResult:
        """Train until the schedule's last step (or `stop_at_step`); `last` after every epoch and at the end."""
        started = time.perf_counter()
        log = self._open_log()
        if self.config.resume:
            restore_rng(self.state.rng)
        state, history, step_seconds = self.state, [], []
        saved_step = state.step
        self._emit(
            log,
            {
                "event": "start",
                "step": state.step,
                "epoch": state.epoch,
                "total_steps": self.total_steps,
                "steps_per_epoch": self.steps_per_epoch,
            },
        )
        try:
            while state.step < self.total_steps and not _reached(state.step, stop_at_step):
                self.net.train()
                tick = time.perf_counter()
                for batch in self._train_loader(state.epoch, state.epoch_step):
                    record = self._train_step(batch, state.step)
                    step_seconds.append(time.perf_counter() - tick)  # loading the batch included
                    tick = time.perf_counter()
                    state.step += 1
                    state.epoch_step += 1
                    self._emit(
                        log,
                        {
                            "event": "step",
                            "epoch": state.epoch,
                            "step": state.step,
                            "seconds": step_seconds[-1],
                            **record,
                        },
                    )
                    if state.step >= self.total_steps or _reached(state.step, stop_at_step):
                        break
                epoch_done = state.epoch_step >= self.steps_per_epoch or state.step >= self.total_steps
                if not epoch_done:
                    break  # interrupted mid-epoch: save the position, not a validation
                self.last_validation = self._end_epoch(state)
                history.append(self.last_validation)
                self._emit(log, self.last_validation)
                self._save_last(state)
                saved_step = state.step
            if state.step > saved_step:
                self._save_last(state)
        finally:
            if log is not None:
                log.close()
        return TrainResult(
            out=self.config.out,
            steps=state.step,
            total_steps=self.total_steps,
            epochs=state.epoch,
            best_val_loss=state.best_val_loss,
            best_epoch=state.best_epoch,
            last_checkpoint=self.config.out / LAST,
            best_checkpoint=self.config.out / BEST if (self.config.out / BEST).exists() else None,
            history=history,
            seconds=time.perf_counter() - started,
            seconds_per_step=float(np.mean(step_seconds)) if step_seconds else 0.0,
        )

    def _train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        """One optimiser step; returns the loss terms (averaged over processes), weights, lr and grad norm."""
        sar, optical, target = (batch[k].to(self.device, non_blocking=True) for k in ("sar", "optical", "target"))
        mask = changed_mask(optical, target)  # the gate's target: where the input is not yet the answer
        weights = self.config.loss_schedule.weights(step)
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.use_amp):
            output = self.net(sar, optical)
        result = joint_loss(_as_float32(output), target, optical, weights, mask)
        if not torch.isfinite(result.total):
            raise ModelError(f"step {step}: the loss is {result.total.item()}; lower --lr or check the data")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(result.total).backward()
        grad_norm = float("nan")
        if self.config.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip))
        lr = self.optimizer.param_groups[0]["lr"]
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return {
            **self._reduced_terms(result),
            **{f"w_{k}": v for k, v in weights.to_dict().items()},
            "lr": lr,
            "grad_norm": grad_norm,
        }

    def _reduced_terms(self, result: LossResult) -> dict[str, float]:
        names = ["loss", *(f"loss_{k}" for k in result.terms)]
        values = torch.stack([result.total.detach(), *(v.detach() for v in result.terms.values())]).float()
        return dict(zip(names, mean_over_processes(values, self.context).tolist()))

    # -- validation and checkpoints -------------------------------------------------------------

    def _end_epoch(self, state: TrainingState) -> dict[str, Any]:
        """Validate (rank 0), keep the best, save `last`; move the position to the next epoch."""
        record: dict[str, Any] = {"event": "epoch", "epoch": state.epoch, "step": state.step}
        state.epoch += 1
        state.epoch_step = 0
        if self.context.is_main:
            tick = time.perf_counter()
            record.update(self.validate())
            record["validation_seconds"] = time.perf_counter() - tick
            if record["val_loss"] < state.best_val_loss:
                state.best_val_loss, state.best_epoch = record["val_loss"], record["epoch"]
                save_checkpoint(
                    self.config.out / BEST,
                    self.model,
                    preprocessing=self.config.preprocessing,
                    meta=self._meta(state, record),
                )
            record["best_epoch"] = state.best_epoch
        barrier(self.context)
        return record

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Validation loss (final loss weights) and mean metrics over the val samples, whole tiles."""
        self.model.eval()
        weights, total, count, scores = final_weights(self.config.loss_schedule), 0.0, 0, []
        for batch in self._val_loader():
            sar, optical, target = (batch[k].to(self.device) for k in ("sar", "optical", "target"))
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.use_amp):
                image = self.model(sar, optical)
            image = image.float()
            total += joint_loss(IBHFNOutput(image=image), target, optical, weights).total.item() * len(image)
            count += len(image)
            scores += score_images(image.cpu().numpy(), target.cpu().numpy(), self.config.preprocessing)
        self.model.train()
        metrics = mean_metrics(scores).to_dict()
        return {"val_loss": total / count, **{f"val_{k}": v for k, v in metrics.items()}}

    def _meta(self, state: TrainingState, record: dict[str, Any]) -> dict[str, Any]:
        """Checkpoint meta: epochs completed, steps, the latest validation and the run's config."""
        return {
            "epoch": state.epoch,
            "step": state.step,
            "val_loss": record.get("val_loss"),
            "metrics": {k[4:]: v for k, v in record.items() if k.startswith("val_") and k != "val_loss"},
            "train_config": self.config.to_dict(),
        }

    def _save_last(self, state: TrainingState) -> None:
        """Write `last.state.pt`, then `last.pt` (rank 0); resume checks the two agree on the step."""
        if self.context.is_main:
            state.optimizer = self.optimizer.state_dict()
            state.scheduler = self.scheduler.state_dict()
            state.scaler = self.scaler.state_dict()
            state.rng = capture_rng()
            save_state(self.config.out / STATE, state)
            save_checkpoint(
                self.config.out / LAST,
                self.model,
                preprocessing=self.config.preprocessing,
                meta=self._meta(state, self.last_validation),
            )
        barrier(self.context)

    # -- outputs --------------------------------------------------------------------------------

    def _open_log(self) -> JsonlLog | None:
        if not self.context.is_main:
            return None
        make_run_folder(self.config.out)
        with atomic_path(self.config.out / CONFIG) as tmp:
            tmp.write_text(json.dumps(self.config.to_dict(), indent=2) + "\n", encoding="utf-8")
        try:
            return JsonlLog(self.config.out / LOG, keep_through_step=self.state.step if self.config.resume else None)
        except OSError as exc:
            raise InputError(f"{self.config.out / LOG}: cannot be written ({exc.strerror or exc})") from None

    def _emit(self, log: JsonlLog | None, record: dict[str, Any]) -> None:
        if log is not None:
            log.write(record)
        if self.progress is not None:
            self.progress(record)


def _reached(step: int, stop_at_step: int | None) -> bool:
    return stop_at_step is not None and step >= stop_at_step


def _as_float32(output: IBHFNOutput) -> IBHFNOutput:
    """The output with every tensor in float32, so the losses never run in float16 under autocast."""
    return dataclasses.replace(
        output,
        **{
            f.name: getattr(output, f.name).float()
            for f in dataclasses.fields(output)
            if getattr(output, f.name) is not None
        },
    )
