"""Hides what ONNX Runtime's quantizer prints and logs, and nothing else in the process.

The quantizer logs through the root logger (`logging.warning(...)`), through its own named
loggers, and prints progress with `print()`. Inside `hidden_quantizer_messages()` the root logger
keeps its level and handlers: a filter drops only the records whose source file lies in
`onnxruntime.quantization`, and its named loggers are raised to ERROR. Standard output is replaced
by a stand-in that drops what the calling thread prints while every other thread prints through;
the stand-in is removed when the last such block ends.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import onnxruntime.quantization

QUANTIZER_FOLDER = str(Path(onnxruntime.quantization.__file__).resolve().parent)
QUANTIZER_LOGGER = "onnxruntime.quantization"  # parent of the quantizer's named loggers


class QuantizerRecords(logging.Filter):
    """Drops log records written by a source file of ONNX Runtime's quantizer."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(Path(record.pathname).resolve()).startswith(QUANTIZER_FOLDER)


class MutedThreads:
    """A stand-in for sys.stdout that drops the writes of the muted threads and passes on every other."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.muted: Counter[int] = Counter()  # thread id -> blocks open in it

    def write(self, text: str) -> int:
        if self.muted[threading.get_ident()] > 0:
            return len(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


_lock = threading.Lock()
_stand_in: MutedThreads | None = None


@contextlib.contextmanager
def muted_stdout() -> Iterator[None]:
    """Drop what this thread prints; other threads print as before."""
    global _stand_in
    with _lock:
        if _stand_in is None:
            _stand_in = MutedThreads(sys.stdout)
            sys.stdout = _stand_in
        stand_in = _stand_in
        stand_in.muted[threading.get_ident()] += 1
    try:
        yield
    finally:
        with _lock:
            stand_in.muted[threading.get_ident()] -= 1
            if not +stand_in.muted and sys.stdout is stand_in:
                sys.stdout = stand_in.stream
                _stand_in = None


@contextlib.contextmanager
def hidden_quantizer_messages() -> Iterator[None]:
    """Hide the quantizer's log records and prints inside the block; the caller reports what matters."""
    root, named = logging.getLogger(), logging.getLogger(QUANTIZER_LOGGER)
    records, level = QuantizerRecords(), named.level
    # logging.warning() would install a stderr handler on a root logger that has none (basicConfig)
    placeholder = logging.NullHandler() if not root.handlers else None
    if placeholder is not None:
        root.addHandler(placeholder)
    root.addFilter(records)
    named.setLevel(logging.ERROR)
    try:
        with muted_stdout():
            yield
    finally:
        named.setLevel(level)
        root.removeFilter(records)
        if placeholder is not None:
            root.removeHandler(placeholder)
