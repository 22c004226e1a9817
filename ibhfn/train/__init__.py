"""Training: `train(TrainConfig(...)) -> TrainResult`, behind `ibhfn-train` and `torchrun -m ibhfn.train`.

Modules, top-down: `config` (TrainConfig), `optim` (AdamW, warm-up + cosine), `state` (the resume
state beside a checkpoint), `jsonl_log` (the run log), `distributed` (torchrun / DDP set-up),
`loop` (the trainer), `cli` (`ibhfn-train`).

    result = train(TrainConfig(out="runs/x", synthetic=True, max_steps=100))
"""

from ibhfn.train.config import TrainConfig
from ibhfn.train.loop import BEST, LAST, LOG, STATE, TrainResult, train

__all__ = ["BEST", "LAST", "LOG", "STATE", "TrainConfig", "TrainResult", "train"]
