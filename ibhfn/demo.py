"""`make demo`: the main job on the embedded default, end to end, on this machine's CPU."""

from __future__ import annotations

import time

import torch

from ibhfn.model import build_model, profile


def main() -> None:
    """Run the edge network on a generated 256 x 256 patch and print its size and timing."""
    torch.manual_seed(0)
    model = build_model("edge").eval()
    sar, optical = torch.rand(1, 2, 256, 256), torch.rand(1, 13, 256, 256)
    with torch.no_grad():
        start = time.perf_counter()
        restored = model(sar, optical)
        seconds = time.perf_counter() - start
    print(f"IB-HFN edge: {profile(model)}")
    print(f"restored {tuple(restored.shape)} in {seconds * 1000:.0f} ms on the CPU")


if __name__ == "__main__":
    main()
