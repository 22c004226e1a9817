"""The run log: one JSON object per line, for every step (loss terms, weights, lr) and epoch (metrics)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, TextIO

from ibhfn.atomic import atomic_path
from ibhfn.errors import InputError


def _plain(value: Any) -> Any:
    """JSON has no inf or NaN: write them as strings, as Python's json reads back with float()."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class JsonlLog:
    """Append-only JSONL writer, flushed after every record so a killed run keeps what it logged."""

    def __init__(self, path: str | os.PathLike, *, keep_through_step: int | None = None) -> None:
        """Open `path`; with `keep_through_step`, first drop records of later steps (a resumed run)."""
        self.path = Path(path)
        if keep_through_step is None:
            self.path.unlink(missing_ok=True)
        elif self.path.exists():
            truncate_log(self.path, keep_through_step)
        self._file: TextIO = open(self.path, "a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        """Append one record."""
        self._file.write(json.dumps({k: _plain(v) for k, v in record.items()}) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every record of a JSONL log; an unreadable last line, what a killed run leaves, is dropped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the run log ({getattr(exc, 'strerror', None) or exc})") from None
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    records = []
    for number, line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == lines[-1][0]:
                break
            raise InputError(f"{path}: line {number} is not JSON ({exc.msg}); the run log is damaged") from None
        if not isinstance(record, dict):
            raise InputError(f"{path}: line {number} is not a JSON object; the run log is damaged")
        records.append(record)
    return records


def truncate_log(path: Path, step: int) -> None:
    """Keep only the records up to `step`, so a resumed run does not log the lost steps twice."""
    kept = [r for r in read_log(path) if r.get("step", 0) <= step]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
