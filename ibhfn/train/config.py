"""Everything one training run needs, as one dataclass the CLI fills and `train` reads."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ibhfn.errors import InputError
from ibhfn.losses import LossSchedule
from ibhfn.model import ARCHITECTURES

MAX_SEED = 2**32 - 1  # torch and numpy seeds derived from it (seed + rank, seed + epoch) stay in range


def option(name: str) -> str:
    """The ibhfn-train option of a config field ('batch_size' -> '--batch-size'), for error messages."""
    return "--" + name.replace("_", "-")


@dataclass
class TrainConfig:
    """A training run: data, network, optimisation, schedule and where the outputs go."""

    out: Path  # run folder: last.pt, best.pt, last.state.pt, log.jsonl, config.json
    data: Path | None = None  # SEN12MS-CR root; None with `synthetic` generates one in out/synthetic
    synthetic: bool = False
    synthetic_patches: int = 4  # patches per scene of the generated tree (3 train, 2 val, 2 test scenes)
    arch: str = "ibhfn"
    preset: str | None = None  # None: the architecture's default ('edge' for ibhfn, 'small' for dsen2cr)
    model_overrides: dict[str, Any] = field(default_factory=dict)  # build_model keyword overrides
    epochs: int = 10
    max_steps: int | None = None  # cap on optimiser steps; the cosine schedule spans min(epochs, cap)
    batch_size: int = 8  # per process
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100  # linear warm-up of the learning rate from 0
    min_lr_ratio: float = 0.01  # the cosine ends at lr * min_lr_ratio
    grad_clip: float = 1.0  # max global gradient norm; 0 turns clipping off
    crop: int | None = 128  # random training crop in px; None trains on whole tiles
    clear_input: float = 0.0  # share of training samples whose input is their clear image (pass-through)
    real_pairs: Path | None = None  # SEN12MS-CR-layout folder of real cloudy / clear pairs, trained on too
    real_scenes: tuple[str, ...] = ()  # its scenes to train on (a split by scene is always explicit)
    real_s1: str = "constant"  # how those pairs get S1: 'constant' (they have none) or 'files'
    real_repeat: int = 1  # each real pair is seen this many times per epoch
    real_clear: Path | None = None  # folder of real cloud-free patches, trained on as pass-through samples
    real_clear_repeat: int = 1  # each of them is seen this many times per epoch
    s1_dropout: float = 0.0  # share of training samples whose S1 is the constant of pairs without SAR
    workers: int = 0  # DataLoader worker processes
    seed: int = 0
    val_samples: int | None = None  # validate on N val samples spread over the split (all when None)
    resume: bool = False  # continue from out/last.pt and out/last.state.pt
    loss_schedule: LossSchedule = field(default_factory=LossSchedule)
    preprocessing: str = "default"
    cloud_mask: str = "threshold"
    device: str = "auto"  # auto: CUDA when available, else CPU; or cpu, cuda
    amp: bool = True  # float16 autocast with a gradient scaler, on CUDA only

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.data = Path(self.data) if self.data is not None else None
        self.real_pairs = Path(self.real_pairs) if self.real_pairs is not None else None
        self.real_scenes = tuple(self.real_scenes)
        self.real_clear = Path(self.real_clear) if self.real_clear is not None else None
        if self.real_pairs is not None and not self.real_scenes:
            raise InputError("--real-pairs needs --real-scene for each scene to train on (the rest stay unseen)")
        if self.real_repeat < 1 or self.real_clear_repeat < 1:
            raise InputError(
                f"--real-repeat and --real-clear-repeat must be at least 1, got {self.real_repeat} "
                f"and {self.real_clear_repeat}"
            )
        if self.arch not in ARCHITECTURES:
            raise InputError(f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCHITECTURES)}")
        if self.data is None and not self.synthetic:
            raise InputError("no training data: give --data ROOT (a SEN12MS-CR folder) or --synthetic")
        for name in ("epochs", "batch_size", "synthetic_patches", "max_steps", "crop", "val_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                whole = " (or 0 for whole tiles)" if name == "crop" else ""
                raise InputError(f"{option(name)} must be at least 1{whole}, got {value}")
        schedule = self.loss_schedule
        counts = {
            "warmup_steps": self.warmup_steps,
            "workers": self.workers,
            "l1_warmup_steps": schedule.l1_warmup_steps,
            "ramp_steps": schedule.ramp_steps,
            "kl_warmup_steps": schedule.kl_warmup_steps,
        }
        for name, value in counts.items():
            if value < 0:
                raise InputError(f"{option(name)} must be at least 0, got {value}")
        if not 0 <= self.seed <= MAX_SEED:
            raise InputError(f"--seed must be from 0 to {MAX_SEED}, got {self.seed}")
        for name, share in (("--clear-input", self.clear_input), ("--s1-dropout", self.s1_dropout)):
            if not 0.0 <= share <= 1.0:
                raise InputError(f"{name} must be from 0 to 1, got {share}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"--lr must be a finite number above 0, got {self.lr}")
        for name in ("weight_decay", "grad_clip"):  # grad_clip 0 turns clipping off
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"{option(name)} must be a finite number of at least 0, got {value}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, written to out/config.json and into every checkpoint's meta."""
        values = dataclasses.asdict(self)
        values["out"] = str(self.out)
        values["data"] = str(self.data) if self.data is not None else None
        values["real_pairs"] = str(self.real_pairs) if self.real_pairs is not None else None
        values["real_scenes"] = list(self.real_scenes)
        values["real_clear"] = str(self.real_clear) if self.real_clear is not None else None
        return values
