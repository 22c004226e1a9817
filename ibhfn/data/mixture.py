"""Several readers read as one: a training mix of SEN12MS-CR-layout triplets and real pairs.

Indices run through the readers in order, each reader `repeat` times, so a small set of real
pairs can weigh more in every epoch than its size alone would give it. Real clear patches
(`ClearPatches`) join a mix the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ibhfn.data.clear_patches import ClearPatches
from ibhfn.data.sen12mscr import SEN12MSCR, Sample
from ibhfn.preprocessing import Preprocessing


@dataclass
class Mixture:
    """The readers of a training mix, with how often each is repeated per epoch."""

    readers: list[SEN12MSCR | ClearPatches]
    repeats: list[int]

    @property
    def root(self) -> Path:
        """The first reader's root, for messages."""
        return self.readers[0].root

    @property
    def preprocessing(self) -> Preprocessing:
        """The first reader's preprocessing (the mix is built with one)."""
        return self.readers[0].preprocessing

    @property
    def split(self) -> str:
        return self.readers[0].split

    def __len__(self) -> int:
        return sum(len(reader) * repeat for reader, repeat in zip(self.readers, self.repeats))

    def locate(self, index: int) -> tuple[SEN12MSCR | ClearPatches, int]:
        """The reader that holds sample `index` of the mix, and its index there."""
        for reader, repeat in zip(self.readers, self.repeats):
            size = len(reader) * repeat
            if index < size:
                return reader, index % len(reader)
            index -= size
        raise IndexError(index)

    def read_or_skip(self, index: int) -> Sample | None:
        """Sample `index` of the mix, or None after the reader's warning that a file is unreadable."""
        reader, local = self.locate(index)
        return reader.read_or_skip(local)
