"""PyTorch eager on a CUDA GPU: tiles/s of the bundled network (deploy form) in FP32 and FP16 autocast.

The GPU rows of docs/benchmarks.md where TensorRT is absent. CUDA events time each call; the median
of repeated calls after warm-up; the FP16 output's largest difference from FP32 on the same tiles
is printed too, so a speed figure never hides a broken precision.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from ibhfn.bundled import BUNDLED_CHECKPOINT
from ibhfn.export.deploy import fold
from ibhfn.model import load_checkpoint

TILE = 256


def median_ms(model: torch.nn.Module, sar: torch.Tensor, optical: torch.Tensor, fp16: bool, repeats: int) -> float:
    """Median milliseconds of one forward pass, timed with CUDA events after three warm-up calls."""
    times = []
    for call in range(repeats + 3):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=fp16):
            model(sar, optical)
        end.record()
        end.synchronize()
        if call >= 3:
            times.append(start.elapsed_time(end))
    return statistics.median(times)


def main() -> None:
    """Print latency at batch 1 and throughput per batch for FP32 and FP16 autocast."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=BUNDLED_CHECKPOINT)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("error: no CUDA GPU visible to torch")
    torch.backends.cudnn.benchmark = True
    model = fold(load_checkpoint(args.checkpoint)).cuda().eval()
    generator = torch.Generator(device="cuda").manual_seed(0)
    table = Table(title=f"PyTorch {torch.__version__} eager on {torch.cuda.get_device_name()}, {TILE} px tiles")
    for column in ("precision", "batch", "ms per call", "tiles/s", "max |fp16 - fp32|"):
        table.add_column(column, justify="right")
    for batch in args.batches:
        sar = torch.rand((batch, 2, TILE, TILE), device="cuda", generator=generator)
        optical = torch.rand((batch, 13, TILE, TILE), device="cuda", generator=generator)
        with torch.no_grad():
            fp32 = model(sar, optical)
            with torch.autocast("cuda", dtype=torch.float16):
                gap = (model(sar, optical).float() - fp32).abs().max().item()
        for label, fp16 in (("fp32", False), ("fp16 autocast", True)):
            ms = median_ms(model, sar, optical, fp16, args.repeats)
            table.add_row(label, str(batch), f"{ms:.2f}", f"{batch / ms * 1000:.0f}", f"{gap:.2e}" if fp16 else "")
    Console().print(table)


if __name__ == "__main__":
    main()
