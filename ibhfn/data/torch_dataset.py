"""A torch `Dataset` over a `SEN12MSCR` reader, with an optional random crop for training.

A corrupt sample (warned about once by the reader) is replaced by the next readable one, so a
batch keeps its size and a run goes on. Crops are a fixed function of (seed, index): set `seed`
to the epoch number for fresh crops every epoch. With `clear_input`, that share of the samples
(drawn the same way) gets its clear image as the input and an empty cloud mask: the network learns
to pass clear sky through unchanged. With `s1_dropout`, that share gets the constant S1 of pairs
without SAR (`CONSTANT_S1_DB`): the network learns to restore from optics alone where SAR says
nothing, as on the real pairs without S1, instead of trusting an uninformative SAR.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ibhfn.data.mixture import Mixture
from ibhfn.data.sen12mscr import CONSTANT_S1_DB, SEN12MSCR, Sample
from ibhfn.errors import InputError, ShapeError


class TorchSEN12MSCR(Dataset):
    """Samples as dicts of float32 tensors: sar, optical, target, cloud_mask and has_mask."""

    def __init__(
        self,
        reader: SEN12MSCR | Mixture,
        crop: int | None = None,
        seed: int = 0,
        clear_input: float = 0.0,
        s1_dropout: float = 0.0,
    ) -> None:
        self.reader = reader
        self.crop = crop
        self.seed = seed
        self.clear_input = clear_input
        self.s1_dropout = s1_dropout

    def __len__(self) -> int:
        return len(self.reader)

    def _readable(self, index: int) -> Sample:
        for step in range(len(self.reader)):
            sample = self.reader.read_or_skip((index + step) % len(self.reader))
            if sample is not None:
                return sample
        raise InputError(f"{self.reader.root}: no sample of this split can be read")

    def _constant_sar(self, shape: tuple[int, ...]) -> np.ndarray:
        """The preprocessed SAR of a patch without S1 (`CONSTANT_S1_DB` everywhere)."""
        decibels = np.broadcast_to(np.asarray(CONSTANT_S1_DB, np.float32)[:, None, None], shape)
        return self.reader.preprocessing.sar(decibels.copy())

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = self._readable(index)
        height, width = sample.optical.shape[1:]
        mask = sample.cloud_mask if sample.cloud_mask is not None else np.zeros((height, width), np.float32)
        rng = np.random.default_rng([self.seed, index])
        clear = self.clear_input > 0 and rng.uniform() < self.clear_input
        optical = sample.target if clear else sample.optical
        mask = np.zeros_like(mask) if clear else mask
        sar = sample.sar
        if self.s1_dropout > 0 and rng.uniform() < self.s1_dropout:
            sar = self._constant_sar(sar.shape)
        arrays = {"sar": sar, "optical": optical, "target": sample.target, "cloud_mask": mask}
        if self.crop is not None:
            if self.crop > min(height, width):
                raise ShapeError(f"crop {self.crop} is larger than the {height}x{width} patch of {sample.scene}")
            top, left = int(rng.integers(0, height - self.crop + 1)), int(rng.integers(0, width - self.crop + 1))
            arrays = {name: a[..., top : top + self.crop, left : left + self.crop] for name, a in arrays.items()}
        item = {name: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for name, a in arrays.items()}
        item["has_mask"] = torch.tensor(sample.cloud_mask is not None or clear)
        return item
