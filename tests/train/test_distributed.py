from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ibhfn.model import load_checkpoint
from ibhfn.train import LAST, LOG
from ibhfn.train.jsonl_log import read_log

TORCHRUN = Path(sys.executable).parent / "torchrun"


def test_two_cpu_processes_train_with_ddp_and_only_rank_0_writes(tree: Path, tmp_path: Path):
    out = tmp_path / "run"
    command = [
        str(TORCHRUN),
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "ibhfn.train",
        "--data",
        str(tree),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--epochs",
        "1",
        "--batch-size",
        "1",
        "--crop",
        "32",
        "--val-samples",
        "1",
        "--warmup-steps",
        "1",
        "--threads",
        "1",
        "--quiet",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    records = read_log(out / LOG)
    steps = [r for r in records if r["event"] == "step"]
    # 6 train samples over 2 processes at 1 per batch: 3 steps, each logged once (by rank 0).
    assert [r["step"] for r in steps] == [1, 2, 3]
    assert [r["event"] for r in records].count("epoch") == 1
    assert done.stdout.count("3/3 steps") == 1
    assert load_checkpoint(out / LAST).config["preset"] == "edge"
    assert sorted(p.name for p in out.iterdir()) == sorted(["best.pt", "config.json", LAST, LOG, "last.state.pt"])
