"""The shape rules every network input follows, checked with messages that say what to change."""

from __future__ import annotations

import torch
from torch import Tensor

from ibhfn.bands import S1_BANDS, S2_BANDS
from ibhfn.errors import ShapeError


def check_inputs(sar: Tensor, optical: Tensor, size_multiple: int) -> None:
    """Raise ShapeError unless sar is (N, 2, H, W), optical (N, 13, H, W), H and W multiples of size_multiple.

    The size checks are skipped while torch.export traces the network, where H and W are symbolic
    (the exporter declares them as multiples instead).
    """
    for name, tensor, bands in (("sar", sar, S1_BANDS), ("optical", optical, S2_BANDS)):
        if tensor.dim() != 4 or tensor.shape[1] != len(bands):
            raise ShapeError(f"{name} must be (N, {len(bands)}, H, W) ({', '.join(bands)}), got {tuple(tensor.shape)}")
    if torch.compiler.is_exporting():
        return
    if sar.shape[0] != optical.shape[0] or sar.shape[2:] != optical.shape[2:]:
        raise ShapeError(
            f"sar and optical must share batch, height and width, got {tuple(sar.shape)} and {tuple(optical.shape)}"
        )
    height, width = optical.shape[2:]
    if height % size_multiple or width % size_multiple:
        raise ShapeError(f"height and width must be multiples of {size_multiple}, got {height} x {width}")
