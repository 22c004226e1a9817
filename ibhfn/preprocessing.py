"""How raw Sentinel values become network inputs and back: the one place these constants live.

The data reader, the export metadata and the runtime all use `Preprocessing`; an exported engine
carries `Preprocessing.to_dict()` in its metadata so the runtime never keeps a second copy.
Methods follow the SEN12MS-CR anchors (UnCRtainTS 'default', DSen2-CR 'resnet').
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ibhfn.errors import ModelError

S2_DN_MAX = 10000.0  # Sentinel-2 L1C top-of-atmosphere reflectance is stored as DN = reflectance * 10000
S2_BASELINE_04_OFFSET = -1000  # ESA's RADIO_ADD_OFFSET since processing baseline 04.00 (25 January 2022)


@dataclass(frozen=True)
class Preprocessing:
    """Clip ranges and scales that map S1 dB and S2 DN into network inputs."""

    method: str
    s1_db_min: tuple[float, float]  # per band (VV, VH)
    s1_db_max: tuple[float, float]
    s1_scale: float  # clipped dB range is mapped onto [0, s1_scale]
    s2_dn_max: float  # S2 DN is clipped to [0, s2_dn_max]
    s2_divisor: float  # then divided by this

    def sar(self, db: np.ndarray, *, in_place: bool = False) -> np.ndarray:
        """Map S1 backscatter in dB, shape (2, ...) or (N, 2, ...), to float32 network input.

        With `in_place`, a float32 `db` is overwritten and returned, sparing a copy of a large window.
        """
        db = np.asarray(db, dtype=np.float32)
        axis = 0 if db.ndim == 3 else 1
        shape = [1] * db.ndim
        shape[axis] = 2
        lo = np.asarray(self.s1_db_min, np.float32).reshape(shape)
        hi = np.asarray(self.s1_db_max, np.float32).reshape(shape)
        out = np.fmax(db, lo, out=db if in_place else None)  # fmax and fmin clip and send NaN to lo
        np.fmin(out, hi, out=out)
        out -= lo
        out /= hi - lo
        out *= np.float32(self.s1_scale)
        return out

    def optical(
        self, dn: np.ndarray, *, offset: int = 0, in_place: bool = False, nan_masked: bool = False
    ) -> np.ndarray:
        """Map S2 DN (uint16 or float) to float32 network input; `in_place` as for `sar`.

        `offset` is the product's radiometric add-offset in DN (reflectance = (DN + offset) / 10000):
        0 for SEN12MS-CR and products before processing baseline 04.00, S2_BASELINE_04_OFFSET after.
        NaN becomes reflectance 0, unless `nan_masked` (the caller replaces those pixels itself): then
        one clipping pass, which leaves NaN as it is, does instead of two; other values come out the same.
        """
        dn = np.asarray(dn, dtype=np.float32)
        low, high = np.float32(0 - offset), np.float32(self.s2_dn_max - offset)
        if nan_masked:
            out = np.clip(dn, low, high, out=dn if in_place else None)
        else:
            out = np.fmax(dn, low, out=dn if in_place else None)  # clips; NaN becomes reflectance 0
            np.fmin(out, high, out=out)
        if offset:
            out += np.float32(offset)
        out /= np.float32(self.s2_divisor)
        return out

    def reflectance(self, optical: np.ndarray, *, in_place: bool = False) -> np.ndarray:
        """Convert network-scale optical values to top-of-atmosphere reflectance in [0, 1]; `in_place` as for `sar`."""
        optical = np.asarray(optical, np.float32)
        scale = np.float32(self.s2_divisor / S2_DN_MAX)
        return np.multiply(optical, scale, out=optical if in_place else None)

    def to_dn(self, optical: np.ndarray, *, offset: int = 0, in_place: bool = False) -> np.ndarray:
        """Convert network-scale optical values back to Sentinel-2 uint16 DN (reflectance x 10000 - `offset`).

        `offset` is as for `optical`, so that DN come back in the input product's convention; negative
        reflectance becomes 0 in either. With `in_place`, a float32 `optical` is used as scratch space
        on the way.
        """
        optical = np.asarray(optical, np.float32)
        dn = np.multiply(optical, np.float32(self.s2_divisor), out=optical if in_place else None)
        np.rint(dn, out=dn)
        np.clip(dn, 0, 65535 + offset, out=dn)
        if offset:
            dn -= np.float32(offset)
        return dn.astype(np.uint16)

    def to_dict(self) -> dict:
        """A JSON-ready description, as written into engine metadata."""
        return asdict(self)

    def to_json(self) -> str:
        """`to_dict` as compact JSON."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> Preprocessing:
        """Rebuild from `to_dict` output (for example read from an engine's metadata)."""
        try:
            return cls(
                method=str(data["method"]),
                s1_db_min=_two_numbers(data["s1_db_min"]),
                s1_db_max=_two_numbers(data["s1_db_max"]),
                s1_scale=float(data["s1_scale"]),
                s2_dn_max=float(data["s2_dn_max"]),
                s2_divisor=float(data["s2_divisor"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"preprocessing metadata is incomplete or malformed: {exc}") from None


PREPROCESSING: dict[str, Preprocessing] = {
    # UnCRtainTS 'default': S1 dB in [-25, 0] -> [0, 1]; S2 in [0, 10000] / 10000.
    "default": Preprocessing("default", (-25.0, -25.0), (0.0, 0.0), 1.0, S2_DN_MAX, 10000.0),
    # DSen2-CR 'resnet': VV in [-25, 0], VH in [-32.5, 0], each -> [0, 2]; S2 / 2000.
    "resnet": Preprocessing("resnet", (-25.0, -32.5), (0.0, 0.0), 2.0, S2_DN_MAX, 2000.0),
}


def _two_numbers(values: Iterable[Any]) -> tuple[float, float]:
    """A (VV, VH) pair read from JSON; ValueError unless it holds two numbers."""
    vv, vh = (float(value) for value in values)
    return vv, vh


def get_preprocessing(method: str) -> Preprocessing:
    """Look up a preprocessing method by name, with an error that lists the valid ones."""
    try:
        return PREPROCESSING[method]
    except KeyError:
        raise ModelError(f"unknown preprocessing {method!r}; choose one of {', '.join(PREPROCESSING)}") from None
